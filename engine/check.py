"""Checks on one policy over the bounded case space, decided by the solver.

* totality: every requested level gets exactly one determination and every
  requested item exactly one, on every case in the space (proved when the
  solver finds no counterexample);
* dead criteria: a criterion that no case in the space meets;
* irrelevant criteria: a criterion whose holding never changes any
  determination (the policy decided twice, once with the criterion forced to
  hold, and no case in the space tells the two apart).

Each finding comes with a witness case or a statement of what was proved.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from clingo import Function, String, Symbol
from clingo import ast

from engine.core import statements as core_statements
from engine.policy import Policy
from engine.solver import Search
from engine.space import Bounds, bounds, space_facts, space_statements, to_case
from engine.testrun import _coverable_sides
from engine.transform import rename_apart
from facts import anatomy
from facts.vocabulary import PREDICATES

CHECK_RULES = """
% totality
wrong_count(level(L)) :- a__requested_level(L), #count { D : a__determination(L, D) } != 1.
wrong_count(item(I, W)) :- a__item_requested(I, W), #count { D : a__item_determination(I, W, D) } != 1.
#external ask_totality.
:- ask_totality, not wrong_count(_).

% dead criteria: ask that criterion C be met somewhere
#external ask_met(C) : a__criterion(C, _, _).
met_somewhere(C) :- a__status(C, _, met).
:- ask_met(C), not met_somewhere(C).

% irrelevant criteria: copy b holds C wherever it is judged; ask that this
% change some determination
#external ask_relevant(C) : a__criterion(C, _, _).
b__whatif :- ask_relevant(_).
:- ask_relevant(C), b__evaluated(C, S), b__leaf(C), not b__assumed(C, S).
:- b__assumed(C, S), not ask_relevant(C).
changed :- a__determination(L, D1), b__determination(L, D2), D1 != D2.
changed :- a__item_determination(I, W, D1), b__item_determination(I, W, D2), D1 != D2.
:- ask_relevant(_), not changed.
"""


@dataclass
class CheckResult:
    policy: Policy
    bounds: Bounds
    totality_witness: dict | None = None
    totality_proved: bool = True  # False when the question ran out of time
    dead: list[tuple[str, str]] = field(default_factory=list)  # (criterion, why)
    intended_dead: list[str] = field(default_factory=list)  # no met rule: exclusions
    irrelevant: list[str] = field(default_factory=list)
    relevant_witness: dict[str, dict] = field(default_factory=dict)
    unchecked: list[tuple[str, str]] = field(default_factory=list)  # (criterion, reason)
    timed_out: list[str] = field(default_factory=list)

    @property
    def findings(self) -> int:
        return int(self.totality_witness is not None) + len(self.dead) + len(self.irrelevant)


def _program(policy: Policy) -> list[ast.AST]:
    """The case space, the policy twice (a: as written, b: for the relevance
    question), and the check rules."""
    statements = list(space_statements())
    copy = list(core_statements()) + list(policy.statements)
    statements += rename_apart(copy, "a__")
    statements += rename_apart(copy, "b__")
    ast.parse_string(CHECK_RULES, statements.append)
    return statements


#: enough levels for every kind of rule: a thoracolumbar level, two adjacent
#: lumbar levels (multilevel rules) and the sacropelvic segment
CHECK_LEVELS = ("T12-L1", "L4-L5", "L5-S1", "S1-pelvis")


def check(policy: Policy, *, levels: tuple[str, ...] = CHECK_LEVELS, timeout: float | None = 30.0) -> CheckResult:
    b = bounds([policy], levels, calendar_windows=True)
    result = CheckResult(policy, b)
    shown = [p.signature for p in PREDICATES]
    # existence is what is asked: the first witness will do, minimal or not
    search = Search(_program(policy), list(anatomy()) + space_facts(b), shown, minimise=False)

    def ask(atom: Symbol) -> tuple[tuple[Symbol, ...] | None, bool]:
        search.ctl.assign_external(atom, True)
        try:
            return search.best(timeout)
        finally:
            search.ctl.assign_external(atom, False)

    model, finished = ask(Function("ask_totality"))
    if model is not None:
        result.totality_witness = to_case(f"check-{policy.id}-totality", model)
    elif not finished:
        result.totality_proved = False
        result.timed_out.append("totality")
    sides = _coverable_sides(policy)
    leafs = {s.arguments[0].string for s in _leaf_criteria(search)}
    for c in policy.criteria:
        can_meet, _ = sides.get(c.id, (True, True))
        model, finished = ask(Function("ask_met", [String(c.id)]))
        if model is None and finished:
            if can_meet:
                result.dead.append((c.id, "no case within the bounds meets it"))
            else:
                result.intended_dead.append(c.id)
        elif model is None:
            result.timed_out.append(c.id)
        if c.id not in leafs:
            result.unchecked.append((c.id, "composite, waiver, provision, advisory or derived: judged through others"))
            continue
        model, finished = ask(Function("ask_relevant", [String(c.id)]))
        if model is None and finished:
            result.irrelevant.append(c.id)
        elif model is None:
            result.timed_out.append(c.id)
        else:
            result.relevant_witness[c.id] = to_case(f"check-{policy.id}-{c.id}", model)
    return result


def _leaf_criteria(search: Search) -> list[Symbol]:
    return [s for s in search.atoms("a__leaf", 1)]
