"""Auditing examples: where a policy's determination differs from the original assessment's.

An example whose case file records ``assessment:`` (the verdict of the
assessment it was read from) is decided under a policy, and every verdict the
assessment recorded is compared with the engine's determination of the same
level, item or outcome.  For a difference the audit names the criteria that
cause it, straight from the ``Decision``:

* the engine put the subject **lower** than the assessment (``none`` against
  ``fusion``, ``not_medically_necessary`` against ``medically_necessary``):
  the criteria that stand in its way (``engine.presenting.terminal.blocking``: those a
  what-if line needs, or that rest on a determination not given; a failing
  criterion beside a met alternative is in nobody's way), and the engine's
  ``would_change`` sets that reach at least the assessment's verdict;
* the engine put it **higher**: the criteria reported on it as ``met``;
* the policy left an item ``not_addressed``: no criterion speaks to it;
* the **outcome** differs: it follows from the levels and items, so the
  audit lists the subjects that differ.

The JSON form is documented in docs/case-format.md (section "The original
assessment: `assessment`").
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from engine.deciding.decision import DETERMINATIONS, OUTCOMES, CriterionResult, Decision, WouldChange
from engine.deciding.errors import UserError
from engine.presenting.terminal import blocking

if TYPE_CHECKING:
    from engine.deciding.policy import Policy
    from facts.model import Case

#: The repository's examples, beside the engine package.
DEFAULT_EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"

#: Each kind of verdict, from least to most granted.
RANKS: dict[str, tuple[str, ...]] = {
    "level": DETERMINATIONS,
    "item": ("not_medically_necessary", "medically_necessary"),
    "outcome": tuple(reversed(OUTCOMES)),
}

LOWER, HIGHER, NOT_ADDRESSED = "lower", "higher", "not_addressed"


@dataclass(frozen=True)
class Comparison:
    """One verdict of the assessment beside the engine's determination of the same subject."""

    subject: str  # a level ("L4-L5"), an item key ("interbody_device@L5-S1", "rhbmp2") or "outcome"
    kind: str  # "level", "item" or "outcome"
    assessment: str
    engine: str
    direction: str | None = None  # None when they agree; else "lower", "higher" or "not_addressed"
    criteria: tuple[CriterionResult, ...] = ()
    would_change: tuple[WouldChange, ...] = ()
    because: tuple[str, ...] = ()  # for the outcome: the subjects that differ

    @property
    def agrees(self) -> bool:
        return self.direction is None


@dataclass(frozen=True)
class ExampleAudit:
    path: Path
    case: str
    source: str | None = None
    decision: Decision | None = None
    comparisons: tuple[Comparison, ...] = ()
    not_recorded: tuple[str, ...] = ()  # subjects the engine decided that the assessment has no verdict on
    skipped: str | None = None

    @property
    def differences(self) -> tuple[Comparison, ...]:
        return tuple(c for c in self.comparisons if not c.agrees)


@dataclass(frozen=True)
class Audit:
    examples: tuple[ExampleAudit, ...]

    @property
    def audited(self) -> tuple[ExampleAudit, ...]:
        return tuple(e for e in self.examples if e.skipped is None)

    @property
    def differences(self) -> int:
        return sum(len(e.differences) for e in self.examples)


# ---------------------------------------------------------------------------
# Finding and comparing
# ---------------------------------------------------------------------------


def example_files(refs: tuple[str, ...] = ()) -> list[Path]:
    """The case files named, a folder's ``*.yaml`` and ``*.json``, or every file in examples/."""
    refs = refs or (str(DEFAULT_EXAMPLES_DIR),)
    files: list[Path] = []
    for ref in refs:
        path = Path(ref)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml", ".json") and p.is_file())
            if not found:
                raise UserError(f"{ref}: no case files (*.yaml, *.json) in this folder")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise UserError(f"{ref}: no such file or folder: check the path (give case files or a folder of them)")
    return list(dict.fromkeys(files))


def _dominated(w: WouldChange, others: tuple[WouldChange, ...]) -> bool:
    """Every set ``w`` stands for holds a smaller set some other line stands for."""
    smaller = [frozenset(alt) for o in others for alt in o.alternatives]
    return all(any(s < frozenset(alt) for s in smaller) for alt in w.alternatives)


def _reaching(changes: tuple[WouldChange, ...], kind: str, verdict: str) -> tuple[WouldChange, ...]:
    """The sets that bring the subject to at least ``verdict``, without a set that holds a smaller one."""
    rank = RANKS[kind]
    reach = tuple(w for w in changes if w.determination in rank and rank.index(w.determination) >= rank.index(verdict))
    return tuple(w for w in reach if not _dominated(w, reach))


def _compare(kind: str, subject: str, verdict: str, engine: str, criteria: tuple[CriterionResult, ...],
             changes: tuple[WouldChange, ...], blockers: tuple[CriterionResult, ...] = ()) -> Comparison:
    if verdict == engine:
        return Comparison(subject, kind, verdict, engine)
    rank = RANKS[kind]
    if engine not in rank:  # an item the policy has no criterion for
        return Comparison(subject, kind, verdict, engine, NOT_ADDRESSED, criteria)
    if rank.index(engine) < rank.index(verdict):
        return Comparison(subject, kind, verdict, engine, LOWER, blockers, _reaching(changes, kind, verdict))
    return Comparison(subject, kind, verdict, engine, HIGHER, tuple(c for c in criteria if c.status == "met"))


def compare(case: Case, decision: Decision, path: Path) -> ExampleAudit:
    """Every verdict the case's assessment records, against the decision."""
    assessment = case.assessment
    comparisons: list[Comparison] = []
    not_recorded: list[str] = []
    verdicts = assessment.levels or {}
    for lv in decision.levels:
        if lv.level in verdicts:
            comparisons.append(_compare("level", lv.level, verdicts[lv.level], lv.determination, lv.criteria,
                                        lv.would_change, tuple(blocking(decision, lv))))
        else:
            not_recorded.append(lv.level)
    verdicts = assessment.items or {}
    decided = set()
    for it in decision.items:
        key = it.item if it.level is None else f"{it.item}@{it.level}"
        decided.add(key)
        if key in verdicts:
            comparisons.append(_compare("item", key, verdicts[key], it.determination, it.criteria,
                                        it.would_change, tuple(blocking(decision, it))))
        else:
            not_recorded.append(key)
    for key in verdicts:  # requested (the case model checks), but not decided by this policy
        if key not in decided:
            comparisons.append(Comparison(key, "item", verdicts[key], "not_decided", NOT_ADDRESSED))
    if assessment.outcome is not None:
        outcome = _compare("outcome", "outcome", assessment.outcome, decision.outcome, (), ())
        if not outcome.agrees:
            because = tuple(c.subject for c in comparisons if not c.agrees)
            outcome = Comparison("outcome", "outcome", outcome.assessment, outcome.engine, outcome.direction, because=because)
        comparisons.append(outcome)
    else:
        not_recorded.append("outcome")
    return ExampleAudit(path, case.case, assessment.source, decision, tuple(comparisons), tuple(not_recorded))


def audit_events(paths: list[Path], policy: Policy) -> Iterator[ExampleAudit]:
    """Each example decided and compared, one at a time; the ones without an assessment skipped.

    Every file is read before anything is decided, so a bad file stops the
    audit with its problems (``CaseFileError``) and nothing else.
    """
    from engine.deciding.solver import Engine
    from facts import load_case

    cases = [(path, load_case(path)) for path in paths]
    if not any(case.assessment is not None for _, case in cases):
        names = ", ".join(_shown(p) for p in paths)
        raise UserError(f"nothing to audit: {names} records no `assessment:`; "
                        "add the original assessment's verdict (see docs/case-format.md)")
    engine = Engine(policy)
    for path, case in cases:
        if case.assessment is None:
            yield ExampleAudit(path, case.case, skipped="the file records no assessment (no `assessment:`)")
            continue
        yield compare(case, engine.decide(case), path)


def audit(paths: list[Path], policy: Policy) -> Audit:
    """Decide every example that records an assessment and compare; the others are skipped."""
    return Audit(tuple(audit_events(paths, policy)))


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------


def to_json(result: Audit) -> dict[str, Any]:
    from engine.presenting.render import change_json, criterion_json

    policy = next(e.decision.policy for e in result.audited)
    examples = []
    for e in result.examples:
        entry: dict[str, Any] = {"file": _shown(e.path), "case": e.case}
        if e.skipped is not None:
            entry["skipped"] = e.skipped
            examples.append(entry)
            continue
        entry["source"] = e.source
        entry["agrees"] = not e.differences
        entry["differences"] = len(e.differences)
        compared = []
        for c in e.comparisons:
            row: dict[str, Any] = {"subject": c.subject, "kind": c.kind, "assessment": c.assessment,
                                   "engine": c.engine, "agrees": c.agrees}
            if not c.agrees:
                row["direction"] = c.direction
                if c.kind == "outcome":
                    row["because"] = list(c.because)
                else:
                    row["criteria"] = [criterion_json(x) for x in c.criteria]
                    row["would_change"] = [change_json(w) for w in c.would_change]
            compared.append(row)
        entry["compared"] = compared
        entry["not_recorded"] = list(e.not_recorded)
        examples.append(entry)
    return {
        "policy": {"id": policy.id, "version": policy.version, "effective": policy.effective},
        "examples": examples,
        "summary": {
            "examples": len(result.examples),
            "audited": len(result.audited),
            "skipped": len(result.examples) - len(result.audited),
            "differing": sum(1 for e in result.audited if e.differences),
            "differences": result.differences,
        },
    }


def _agreements(comparisons: list[Comparison]) -> str:
    """Agreeing verdicts condensed: subjects with the same verdict share it."""
    groups: dict[tuple[str, str], list[str]] = {}
    for c in comparisons:
        groups.setdefault((c.kind, c.assessment), []).append(c.subject)
    parts = []
    for (kind, verdict), subjects in groups.items():
        parts.append(f"outcome {verdict}" if kind == "outcome" else f"{', '.join(subjects)} {verdict}")
    return "; ".join(parts)


def to_text(result: Audit) -> str:
    from engine.presenting.terminal import changes_lines as _changes_lines, criterion_lines as _criterion_lines, plain as _plain

    def _det(value: str) -> str:  # the names an assessment file uses
        return click.style(value, bold=True)

    policy = next(e.decision.policy for e in result.audited)
    out = [f"Assessments audited under {policy.id} {policy.version} (effective {policy.effective})", ""]
    for e in result.examples:
        head = f"{click.style(_plain(e.case), bold=True)}  {_plain(_shown(e.path))}"
        if e.skipped is not None:
            out += [head, f"  - skipped: {e.skipped}", ""]
            continue
        n = len(e.differences)
        verdict = click.style("agrees", fg="green") if not n else click.style(f"{n} difference{'s' * (n != 1)}", fg="red")
        out.append(f"{head}  (assessment: {_plain(e.source or '')}): {verdict}")
        agreeing = [c for c in e.comparisons if c.agrees]
        if agreeing:
            out.append(f"  {click.style('✓', fg='green')} agrees: {_agreements(agreeing)}")
        for c in e.differences:
            mark = click.style("✗", fg="red")
            out.append(f"  {mark} {click.style(c.subject, bold=True)}: assessment {_det(c.assessment)}, "
                       f"{policy.id} {_det(c.engine)} ({_direction_text(c)})")
            if c.kind == "outcome":
                if c.because:
                    out.append(f"      follows from: {', '.join(c.because)}")
                continue
            if c.direction == NOT_ADDRESSED:
                out.append("      ? the policy has no criterion for this item")
            for crit in c.criteria:
                out.extend(_criterion_lines(crit, c.subject, "      "))
            out.extend(_changes_lines(c.would_change, c.subject, "      "))
        if e.not_recorded:
            out.append(f"  · not in the assessment: {', '.join(e.not_recorded)}")
        out.append("")
    audited = result.audited
    differing = sum(1 for e in audited if e.differences)
    skipped = len(result.examples) - len(audited)
    summary = (f"{len(audited)} example{'s' * (len(audited) != 1)} audited, {differing} differ"
               f"{'s' * (differing == 1)} ({result.differences} difference{'s' * (result.differences != 1)})")
    if skipped:
        summary += f", {skipped} skipped"
    out.append(summary)
    return "\n".join(out) + "\n"


def _direction_text(c: Comparison) -> str:
    if c.direction == NOT_ADDRESSED:
        return "the policy does not address it"
    less = c.direction == LOWER
    text = "the engine grants less" if less else "the engine grants more"
    if c.kind == "outcome":
        return text
    return text + (", because of the criteria in its way" if less else ", because of the criteria met")
