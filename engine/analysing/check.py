"""Checks on one policy over the bounded case space, decided by the solver.

* totality: on every case in the space the policy has exactly one answer, and
  it gives every requested level and item exactly one determination;
* dead criteria: a criterion that no case in the space meets;
* irrelevant criteria: a criterion whose holding never changes any
  determination (the policy decided twice, once with the criterion forced to
  hold, and no case in the space tells the two apart).

The program comes from engine/analysing/analysis.py: the policy twice (``a__`` as
written, ``b__`` for the relevance question), each with its constraints
relaxed into a flag, so that a case on which the policy has no answer is a
counterexample the solver can find.  Each question is one solve under an
assumption; the answers stream out as events (``check_events``) so that a
command stopped by its time limit still reports every question answered.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from clingo import Function, String, Symbol, SymbolType

from engine.analysing.analysis import Analysis, Gaps, answers_differ_rules, gaps_meanwhile
from engine.deciding.errors import PolicyError
from engine.deciding.policy import Policy
from engine.deciding.grounding import _Grounded
from engine.deciding.search import Search
from engine.analysing.sample import TOTAL, Refutation, check_refutations, dead_claim, outcomes_meanwhile
from engine.analysing.space import Bounds
from engine.analysing.witness import round_trip_mismatch, to_case
from engine.authoring.testrun import coverable_sides
from engine.deciding.transform import VIOLATED
from facts import anatomy, case_atoms, parse_case
from facts.vocabulary import PREDICATES

CHECK_RULES = f"""
% totality: an answer, and in it one determination per requested level and item
% (several answers are asked of two copies, where the rules allow them)
wrong_count(level(L)) :- a__requested_level(L), #count {{ D : a__determination(L, D) }} != 1.
wrong_count(item(I, W)) :- a__item_requested(I, W), #count {{ D : a__item_determination(I, W, D) }} != 1.
no_answer :- a__{VIOLATED}.
#external ask_totality.
:- ask_totality, not wrong_count(_), not no_answer.

% dead criteria: ask that criterion C be met on a case the policy answers
#external ask_met(C) : a__criterion(C, _, _).
met_somewhere(C) :- a__status(C, _, met).
:- ask_met(C), not met_somewhere(C).
:- ask_met(_), no_answer.

% irrelevant criteria: copy b holds C wherever it is judged (assumed where its
% rules do not meet it, as the what-if solves of explain assume it); ask that
% this change some determination
#external ask_relevant(C) : a__criterion(C, _, _).
b__whatif :- ask_relevant(_).
:- ask_relevant(C), b__evaluated(C, S), b__leaf(C), not b__assumed(C, S), not b__met(C, S).
:- b__assumed(C, S), not ask_relevant(C).
changed :- a__determination(L, D1), b__determination(L, D2), D1 != D2.
changed :- a__item_determination(I, W, D1), b__item_determination(I, W, D2), D1 != D2.
:- ask_relevant(_), not changed.
:- ask_relevant(_), no_answer.
:- ask_relevant(_), b__{VIOLATED}.
"""

#: enough levels for every kind of rule: a thoracolumbar level, two adjacent
#: lumbar levels (multilevel rules) and the sacropelvic segment
CHECK_LEVELS = ("T12-L1", "L4-L5", "L5-S1", "S1-pelvis")

Event = tuple[Any, ...]


@dataclass
class CheckResult:
    """The answers to a check's questions, as they arrive, and what they prove."""

    policy: str
    version: str
    criteria: tuple[str, ...] = ()
    bounds: Bounds | None = None
    gaps: Gaps | None = None  # None until the search's limits were looked at (a time limit may come first)
    totality_asked: bool = False
    totality_witness: dict | None = None
    totality_why: str = ""
    several_asked: bool = False  # a policy that may give several answers: asked with two copies
    met: dict[str, bool] = field(default_factory=dict)  # criterion -> met on some case
    can_meet: dict[str, bool] = field(default_factory=dict)  # criterion -> has a met rule at all
    relevant: dict[str, dict | None] = field(default_factory=dict)  # criterion -> witness, or None
    unchecked: list[tuple[str, str]] = field(default_factory=list)  # (criterion, reason)
    problems: list[str] = field(default_factory=list)
    stopped: str = ""  # why the check ended early: a time or memory limit
    #: the second line of defence: how many cases no search chose were decided, and those that refute a proof
    sampled: int = 0
    refuted: list[Refutation] = field(default_factory=list)

    def _refuted(self, claim: str) -> Refutation | None:
        return next((r for r in self.refuted if r.claim == claim), None)

    def add(self, event: Event) -> None:
        kind = event[0]
        if kind == "sampled":
            self.sampled, self.refuted = event[1], list(event[2])
        elif kind == "bounds":
            self.bounds = event[1]
        elif kind == "gaps":
            self.gaps = event[1]
        elif kind == "totality":
            self.totality_asked = True
            if event[1] is not None and self.totality_witness is None:
                self.totality_witness, self.totality_why = event[1], event[2]
        elif kind == "several":
            self.several_asked = True
            if event[1] is not None and self.totality_witness is None:
                self.totality_witness, self.totality_why = event[1], event[2]
        elif kind == "met":
            self.met[event[1]], self.can_meet[event[1]] = event[2], event[3]
        elif kind == "relevant":
            self.relevant[event[1]] = event[2]
        elif kind == "unchecked":
            self.unchecked.append((event[1], event[2]))
        elif kind == "problem":
            self.problems.append(event[1])

    # -- what the answers prove ---------------------------------------------------

    def _unproved(self) -> str:
        if self.gaps is None:
            return "the search's limits were not established before it stopped"
        return "; ".join(self.gaps.reasons())

    @property
    def totality(self) -> str:
        """counterexample, proved, not_proved, or unanswered."""
        if self.totality_witness is not None:
            return "counterexample"
        if not self.totality_asked:
            return "unanswered"
        if self.gaps is None or self.gaps.answers_unproved or (self.gaps.unstratified and not self.several_asked):
            return "not_proved"
        if self._refuted(TOTAL) is not None or not self.sampled:
            return "not_proved"
        return "proved"

    @property
    def totality_not_proved_why(self) -> str:
        if self.totality != "not_proved":
            return ""
        refuted = self._refuted(TOTAL)
        if refuted is not None and not (self.gaps is None or self.gaps.answers_unproved):
            return refuted.text()
        if not self.sampled and self.gaps is not None and not self.gaps.answers_unproved:
            return "no case outside the search was decided to confirm it"
        return self._unproved()

    @property
    def dead(self) -> list[tuple[str, bool, str]]:
        """(criterion, proved, why) for every criterion no case within the bounds meets."""
        out = []
        for cid, found in self.met.items():
            if found or not self.can_meet.get(cid, True):
                continue
            why = "no case within the bounds meets it"
            rests_on = self.gaps.met_unproved(cid) if self.gaps else ()
            if self.gaps is None:
                out.append((cid, False, f"{why}; not proved: {self._unproved()}"))
            elif rests_on:
                out.append((cid, False, f"{why}; not proved: it rests on {', '.join(rests_on)}, "
                                        "which the case space does not generate"))
            elif self.gaps.not_modelled or self.gaps.unfollowed:
                out.append((cid, False, f"{why}; not proved: {self._unproved()}"))
            elif (refuted := self._refuted(dead_claim(cid))) is not None:
                out.append((cid, False, f"{why}; not proved: {refuted.text()}"))
            else:
                out.append((cid, True, why))
        return out

    @property
    def intended_dead(self) -> list[str]:
        return [cid for cid, found in self.met.items() if not found and not self.can_meet.get(cid, True)]

    @property
    def irrelevant(self) -> list[tuple[str, bool, str]]:
        """(criterion, proved, why not proved) for every leaf criterion whose holding changes nothing."""
        # where the rules may leave a case without an answer, forcing a criterion may do so unseen
        unproved = self.gaps is None or bool(self.gaps.not_generated or self.gaps.not_modelled or self.gaps.unstratified
                                             or self.gaps.unfollowed)
        return [(cid, not unproved, self._unproved() if unproved else "")
                for cid, witness in self.relevant.items() if witness is None]

    @property
    def relevant_witness(self) -> dict[str, dict]:
        return {cid: w for cid, w in self.relevant.items() if w is not None}

    @property
    def findings(self) -> int:
        return int(self.totality_witness is not None) + len(self.dead) + len(self.irrelevant) + len(self.refuted)

    @property
    def unanswered(self) -> list[str]:
        """The questions left without an answer, by name."""
        out = [] if self.totality_asked else ["totality"]
        return out + [c for c in self.criteria if c not in self.met]

    @property
    def complete(self) -> bool:
        """Every question answered and every "no" a proof."""
        return (not self.unanswered and self.totality in ("proved", "counterexample")
                and all(p for _, p, _ in self.dead) and all(p for _, p, _ in self.irrelevant))


def check(policy: Policy, *, levels: tuple[str, ...] = CHECK_LEVELS, sample_size: int | None = None) -> CheckResult:
    """Every question answered, in this process."""
    result = CheckResult(policy.id, policy.version, tuple(c.id for c in policy.criteria))
    for event in check_events(policy, levels=levels, sample_size=sample_size):
        result.add(event)
    return result


def _witness(search: Search, model: tuple[Symbol, ...], question: list[Symbol]) -> tuple[Symbol, ...]:
    """The model made small: the fewest documented facts among those it has (a check asks many
    questions, and the smallest witness of all can take long to prove smallest)."""
    counted = search.atoms("documentation_fact", 1) + search.atoms("request_fact", 1)
    return search.smallest(question, within=model, counted=counted) or model


def _case(case_id: str, model: tuple[Symbol, ...], problems: list[str]) -> tuple[dict, Any]:
    record = to_case(case_id, model)
    case = parse_case(json.dumps(record), f"{case_id} (generated)", fmt="json")
    mismatch = round_trip_mismatch(model, list(anatomy()) + list(case_atoms(case)))
    if mismatch:
        problems.append(f"{case_id}: the case file does not reproduce the searched facts: {sorted(mismatch)[:6]}")
    return record, case


def totality_failure(policy: Policy, case: Any) -> str:
    """What the engine makes of a totality counterexample: no answer, several, or a wrong count."""
    atoms = list(anatomy()) + list(case_atoms(case))
    try:
        models = _Grounded.case(policy, atoms).solve([(Function("whatif"), False)])
    except PolicyError as exc:
        return f"the policy cannot be decided on it: {exc}"
    if len(models) != 1:
        return f"the policy gives {len(models)} answers for it"
    requested = {lv.level for lv in case.request.levels}
    counts: dict[str, int] = {lv: 0 for lv in requested}
    items: dict[str, int] = {(it.item.value if it.level is None else f"{it.item.value}@{it.level}"): 0
                             for it in case.request.items}
    for s in models[0]:
        if s.name == "determination":
            counts[s.arguments[0].string] = counts.get(s.arguments[0].string, 0) + 1
        elif s.name == "item_determination":
            item, where = s.arguments[0].name, s.arguments[1]
            key = item if where.type != SymbolType.String else f"{item}@{where.string}"
            items[key] = items.get(key, 0) + 1
    wrong = [f"{lv} has {n} determinations" for lv, n in sorted(counts.items()) if n != 1]
    wrong += [f"item {i} has {n} determinations" for i, n in sorted(items.items()) if n != 1]
    return "; ".join(wrong) or ENGINE_DISAGREES


ENGINE_DISAGREES = "the engine decides it with one determination each"


def check_events(policy: Policy, *, levels: tuple[str, ...] = CHECK_LEVELS, sample_size: int | None = None
                 ) -> Iterator[Event]:
    """The search's events, and last the sample's (``sample_size`` generated records: engine/analysing/sample.py)."""
    outcomes = outcomes_meanwhile(policy, sample_size)  # the second line of defence, decided on another core
    try:
        yield from _check_events(policy, levels, sample_size, outcomes)
    finally:
        outcomes.cancel()  # type: ignore[attr-defined]


def _check_events(policy: Policy, levels: tuple[str, ...], sample_size: int | None, outcomes) -> Iterator[Event]:
    analysis = Analysis([policy], levels, approaches=2)
    yield ("bounds", analysis.bounds)
    gaps_found = gaps_meanwhile([policy], analysis.bounds.levels, analysis.bounds.approaches_per_level)
    shown = [p.signature for p in PREDICATES] + ["documentation_fact/1", "request_fact/1"]
    search = analysis.search([("a__", policy), ("b__", policy)], CHECK_RULES, shown)
    problems: list[str] = []

    def flush() -> Iterator[Event]:
        while problems:
            yield ("problem", problems.pop(0))

    ask = [Function("ask_totality")]
    model = search.first(ask)
    total = model is None
    never_met: list[str] = []
    if model is None:
        yield ("totality", None, "")
    else:
        record, case = _case(f"check-{policy.id}-totality", _witness(search, model, ask), problems)
        why = totality_failure(policy, case)
        if why == ENGINE_DISAGREES:
            problems.append(f"{record['case']}: the solver's counterexample to totality did not survive re-deciding it")
        yield ("totality", record, why)
    yield from flush()

    sides = coverable_sides(policy)
    leafs = {s.arguments[0].string for s in search.atoms("a__leaf", 1)}
    for c in policy.criteria:
        can_meet, _ = sides.get(c.id, (True, True))
        model = search.first([Function("ask_met", [String(c.id)])])
        if model is None and can_meet:
            never_met.append(c.id)
        yield ("met", c.id, model is not None, can_meet)
        if c.id not in leafs:
            yield ("unchecked", c.id, "composite, waiver, provision, advisory or derived: judged through others")
            continue
        ask = [Function("ask_relevant", [String(c.id)])]
        model = search.first(ask)
        if model is None:
            yield ("relevant", c.id, None)
        else:
            record, _ = _case(f"check-{policy.id}-{c.id}", _witness(search, model, ask), problems)
            yield ("relevant", c.id, record)
        yield from flush()

    # what the search cannot vouch for, and, where the rules allow several answers, a case that has them
    [gaps] = gaps_found()
    yield ("gaps", gaps)
    yield ("sampled", *check_refutations(policy, total, never_met, sample_size, outcomes=outcomes()))
    if gaps.unstratified:
        rules = answers_differ_rules("a__", "c__", policy) + "\n:- not answers_differ.\n"
        two = analysis.search([("a__", policy), ("c__", policy)], rules, shown)
        model = two.first([])
        if model is None:
            yield ("several", None, "")
        else:
            record, case = _case(f"check-{policy.id}-several-answers", model, problems)
            yield ("several", record, totality_failure(policy, case))
        yield from flush()
