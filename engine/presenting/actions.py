"""What a utilization reviewer does with a decision: certify, pend for information, or refer.

The action is read from the decision, never decided here: it follows from
the determination and the statuses the engine gave, mechanically.

Per requested level and item:

* ``certify``: the determination is what was asked (a level that asked for
  fusion got ``fusion``; one that asked for decompression alone got at least
  ``decompression_only``; an item is ``medically_necessary``).
* ``pend``: pend for information.  Documentation alone would give what was
  asked: a what-if line of kind ``documentation`` (every criterion it needs
  is not documented) reaches the requested determination.  Its criteria are
  the documentation to request.  Without the what-if (``batch`` without
  ``--would-change``), every criterion in the way is not documented.
* ``refer``: refer to a physician reviewer.  Every way to what was asked
  needs a documented finding to be different (a criterion not met), or there
  is no way at all, or the policy has no criterion for it (``not_addressed``:
  manual review).

The request as a whole: ``certify`` when every part is certified; else
``pend`` when any part is pended (the record is completed before a physician
reviewer sees it; the parts to refer are referred with it once it is); else
``refer`` (some part is referred, or a requested service was not decided).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.deciding.decision import (DOCUMENTATION, CriterionResult, Decision, ItemDecision, LevelDecision, asked,
                                      reaches, requirements)

CERTIFY, PEND, REFER = "certify", "pend", "refer"
ACTIONS = (CERTIFY, PEND, REFER)

#: The words every rendering uses for an action.
WORDS = {
    CERTIFY: "certify",
    PEND: "pend for information",
    REFER: "refer to a physician reviewer",
}
#: One line a reviewer reads beside the action.
WHY = {
    CERTIFY: "the policy's criteria are met for what was asked",
    PEND: "the record is silent on what is needed: request the documentation listed",
    REFER: "a documented finding fails a criterion: a physician reviewer decides",
    "not_addressed": "the policy has no criterion for it: manual review by a physician reviewer",
}


@dataclass(frozen=True)
class Request:
    """One criterion whose documentation a pended service needs."""

    id: str
    scope: str
    title: str
    documentation: str  # what the record must say (the policy's words), else the title


@dataclass(frozen=True)
class Action:
    code: str  # certify, pend or refer
    why: str  # a key of WHY
    to_request: tuple[Request, ...] = ()

    @property
    def words(self) -> str:
        return WORDS[self.code]

    @property
    def reason(self) -> str:
        return WHY[self.why]


def _stands_alone(c: CriterionResult) -> bool:
    """A criterion in its own right: not a composite (its parts are listed), a waiver or waived."""
    return not (c.waived_by or c.parts or c.waives)


def action_of(decision: Decision, subject: LevelDecision | ItemDecision) -> Action:
    if subject.determination == "not_addressed":
        return Action(REFER, "not_addressed")
    wanted = asked(subject)
    if reaches(subject.determination, wanted):
        return Action(CERTIFY, CERTIFY)
    known = {(c.id, c.scope): c for s in (*decision.levels, *decision.items) for c in s.criteria}
    if decision.would_change_computed:
        lines = [w for w in requirements(subject) if w.kind == DOCUMENTATION]
        if not lines:
            return Action(REFER, REFER)
        keys = dict.fromkeys((a.criterion, a.scope) for w in lines for a in (*w.requires, *w.one_of))
    else:
        failing = [c for c in subject.criteria if c.status != "met" and _stands_alone(c)]
        if not failing or any(c.status == "not_met" for c in failing):
            return Action(REFER, REFER)
        keys = dict.fromkeys((c.id, c.scope) for c in failing)
    out = []
    for cid, scope in keys:
        c = known.get((cid, scope))
        title = c.title if c else ""
        out.append(Request(cid, scope, title, (c.documentation if c and c.documentation else title)))
    return Action(PEND, PEND, tuple(out))


def request_action(decision: Decision, subjects: list[LevelDecision | ItemDecision] | None = None) -> str:
    """The action on the request as a whole, from its parts."""
    subjects = list(subjects) if subjects is not None else [*decision.levels, *decision.items]
    codes = {action_of(decision, s).code for s in subjects}
    if PEND in codes:
        return PEND
    if REFER in codes or decision.undecided:
        return REFER
    return CERTIFY


def to_request(decision: Decision, subjects: list[LevelDecision | ItemDecision]) -> list[Request]:
    """Every criterion a pended service needs documented, once, in the order the services name them."""
    out: dict[tuple[str, str], Request] = {}
    for s in subjects:
        for r in action_of(decision, s).to_request:
            out.setdefault((r.id, r.scope), r)
    return list(out.values())
