"""Running a policy's golden cases, and criterion coverage.

Coverage asks, per criterion, whether the goldens made it met at least once
and not met (not_met or not_documented) at least once.  A side that the
policy itself rules out is not counted: a provision is never failed, and a
criterion with no ``met/3`` rule (an exclusion such as "never medically
necessary") is never met.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import clingo

from engine.deciding.decision import Decision
from engine.deciding.errors import UserError
from engine.authoring.golden import Golden, Mismatch, check, discover, golden_case, load_golden
from engine.deciding.policy import Policy
from engine.deciding.predicates import uses
from engine.deciding.solver import Engine
from facts.load import CaseFileError


@dataclass(frozen=True)
class CaseResult:
    golden: Golden
    mismatches: tuple[Mismatch, ...]
    decision: Decision | None
    error: str | None = None

    @property
    def passed(self) -> bool:
        return not self.mismatches and self.error is None


@dataclass(frozen=True)
class CriterionCoverage:
    id: str
    counts: Counter
    needs_met: bool
    needs_not_met: bool

    @property
    def met(self) -> bool:
        return self.counts["met"] > 0

    @property
    def not_met(self) -> bool:
        return self.counts["not_met"] + self.counts["not_documented"] > 0

    @property
    def covered(self) -> bool:
        return (self.met or not self.needs_met) and (self.not_met or not self.needs_not_met)


@dataclass
class PolicyRun:
    policy: Policy
    results: list[CaseResult] = field(default_factory=list)
    coverage: list[CriterionCoverage] = field(default_factory=list)

    @property
    def failed(self) -> list[CaseResult]:
        return [r for r in self.results if not r.passed]

    @property
    def coverage_pct(self) -> float:
        if not self.coverage:
            return 100.0
        return 100.0 * sum(c.covered for c in self.coverage) / len(self.coverage)


def coverable_sides(policy: Policy) -> dict[str, tuple[bool, bool]]:
    """Per criterion: (can it be met, can it fail), from the policy's own rules."""
    met_rules: set[str] = set()
    provisions: set[str] = set()
    for u in uses(list(policy.statements)):
        if not u.head or u.first_arg is None or u.first_arg.type != clingo.SymbolType.String:
            continue
        if u.signature in ("met/3", "formula/2") and not _excluded(u):  # a formula is met as the core evaluates it
            met_rules.add(u.first_arg.string)
        elif u.signature == "provision/1":
            provisions.add(u.first_arg.string)
    sides = {}
    for c in policy.criteria:
        can_meet = c.id in met_rules or c.id in provisions or _is_composite(policy, c.id)
        sides[c.id] = (can_meet, c.id not in provisions)
    return sides


def _excluded(u) -> bool:
    """``formula(Id, excluded(Reason))``: never met (the core's exclusion), as a raw exclusion has no met rule."""
    args = getattr(u.term, "arguments", None) if u.signature == "formula/2" else None
    return bool(args) and len(args) == 2 and getattr(args[1], "name", None) == "excluded"


def _is_composite(policy: Policy, cid: str) -> bool:
    """A whole in some ``part_of(Part, Whole)`` fact: met through its parts."""
    for stm in policy.statements:
        text = str(stm)
        if text.startswith("part_of(") and text.rstrip(".").endswith(f',"{cid}")'):
            return True
    return False


def run_events(policy: Policy, goldens: list[Path] | None = None) -> Iterator[CaseResult]:
    """Each golden case decided and checked, one result at a time."""
    engine = Engine(policy)
    inside = policy.folder.resolve()
    for path in goldens if goldens is not None else discover(policy.folder):
        try:
            if goldens is None and not path.resolve().is_relative_to(inside):
                # a policy never reads a file outside its folder, not even through a link
                raise UserError(f"{path}: a link to a file outside the policy folder: copy the file into the folder")
            golden = load_golden(path)
            decision = engine.decide(golden_case(golden))
        except (UserError, CaseFileError) as exc:  # a broken golden is a failed test, reported, not a crash
            placeholder = Golden(path, "", (), None, None, {})
            yield CaseResult(placeholder, (), None, str(exc))
            continue
        yield CaseResult(golden, tuple(check(golden, decision)), decision)


def finish(policy: Policy, results: Iterable[CaseResult]) -> PolicyRun:
    """The run and its criterion coverage, from the results."""
    run = PolicyRun(policy, list(results))
    counts: dict[str, Counter] = {c.id: Counter() for c in policy.criteria}
    for r in run.results:
        if r.decision is None:
            continue
        for cid, _scope, status in r.decision.statuses:
            counts.setdefault(cid, Counter())[status] += 1
    sides = coverable_sides(policy)
    run.coverage = [
        CriterionCoverage(c.id, counts[c.id], *sides.get(c.id, (True, True))) for c in policy.criteria
    ]
    return run


def run_policy(policy: Policy, goldens: list[Path] | None = None) -> PolicyRun:
    return finish(policy, run_events(policy, goldens))
