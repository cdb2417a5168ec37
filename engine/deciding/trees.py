"""The declared trees read back: what justifies a level, as the policy says it.

core.lp shows ``determination_tree(D, F)`` for each ``justifies(D, F)`` and
``criterion_tree(C, F)`` for each ``formula(C, F)``.  They are facts of the
ground program, read here from its atoms (the batch path leaves static shown
atoms out of each case's model; the ground program holds them either way).

``Declared.at_level`` resolves the tree of what a level asked (fusion where
fusion is requested, else decompression only) with each criterion's result
at the scope the core judges it at (the level, else case-wide), and returns
it only where that tree alone decides the level:

- every leaf is ``criterion(C)``, ``satisfied(C)`` or ``requested(P)`` (the
  level's own request, not drawn: the level's label says it), or a condition
  of findings the shape can say in words (``finding``, ``imaging``,
  ``concordant`` under ``all``/``any``/``lacks``/``asserted``/``negate``/
  ``given``), drawn with its value (core.lp's ``tree_condition/3``);
- every criterion of the tree is judged at the level or case-wide (a
  sacropelvic level under a tree of lumbar criteria is not);
- every criterion reported for the level is in the tree (no raw
  ``justified/2`` rule brings criteria of its own), provisions and advisory
  criteria aside, which never gate;
- the tree's three-valued value agrees with the determination.

Otherwise the level has no tree and the renderers derive the shape from the
criteria reported (engine/presenting/shape.py).
"""

from __future__ import annotations

from collections.abc import Callable

import clingo
from clingo import Symbol, SymbolType

from engine.deciding.decision import (ALL, ANY, CONDITION, CRITERION, N_OF, WAIVED_BY, Condition, CriterionResult,
                                     Evidence, Tree)

_CONNECTIVES = {"all": ALL, "any": ANY, "n_of": N_OF}
#: The terms a condition of a tree may be made of, and how many arguments each takes (None: any).
_SAYABLE = {"all": None, "any": None, "lacks": 1, "asserted": 1, "negate": 1, "given": 1, "finding": 1,
            "imaging": None, "concordant": 0}


class _NotShown(Exception):
    """The tree has a node the shape cannot draw, or a criterion not judged here."""


def value(node: Tree) -> str:
    """The node's value in Kleene's strong logic, as the core gives it (``met``, ``not_met``,
    ``not_documented``), from its criteria's statuses."""
    if node.kind == CONDITION:
        return node.condition.status
    if node.kind == CRITERION:
        c = node.criterion
        own = "met" if c.waived_by else c.status
        if not node.or_waived:
            return own
        waivers = [value(w) for kid in node.children if kid.kind == WAIVED_BY for w in kid.children]
        if own == "met" or "met" in waivers:
            return "met"
        return "not_met" if own == "not_met" and all(w == "not_met" for w in waivers) else "not_documented"
    states = [value(c) for c in node.children]
    need = {ALL: len(states), ANY: 1}.get(node.kind, node.k)
    if states.count("met") >= need:
        return "met"
    return "not_met" if len(states) - states.count("not_met") < need else "not_documented"


class Declared:
    """A policy's declared trees, with what a criterion is made of and what waives it."""

    def __init__(self, atoms: clingo.SymbolicAtoms, parts: dict[str, tuple[str, ...]],
                 waivers: dict[str, tuple[str, ...]], never_gate: frozenset[str]):
        self.determinations: dict[str, Symbol] = {}
        self.criteria: dict[str, Symbol] = {}
        for sa in atoms.by_signature("determination_tree", 2):
            d, f = sa.symbol.arguments
            if d.type == SymbolType.Function:
                self.determinations.setdefault(d.name, f)
        for sa in atoms.by_signature("criterion_tree", 2):
            c, f = sa.symbol.arguments
            if c.type == SymbolType.String:
                self.criteria.setdefault(c.string, f)
        self.parts = parts
        self.waivers = waivers
        self.never_gate = never_gate
        self._condition = None

    def at_level(self, level: str, asked: str, reaches: bool, reported: set[tuple[str, str]],
                 result: Callable[[str, str], CriterionResult | None],
                 condition: Callable[[Symbol], tuple[str, tuple[Evidence, ...]]] = lambda t: ("not_documented", ())
                 ) -> Tree | None:
        """The declared tree of ``asked`` at ``level``, or None where it does not alone decide it.
        ``result(id, scope)`` is a criterion's result there (None: not evaluated there);
        ``condition(term)`` a condition's status and evidence there;
        ``reaches``: the level's determination gives what was asked."""
        term = self.determinations.get(asked)
        if term is None:
            return None
        self._condition = condition
        try:
            tree = self._node(term, level, result, frozenset())
        except _NotShown:
            return None
        if tree is None:
            return None
        shown = {(c.id, c.scope) for c in _criteria(tree)}
        if any(pair not in shown for pair in reported if pair[0] not in self.never_gate):
            return None
        return tree if (value(tree) == "met") == reaches else None

    def _node(self, term: Symbol, scope: str, result, seen: frozenset[str]) -> Tree | None:
        if term.type != SymbolType.Function:
            raise _NotShown
        name, args = term.name, term.arguments
        if name in _CONNECTIVES:
            k = 0
            if name == "n_of":
                if not args or args[0].type != SymbolType.Number:
                    raise _NotShown
                k, args = args[0].number, args[1:]
            kids = tuple(kid for kid in (self._node(a, scope, result, seen) for a in args) if kid is not None)
            if not kids:
                raise _NotShown
            return Tree(_CONNECTIVES[name], kids, k=k)
        if name == "requested" and len(args) == 1:
            return None  # the level's request: its label says it
        if name in ("criterion", "satisfied") and len(args) == 1 and args[0].type == SymbolType.String:
            return self._criterion(args[0].string, scope, result, seen, name == "satisfied")
        if _sayable(term) and self._condition is not None:
            status, evidence = self._condition(term)
            return Tree(CONDITION, condition=Condition(_plain(term), status, evidence))
        raise _NotShown

    def _criterion(self, cid: str, scope: str, result, seen: frozenset[str], or_waived: bool) -> Tree:
        if cid in seen:
            raise _NotShown
        c = result(cid, scope) or result(cid, "case")
        if c is None:
            raise _NotShown  # judged neither here nor case-wide: the core gives it no value here
        seen = seen | {cid}
        children: tuple[Tree, ...] = self._made_of(cid, c.scope, result, seen)
        waivers = self.waivers.get(cid, ()) if or_waived else ()
        if waivers:
            children += (Tree(WAIVED_BY, tuple(self._criterion(w, c.scope, result, seen, False) for w in waivers)),)
        return Tree(CRITERION, children, c, or_waived=bool(waivers))

    def _made_of(self, cid: str, scope: str, result, seen: frozenset[str]) -> tuple[Tree, ...]:
        """What a criterion is made of: its own formula where that is a tree of criteria (an
        ``all`` drawn as its members), else its parts (``part_of/2``)."""
        term = self.criteria.get(cid)
        if term is not None:
            # the core shows a condition's value in a determination tree only
            condition, self._condition = self._condition, None
            try:
                own = self._node(term, scope, result, seen)
            except _NotShown:
                own = None  # a formula over the case's facts: drawn as the criterion alone
            finally:
                self._condition = condition
            if own is not None:
                return own.children if own.kind == ALL else (own,)
        return tuple(self._criterion(p, scope, result, seen, False) for p in self.parts.get(cid, ()))


def _sayable(term: Symbol) -> bool:
    """A condition of findings the shape can say in words (engine/presenting/shape.py)."""
    if term.type != SymbolType.Function or term.name not in _SAYABLE:
        return False
    arity = _SAYABLE[term.name]
    if arity is not None and len(term.arguments) != arity:
        return False
    if term.name in ("finding", "imaging"):
        return bool(term.arguments) and all(a.type == SymbolType.Function and not a.arguments for a in term.arguments)
    return all(_sayable(a) for a in term.arguments) and (arity is not None or bool(term.arguments))


def _plain(term: Symbol) -> tuple | str:
    """A term as nested tuples of names (a decision holds no clingo symbol)."""
    if term.type == SymbolType.Function:
        return (term.name, *(_plain(a) for a in term.arguments))
    return str(term)


def _criteria(node: Tree):
    if node.criterion is not None:
        yield node.criterion
    for kid in node.children:
        yield from _criteria(kid)


def n_of_pools(tree: Tree | None) -> list[tuple[int, frozenset[tuple[str, str]]]]:
    """Each ``n_of`` node of a tree needing two or more: (K, its criteria's (id, scope)), for the
    what-if lines that need several of them (engine/deciding/alternatives.py)."""
    if tree is None:
        return []
    out = []
    if tree.kind == N_OF and tree.k >= 2:
        out.append((tree.k, frozenset((c.criterion.id, c.criterion.scope) for c in tree.children
                                      if c.criterion is not None)))
    for kid in tree.children:
        out += n_of_pools(kid)
    return out
