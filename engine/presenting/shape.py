"""The rule's shape: for a requested level or item, its criteria as a tree.

A ``Shape`` is ``all`` of its children, ``one_of`` them, ``n_of`` them (at
least K), a ``criterion`` (with what it is made of and, where a waiver may
stand in, those that waive it, ``waived_by``, beneath it), or a ``gate``: the
case-level criteria every level needs, shown inside each level they decide.

Where the policy declares what justifies the level (``justifies/2``, with
``formula/2`` for a criterion made of others), the shape is that tree, read
from the model into the decision (``LevelDecision.tree``,
engine/deciding/trees.py): all of / one of / at least K of / waived by as
the policy says them, the case-level criteria among the tree's top
conditions gathered in the gate.

Otherwise (an item, a level a raw ``justified/2`` rule decides, a policy of
raw rules) the shape is derived, as a fallback, from what the engine
reports: a criterion's ``bears_on`` declaration in the policy (what a level
criterion leads to: ``decompression_only`` or ``fusion``), the
interchangeable criteria the what-if finds (``one_of``), ``part_of`` and
``waives``.  Criteria that bear on fusion are alternatives (one of them,
with what decompression needs, justifies fusion); those that bear on
decompression are all needed.  The renderers draw any ``Shape``.

A node's status is read off its children the way the tree says, in Kleene's
strong logic: ``all`` is met when every child is, not met when one is not
met, else not documented; ``one_of`` is met when one child is, not
documented when none is met and one is not documented, else not met;
``n_of`` is met when K are, not met when fewer than K can be.  The engine's
determination of the subject is shown beside the root, and stays the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from engine.deciding import decision as declared
from engine.deciding.decision import CriterionResult, Decision, ItemDecision, LevelDecision, Tree

ALL, ONE_OF, N_OF, CRITERION, GATE, WAIVED_BY = "all", "one_of", "n_of", "criterion", "gate", "waived_by"
#: a condition of a declared tree that is not a criterion, said in words with its value
CONDITION = "condition"

#: How each kind of node is headed.
HEADS = {ALL: "all of", ONE_OF: "one of", GATE: "the case-level criteria, all of", WAIVED_BY: "or waived by"}


@dataclass(frozen=True)
class Shape:
    kind: str
    label: str = ""
    children: tuple[Shape, ...] = ()
    criterion: CriterionResult | None = None
    #: ``n_of``: how many children are needed
    k: int = 0
    #: a criterion the declared tree accepts a waiver for (``satisfied(C)``): met when it or a waiver is
    or_waived: bool = False
    #: a condition's value (``CONDITION``)
    state: str = ""

    @property
    def status(self) -> str:
        if self.kind == CONDITION:
            return self.state
        if self.criterion is not None:
            if self.criterion.waived_by:
                return "waived"
            if self.or_waived:
                return self._or_waived()
            return self.criterion.status
        states = ["met" if c.status == "waived" else c.status for c in self.children if c.kind != WAIVED_BY]
        if not states:
            return "met"
        if self.kind == N_OF:
            if states.count("met") >= self.k:
                return "met"
            return "not_met" if len(states) - states.count("not_met") < self.k else "not_documented"
        if self.kind in (ONE_OF, WAIVED_BY):
            if "met" in states:
                return "met"
            return "not_documented" if "not_documented" in states else "not_met"
        if "not_met" in states:
            return "not_met"
        return "not_documented" if "not_documented" in states else "met"

    def _or_waived(self) -> str:
        """The criterion, or a waiver standing in (the core's ``satisfied/2``)."""
        waivers = [w.status for c in self.children if c.kind == WAIVED_BY for w in c.children]
        if self.criterion.status == "met" or "met" in waivers or "waived" in waivers:
            return "met"
        if self.criterion.status == "not_met" and all(w == "not_met" for w in waivers):
            return "not_met"
        return "not_documented"

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

    if isinstance(subject, LevelDecision) and subject.tree is not None:
        return from_tree(subject.tree, f"{subject.level}: {labels.procedure(subject.requested)}")
    # The fallback, for items and for levels no declared tree alone decides (raw rules):
    # the shape derived from the criteria reported, their bears_on and the what-if's groups.

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


def from_tree(tree: Tree, label: str) -> Shape:
    """The declared tree of a level as its shape: the case-level criteria among its top conditions
    gathered in the gate, where the first of them stands."""
    top = tree.children if tree.kind == declared.ALL else (tree,)
    children: list[Shape] = []
    gate: list[Shape] = []
    for node in top:
        shape = _declared(node)
        if node.kind == declared.CRITERION and node.criterion.scope == "case":
            if not gate:
                children.append(Shape(GATE, HEADS[GATE]))  # its place, filled below
            gate.append(shape)
        else:
            children.append(shape)
    return Shape(ALL, label, tuple(Shape(GATE, HEADS[GATE], tuple(gate)) if c.kind == GATE else c
                                   for c in children))


def _declared(node: Tree) -> Shape:
    if node.kind == declared.CONDITION:
        return Shape(CONDITION, _words(node.condition.term), state=node.condition.status)
    kids = tuple(_declared(c) for c in node.children)
    if node.kind == declared.CRITERION:
        return Shape(CRITERION, node.criterion.id, kids, node.criterion, or_waived=node.or_waived)
    if node.kind == declared.ANY:
        return Shape(ONE_OF, HEADS[ONE_OF], kids)
    if node.kind == declared.N_OF:
        return Shape(N_OF, f"at least {node.k} of", kids, k=node.k)
    if node.kind == declared.WAIVED_BY:
        return Shape(WAIVED_BY, HEADS[WAIVED_BY], kids)
    return Shape(ALL, HEADS[ALL], kids)


def _words(term, nested: bool = False) -> str:
    """A condition of findings in words: ``lacks(any(finding(a_b), imaging(c)))`` is "the record does not
    establish a b or c on imaging" (engine/deciding/trees.py admits only what this says)."""
    name, args = term[0], term[1:]
    if name in ("all", "any"):
        said = f" {'and' if name == 'all' else 'or'} ".join(_words(a, True) for a in args)
        return f"({said})" if nested and len(args) > 1 else said
    if name == "lacks":
        return f"the record does not establish {_words(args[0])}"
    if name == "asserted":
        return f"the record establishes {_words(args[0])}"
    if name == "negate":
        return f"not {_words(args[0], True)}"
    if name == "given":
        return _words(args[0], nested)
    if name == "imaging":
        return f"{_words(args[0])} on imaging"
    if name == "concordant":
        return "the level concordant with the symptoms"
    if name == "finding":
        return _words(args[0])
    return str(name).replace("_", " ")


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
        elif node.kind == CONDITION:
            out.append(f"{pad}{mark(node.status)} condition {labels.status(node.status)}: {node.label}")
        else:
            head = node.label or HEADS.get(node.kind, node.kind)
            if node.kind == ALL and node.label and pad == indent:
                head = f"{node.label}, all of"
            out.append(f"{pad}{mark(node.status)} {head}")
        for child in node.children:
            one(child, pad + "    ")

    one(shape, indent)
    return out
