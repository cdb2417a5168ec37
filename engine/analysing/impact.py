"""The impact of an edit on real cases: a case library decided under two policies.

``necessity diff A B --cases LIBRARY`` reads the library the way ``batch``
does (a folder of case files, or JSON Lines), decides each chunk of cases
under both policies from one grounding each (``Engine.decide_many``), in
worker processes with ``--jobs``, and compares the two decisions of every
case: its outcome, each level's determination and each item's.  A case one
policy cannot decide (no answer, or several) while the other can has changed
too; a record that cannot be read is an error, counted apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from engine.deciding.many import CHUNK, Item, chunks, in_workers, one_line_error
from engine.deciding.errors import PolicyError
from facts.load import CaseFileError, parse_case


@dataclass(frozen=True)
class Verdict:
    """One case under one policy: what it decided, or why it could not."""

    outcome: str = ""
    levels: tuple[tuple[str, str], ...] = ()
    items: tuple[tuple[str, str], ...] = ()
    error: str = ""


@dataclass(frozen=True)
class Row:
    source: str
    case: str  # the case id, "" when the record could not be read
    a: Verdict | None
    b: Verdict | None
    error: str = ""  # the record itself is bad


@dataclass(frozen=True)
class Change:
    source: str
    case: str
    outcome: tuple[str, str] | None
    levels: tuple[tuple[str, str, str], ...]  # (level, a, b)
    items: tuple[tuple[str, str, str], ...]  # (item key, a, b)
    errors: tuple[str, str] = ("", "")  # a policy that could not decide it


def _verdict(decision: Any) -> Verdict:
    if isinstance(decision, PolicyError):
        return Verdict(error=str(decision))
    return Verdict(
        decision.outcome,
        tuple((lv.level, lv.determination) for lv in decision.levels),
        tuple((it.item if it.level is None else f"{it.item}@{it.level}", it.determination) for it in decision.items),
    )


class PairDecider:
    """Decides chunks of items under two policies."""

    def __init__(self, ref_a: str, ref_b: str, policies_dir: str | None):
        from engine.deciding.policy import load
        from engine.deciding.solver import Engine

        self.engines = (Engine(load(ref_a, policies_dir)), Engine(load(ref_b, policies_dir)))

    def prepare(self) -> None:
        for engine in self.engines:
            engine.prepare_batch()

    def __call__(self, chunk: list[Item]) -> list[Row]:
        rows: list[Row | None] = [None] * len(chunk)
        cases, where = [], []
        for i, item in enumerate(chunk):
            if item.error is not None:
                rows[i] = Row(item.source, "", None, None, item.error)
                continue
            try:
                cases.append(parse_case(item.text or "", item.source, fmt=item.fmt))
                where.append(i)
            except CaseFileError as exc:
                rows[i] = Row(item.source, "", None, None, one_line_error(exc) if item.in_lines else exc.render())
        decided = [engine.decide_many(cases, explain=False, would_change=False) for engine in self.engines]
        for i, case, da, db in zip(where, cases, *decided):
            rows[i] = Row(chunk[i].source, case.case, _verdict(da), _verdict(db))
        return [r for r in rows if r is not None]


def change(row: Row) -> Change | None:
    """How the two verdicts of one case differ, or None when they agree."""
    a, b = row.a, row.b
    if a is None or b is None:
        return None
    if a.error or b.error:
        if a.error and b.error:
            return None
        return Change(row.source, row.case, None, (), (), (a.error, b.error))
    outcome = (a.outcome, b.outcome) if a.outcome != b.outcome else None
    la, lb = dict(a.levels), dict(b.levels)
    levels = tuple((lv, la[lv], lb[lv]) for lv in la if lv in lb and la[lv] != lb[lv])
    ia, ib = dict(a.items), dict(b.items)
    items = tuple((key, ia.get(key, "not_decided"), ib.get(key, "not_decided"))
                  for key in dict.fromkeys([*ia, *ib]) if ia.get(key) != ib.get(key))
    if outcome is None and not levels and not items:
        return None
    return Change(row.source, row.case, outcome, levels, items)


@dataclass
class Impact:
    a: str
    b: str
    a_version: str = ""
    b_version: str = ""
    cases: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)  # (source, message): records that cannot be read
    changes: list[Change] = field(default_factory=list)
    timed_out: bool = False
    seconds: float = 0.0

    @property
    def changed(self) -> int:
        return len(self.changes)

    def add(self, row: Row) -> None:
        self.cases += 1
        if row.error:
            self.errors.append((row.source, row.error))
            return
        found = change(row)
        if found is not None:
            self.changes.append(found)

    def transitions(self, what: str) -> list[tuple[tuple[str, ...], list[Change]]]:
        """Changed cases grouped by transition: (a, b) for outcomes and levels, (item, a, b) for items."""
        groups: dict[tuple[str, ...], list[Change]] = {}
        for c in self.changes:
            if what == "outcomes":
                keys = [c.outcome] if c.outcome else []
            elif what == "levels":
                keys = [(a, b) for _lv, a, b in c.levels]
            elif what == "items":
                keys = [(key.partition("@")[0], a, b) for key, a, b in c.items]
            else:
                keys = [("no answer" if c.errors[0] else "an answer", "no answer" if c.errors[1] else "an answer")] \
                    if any(c.errors) else []
            for key in dict.fromkeys(keys):
                groups.setdefault(key, []).append(c)
        return sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))


def impact(items: Iterator[Item], ref_a: str, ref_b: str, *, policies_dir: str | None = None, jobs: int = 1,
           timeout: float | None = None, progress: Callable[[int], None] | None = None,
           chunk_size: int = CHUNK) -> Impact:
    """Every case of ``items`` decided under both policies and compared, in input order."""
    import time

    from engine.deciding.policy import load

    pa, pb = load(ref_a, policies_dir), load(ref_b, policies_dir)
    result = Impact(pa.id, pb.id, pa.version, pb.version)
    decider = PairDecider(ref_a, ref_b, policies_dir)
    start = time.perf_counter()

    def emit(rows: list[Row]) -> None:
        for row in rows:
            result.add(row)
        if progress is not None:
            progress(len(rows))

    if jobs <= 1 and timeout is None:
        for chunk in chunks(items, chunk_size):
            emit(decider(chunk))
    else:
        decider.prepare()
        deadline = None if timeout is None else start + timeout
        result.timed_out = not in_workers(items, decider, emit, deadline, max(jobs, 1), chunk_size)
    result.seconds = time.perf_counter() - start
    return result
