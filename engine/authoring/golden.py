"""Golden cases: a case record and what a policy must decide on it.

A golden file is YAML::

    description: what the case exercises, in a sentence
    exercises: [REF-F2]                # criteria the case is about
    record: {case: ..., request: ...}  # the case record, inline
    # or  case_file: ../../examples/source-003.yaml  (repository tests only)
    expect:
      outcome: denied
      levels: {L4-L5: fusion}
      items: {rhbmp2: medically_necessary, interbody_device@L4-L5: medically_necessary}
      criteria: {REF-D4a: not_documented, REF-F2@L4-L5: met}
      would_change:
        - {subject: L4-L5, determination: fusion, requires: [REF-D4a], kind: documentation}
      unchanged_by:
        - {subject: S1-pelvis, requires: [REF-D4a]}

Every key under ``expect`` is optional; what is given must hold exactly.
``would_change`` entries must be among the sets the decision's what-if lines
stand for (a line with ``one_of`` stands for one set per choice), of the
given ``kind`` when one is given (``documentation``, ``contradicted`` or ``contradicted_and_documentation``);
``unchanged_by`` says no alternative for the subject needs exactly that set.
Policy folders keep their goldens inline (``record``), so a policy never
reads a file outside its folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, StrictStr

from engine.deciding.decision import Decision
from engine.deciding.errors import UserError

if TYPE_CHECKING:
    from facts.model import Case


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class _Change(_Shape):
    subject: StrictStr
    determination: StrictStr
    requires: list[StrictStr]
    kind: StrictStr | None = None  # documentation, contradicted or contradicted_and_documentation; any when absent


class _Unchanged(_Shape):
    subject: StrictStr
    requires: list[StrictStr]


class _Expect(_Shape):
    outcome: StrictStr | None = None
    levels: dict[StrictStr, StrictStr] | None = None
    items: dict[StrictStr, StrictStr] | None = None
    criteria: dict[StrictStr, StrictStr] | None = None
    would_change: list[_Change] | None = None
    unchanged_by: list[_Unchanged] | None = None


class _GoldenFile(_Shape):
    """A golden file's own fields; the record inside is a case, validated as one."""

    description: StrictStr = ""
    exercises: list[StrictStr] = []
    record: dict[str, Any] | None = None
    case_file: StrictStr | None = None
    expect: _Expect | None = None


_UNKNOWN = "this field is not part of a golden case: use description, exercises, record (or case_file) and expect"


@dataclass(frozen=True)
class Golden:
    path: Path
    description: str
    exercises: tuple[str, ...]
    record: Case | None
    case_file: Path | None
    expect: dict[str, Any]

    @property
    def name(self) -> str:
        return self.path.stem


@dataclass(frozen=True)
class Mismatch:
    what: str  # e.g. "level L4-L5", "criterion REF-F2@L4-L5"
    expected: str
    actual: str
    criteria: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        ids = f" [{', '.join(self.criteria)}]" if self.criteria else ""
        return f"{self.what}: expected {self.expected}, got {self.actual}{ids}"


def load_golden(path: str | Path, *, allow_case_file: bool = False) -> Golden:
    """A golden file, read by the case-file reader with its limits; its record validated as a case.

    Raises ``CaseFileError`` (file, line, field path) or ``UserError``.
    """
    from facts.document import read_document
    from facts.load import CaseFileError, Problem, read_text, validate
    from facts.model import Case

    path = Path(path)
    source = str(path)
    data, root, found = read_document(read_text(path), source, "yaml")
    if data is None:
        raise CaseFileError(source, [Problem("", None, "the file is empty: a golden case holds record and expect")])
    if not isinstance(data, dict):
        raise CaseFileError(source, found or [Problem("", 1, "a golden case is a mapping with record (or case_file) "
                                                             f"and expect, not a {type(data).__name__}")])
    shape: _GoldenFile = validate(_GoldenFile, data, source, root, unknown_field=_UNKNOWN, found=found)
    if (shape.record is None) == (shape.case_file is None):
        raise UserError(f"{path}: give exactly one of record (inline case) or case_file")
    if shape.case_file is not None and not allow_case_file:
        raise UserError(f"{path}: a policy's golden case must hold its record inline (record:), not case_file")
    record = None
    if shape.record is not None:
        record = validate(Case, shape.record, source, root, at=("record",))
    return Golden(
        path=path,
        description=shape.description,
        exercises=tuple(shape.exercises),
        record=record,
        case_file=(path.parent / shape.case_file).resolve() if shape.case_file else None,
        expect=shape.expect.model_dump(exclude_none=True) if shape.expect else {},
    )


def golden_case(g: Golden) -> Case:
    """The validated case of a golden file."""
    from facts import load_case

    if g.case_file is not None:
        return load_case(g.case_file)
    assert g.record is not None
    return g.record


def subjects(decision: Decision) -> dict[str, Any]:
    out: dict[str, Any] = {lv.level: lv for lv in decision.levels}
    for it in decision.items:
        out[it.item if it.level is None else f"{it.item}@{it.level}"] = it
    return out


def _involved(subject: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(c.id for c in subject.criteria if c.status != "met")) if subject is not None else ()


def check(g: Golden, decision: Decision) -> list[Mismatch]:
    """Every way ``decision`` departs from the golden expectation."""
    exp = g.expect
    out: list[Mismatch] = []
    found = subjects(decision)
    if "outcome" in exp and exp["outcome"] != decision.outcome:
        out.append(Mismatch("outcome", exp["outcome"], decision.outcome))
    for kind in ("levels", "items"):
        for name, want in (exp.get(kind) or {}).items():
            got = found.get(name)
            actual = got.determination if got is not None else "not requested"
            if actual != want:
                out.append(Mismatch(f"{kind[:-1]} {name}", want, actual, _involved(got)))
    for key, want in (exp.get("criteria") or {}).items():
        cid, _, scope = str(key).partition("@")
        actual = decision.status_of(cid, scope or "case") or "not evaluated"
        if actual != want:
            out.append(Mismatch(f"criterion {key}", want, actual, (cid,)))
    for entry in exp.get("would_change") or []:
        got = found.get(entry["subject"])
        sets = _alternative_sets(got)
        want = (entry["determination"], tuple(sorted(entry["requires"])))
        kinds = {kind for d, ids, kind in sets if (d, ids) == want}
        if not kinds or ("kind" in entry and entry["kind"] not in kinds):
            listed = "; ".join(f"{d} with {'+'.join(r)} ({k})" for d, r, k in sorted(sets)) or "nothing"
            wanted = f"{want[0]} with {'+'.join(want[1])}" + (f" ({entry['kind']})" if "kind" in entry else "")
            out.append(Mismatch(f"would_change {entry['subject']}", wanted, listed, want[1]))
    for entry in exp.get("unchanged_by") or []:
        got = found.get(entry["subject"])
        need = tuple(sorted(entry["requires"]))
        hits = [d for d, ids, _ in _alternative_sets(got) if ids == need]
        if hits:
            out.append(Mismatch(f"unchanged_by {entry['subject']}", f"no change from {'+'.join(need)} alone",
                                hits[0], need))
    return out


def _alternative_sets(subject) -> set[tuple[str, tuple[str, ...], str]]:
    """Every set of criterion ids a subject's what-if lines stand for, with its determination and kind."""
    return {
        (w.determination, tuple(sorted({a.criterion for a in members})), w.kind)
        for w in (subject.would_change if subject else ())
        for members in w.alternatives
    }


def discover(folder: Path) -> list[Path]:
    """The golden files of a policy folder (``tests/*.yaml``)."""
    return sorted((folder / "tests").glob("*.yaml"))
