"""What a formula-defined criterion reads, read from its formula (engine/deciding/core.lp, "formulas").

A criterion declared with ``formula(Id, F)`` has no rules of its own: the
engine's core evaluates ``F``.  What it reads of a case is therefore said by
the formula itself, not guessed through rule heads:

* ``finding(X)`` reads ``finding(X, yes)`` and ``finding(X, no)``;
* a figure, ``at_least(M, N)`` (``at_most``, ``over``, ``under``), reads the
  case argument the core measures ``M`` by (``measured/4`` in core.lp) and
  compares it with ``N`` exactly;
* ``is(M, V)`` reads the category ``M`` (``category/3`` in core.lp) and tells
  ``V`` apart from the rest;
* ``imaging(Q)`` reads what the policy's ``study_answer`` rules for question
  ``Q`` (``at(Q, L)`` at a level) read.

``engine/analysing/reads.py`` adds these reads to ``case_reads`` and these
figures to ``figures``, so the case space of ``check`` and ``diff`` offers
every figure a formula compares.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache

import clingo
from clingo import Symbol, SymbolType, ast

from engine.deciding.core import statements as core_statements

#: Declarations that hold a formula: criterion formulas and determination trees.
FORMULA_HEADS = {"formula": 2, "justifies": 2}
CONNECTIVES = frozenset({"all", "any", "n_of", "negate", "given", "lacks", "asserted"})
FIGURES = frozenset({"at_least", "at_most", "over", "under"})

Place = tuple[str, int]


@dataclass
class Leaves:
    """The leaves of the formulas of a program, by criterion (None for a determination tree)."""

    findings: dict[str | None, set[str]] = field(default_factory=lambda: defaultdict(set))
    figures: dict[str | None, set[tuple[str, int]]] = field(default_factory=lambda: defaultdict(set))
    categories: dict[str | None, set[tuple[str, str]]] = field(default_factory=lambda: defaultdict(set))
    questions: dict[str | None, set[str]] = field(default_factory=lambda: defaultdict(set))


def _symbol(term: ast.AST) -> Symbol | None:
    try:
        sym = clingo.parse_term(str(term))
    except (RuntimeError, ValueError):
        return None
    return sym


def _name(sym: Symbol) -> str | None:
    if sym.type == SymbolType.String:
        return sym.string
    if sym.type == SymbolType.Function:
        return sym.name
    return None


def declarations(statements: Iterable[ast.AST]) -> Iterator[tuple[str | None, Symbol]]:
    """(criterion or None, formula) for every ``formula/2`` and ``justifies/2`` fact."""
    for stm in statements:
        if stm.ast_type != ast.ASTType.Rule or stm.body or stm.head.ast_type != ast.ASTType.Literal:
            continue
        atom = stm.head.atom
        if atom.ast_type != ast.ASTType.SymbolicAtom:
            continue
        sym = _symbol(atom.symbol)
        if sym is None or sym.type != SymbolType.Function or FORMULA_HEADS.get(sym.name) != len(sym.arguments):
            continue
        owner = sym.arguments[0].string if sym.name == "formula" and sym.arguments[0].type == SymbolType.String else None
        yield owner, sym.arguments[1]


def leaves(statements: Iterable[ast.AST]) -> Leaves:
    out = Leaves()
    for owner, formula in declarations(statements):
        pending = [formula]
        while pending:
            f = pending.pop()
            if f.type != SymbolType.Function:
                continue
            a = f.arguments
            if f.name in CONNECTIVES:
                pending.extend(a[1:] if f.name == "n_of" else a)
            elif f.name == "finding" and len(a) == 1 and _name(a[0]):
                out.findings[owner].add(_name(a[0]))
            elif f.name in FIGURES and len(a) == 2 and a[1].type == SymbolType.Number and _name(a[0]):
                out.figures[owner].add((_name(a[0]), a[1].number))
            elif f.name == "is" and len(a) == 2 and _name(a[0]) and _name(a[1]):
                out.categories[owner].add((_name(a[0]), _name(a[1])))
            elif f.name == "imaging" and len(a) == 1 and _name(a[0]):
                out.questions[owner].add(_name(a[0]))
    return out


@lru_cache(maxsize=1)
def measures() -> dict[tuple[str, str], tuple[Place, ...]]:
    """(``measured`` or ``category``, name) -> the case arguments core.lp reads the value from."""
    from engine.deciding.predicates import signature, uses_in

    found: dict[tuple[str, str], list[Place]] = defaultdict(list)
    for stm in core_statements():
        if stm.ast_type != ast.ASTType.Rule or stm.head.ast_type != ast.ASTType.Literal:
            continue
        head = stm.head.atom
        if head.ast_type != ast.ASTType.SymbolicAtom or head.symbol.ast_type != ast.ASTType.Function:
            continue
        term = head.symbol
        if (term.name, len(term.arguments)) not in (("measured", 4), ("category", 3)):
            continue
        name = _symbol(term.arguments[0])
        value = term.arguments[1]
        if name is None or value.ast_type != ast.ASTType.Variable:
            continue
        for use in uses_in(stm):
            if use.head or use.term is None or use.term.ast_type != ast.ASTType.Function:
                continue
            for i, arg in enumerate(use.term.arguments):
                if arg.ast_type == ast.ASTType.Variable and arg.name == value.name:
                    found[(term.name, name.name)].append((signature(use.term), i))
    return {k: tuple(v) for k, v in found.items()}


def reads(statements: Iterable[ast.AST]) -> Iterator[tuple[str | None, str, tuple[tuple[int, str], ...]]]:
    """(criterion, case predicate, fixed arguments) for every read a formula makes itself."""
    got = leaves(statements)
    for owner, names in got.findings.items():
        for x in sorted(names):
            yield owner, "finding/2", ((0, x), (1, "no"))
            yield owner, "finding/2", ((0, x), (1, "yes"))
    for owner, figs in got.figures.items():
        for m, _ in sorted(figs):
            for sig, _i in measures().get(("measured", m), ()):
                yield owner, sig, ()
    for owner, cats in got.categories.items():
        for m, _ in sorted(cats):
            for sig, _i in measures().get(("category", m), ()):
                yield owner, sig, ()


def answers(statements: Iterable[ast.AST]) -> dict[str | None, set[str]]:
    """The questions of imaging each criterion's formula asks (``imaging(Q)``)."""
    return leaves(statements).questions


def question_of(term: ast.AST) -> str | None:
    """The question a ``study_answer`` head's first argument names: ``Q`` of ``at(Q, L)``, or ``Q`` itself."""
    if term.ast_type == ast.ASTType.Function and term.name == "at" and len(term.arguments) == 2:
        term = term.arguments[0]
    if term.ast_type == ast.ASTType.SymbolicTerm:
        return _name(term.symbol)
    if term.ast_type == ast.ASTType.Function and not term.arguments:
        return term.name
    return None


def figures(statements: Iterable[ast.AST]) -> tuple[dict[Place, set[int]], dict[Place, set[str]]]:
    """The figures and categories the formulas compare, by the case argument they are compared with."""
    got = leaves(statements)
    numbers: dict[Place, set[int]] = defaultdict(set)
    constants: dict[Place, set[str]] = defaultdict(set)
    for figs in got.figures.values():
        for m, n in figs:
            for place in measures().get(("measured", m), ()):
                numbers[place].add(n)
    for cats in got.categories.values():
        for m, v in cats:
            for place in measures().get(("category", m), ()):
                constants[place].add(v)
    for names in got.findings.values():
        constants[("finding/2", 0)] |= names
    return numbers, constants
