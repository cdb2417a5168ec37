"""The rule's shape: for a requested level or item, its criteria as a tree.

A ``Shape`` is ``all`` of its children, ``one_of`` them, a ``criterion``
(with the criteria it is made of, ``part_of``, and those that waive it,
``waived_by``, beneath it), or a ``gate``: the case-level criteria every
level needs, shown inside each level they decide.

The tree is derived from what the engine already reports: a criterion's
``bears_on`` declaration in the policy (what a level criterion leads to:
``decompression_only`` or ``fusion``), the interchangeable criteria the
what-if finds (``one_of``), ``part_of`` and ``waives``.  Criteria that bear
on fusion are alternatives (one of them, with what decompression needs,
justifies fusion); those that bear on decompression are all needed.  A
policy that declares its trees can hand ``shape_of`` the tree instead
(``declared``); the renderers draw any ``Shape``.

A node's status is read off its children the way the tree says: ``all`` is
met when every child is, not met when one is not met, else not documented;
``one_of`` is met when one child is, not documented when none is met and one
is not documented, else not met.  The engine's determination of the subject
is shown beside the root, and stays the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from engine.deciding.decision import CriterionResult, Decision, ItemDecision, LevelDecision

ALL, ONE_OF, CRITERION, GATE, WAIVED_BY = "all", "one_of", "criterion", "gate", "waived_by"

#: How each kind of node is headed.
HEADS = {ALL: "all of", ONE_OF: "one of", GATE: "the case-level criteria, all of", WAIVED_BY: "or waived by"}


@dataclass(frozen=True)
class Shape:
    kind: str
    label: str = ""
    children: tuple[Shape, ...] = ()
    criterion: CriterionResult | None = None

    @property
    def status(self) -> str:
        if self.criterion is not None:
            if self.criterion.waived_by:
                return "waived"
            return self.criterion.status
        states = ["met" if c.status == "waived" else c.status for c in self.children if c.kind != WAIVED_BY]
        if not states:
            return "met"
        if self.kind in (ONE_OF, WAIVED_BY):
            if "met" in states:
                return "met"
            return "not_documented" if "not_documented" in states else "not_met"
        if "not_met" in states:
            return "not_met"
        return "not_documented" if "not_documented" in states else "met"

    def walk(self):
        yield self
        for c in self.children:
            yield from c.walk()

    def ids(self) -> list[str]:
        return [n.criterion.id for n in self.walk() if n.criterion is not None]


_BEARS = re.compile(r'^bears_on\("((?:[^"\\]|\\.)*)",\s*([a-z_]+)\)\.$')


@lru_cache(maxsize=32)
def _bears(statements: tuple) -> dict[str, str]:
    out: dict[str, str] = {}
    for st in statements:
        m = _BEARS.match(str(st).strip())
        if m:
            out.setdefault(m.group(1), m.group(2))
    return out


def bears_on(policy) -> dict[str, str]:
    """The policy's ``bears_on(Id, Tier)`` facts: what each level criterion leads to."""
    if policy is None:
        return {}
    return _bears(tuple(getattr(policy, "statements", ()) or ()))


def _node(c: CriterionResult, by_id: dict[str, CriterionResult], seen: frozenset[str]) -> Shape:
    seen = seen | {c.id}
    parts = tuple(_node(by_id[p], by_id, seen) for p in c.parts if p in by_id and p not in seen)
    waivers = tuple(_node(w, by_id, seen) for w in by_id.values() if w.waives == c.id and w.id not in seen)
    children = parts
    if waivers:
        children += (Shape(WAIVED_BY, HEADS[WAIVED_BY], waivers),)
    return Shape(CRITERION, c.id, children, c)


def _roots(criteria: list[CriterionResult]) -> tuple[list[CriterionResult], dict[str, CriterionResult]]:
    by_id = {c.id: c for c in criteria}
    nested = {p for c in criteria for p in c.parts if p in by_id and p != c.id}
    beside = {c.id for c in criteria if c.waives in by_id and c.waives != c.id}
    return [c for c in criteria if c.id not in nested and c.id not in beside], by_id


def _alternatives(subject: LevelDecision | ItemDecision) -> set[str]:
    """The criteria the what-if found interchangeable for the subject (any one of them will do)."""
    return {a.criterion for w in subject.would_change for a in w.one_of}


def shape_of(decision: Decision, subject: LevelDecision | ItemDecision, policy=None,
             declared: Shape | None = None) -> Shape:
    """The tree of one level or item: what a policy declares, else what the engine knows."""
    if declared is not None:
        return declared
    from engine.presenting import labels

    case = [c for c in subject.criteria if c.scope == "case"]
    own = [c for c in subject.criteria if c.scope != "case"]
    bears = bears_on(policy)
    alternatives = _alternatives(subject)
    children: list[Shape] = []
    if case:
        roots, by_id = _roots(case)
        children.append(Shape(GATE, HEADS[GATE], tuple(_node(c, by_id, frozenset()) for c in roots)))
    roots, by_id = _roots(own)
    needed = [c for c in roots if bears.get(c.id) != "fusion" and c.id not in alternatives]
    either = [c for c in roots if c not in needed]
    children += [_node(c, by_id, frozenset()) for c in needed]
    if len(either) > 1:
        label = "fusion: one of" if any(bears.get(c.id) == "fusion" for c in either) else "one of"
        children.append(Shape(ONE_OF, label, tuple(_node(c, by_id, frozenset()) for c in either)))
    else:
        children += [_node(c, by_id, frozenset()) for c in either]
    if isinstance(subject, LevelDecision):
        label = f"{subject.level}: {labels.procedure(subject.requested)}"
    else:
        label = labels.item(subject.item, subject.level)
    return Shape(ALL, label, tuple(children))


def lines(shape: Shape, indent: str = "  ", mark=None) -> list[str]:
    """The tree as indented text lines (``necessity explain --verbose``)."""
    from engine.presenting import labels

    mark = mark or (lambda status: {"met": "✓", "not_met": "✗", "not_documented": "?", "waived": "↷"}[status])
    out: list[str] = []

    def one(node: Shape, pad: str) -> None:
        if node.criterion is not None:
            c = node.criterion
            word = f"waived by {c.waived_by}" if c.waived_by else labels.status(c.status)
            out.append(f"{pad}{mark(node.status)} {c.id} {word}: {c.title}")
        else:
            head = node.label or HEADS.get(node.kind, node.kind)
            if node.kind == ALL and node.label and pad == indent:
                head = f"{node.label}, all of"
            out.append(f"{pad}{mark(node.status)} {head}")
        for child in node.children:
            one(child, pad + "    ")

    one(shape, indent)
    return out
