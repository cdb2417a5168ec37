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
  ``Q`` (``at(Q, L)`` at a level) read;
* ``concordant`` reads ``concordant_level/1`` and the documented list of them.

``engine/analysing/reads.py`` adds these reads to ``case_reads`` and these
figures to ``figures``, so the case space of ``check`` and ``diff`` offers
every figure a formula compares.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from clingo import SymbolType, ast

from engine.deciding.blocks import FIGURES, declarations, measures as _measures, name_of, parts

Place = tuple[str, int]


@dataclass
class Leaves:
    """The leaves of the formulas of a program, by criterion (None for a determination tree)."""

    findings: dict[str | None, set[str]] = field(default_factory=lambda: defaultdict(set))
    figures: dict[str | None, set[tuple[str, int]]] = field(default_factory=lambda: defaultdict(set))
    categories: dict[str | None, set[tuple[str, str]]] = field(default_factory=lambda: defaultdict(set))
    questions: dict[str | None, set[str]] = field(default_factory=lambda: defaultdict(set))
    concordant: set[str | None] = field(default_factory=set)
    several: dict[str | None, set[tuple[str, int]]] = field(default_factory=lambda: defaultdict(set))


def leaves(statements: Iterable[ast.AST]) -> Leaves:
    out = Leaves()
    for _, owner, formula in declarations(statements):
        pending = [formula]
        while pending:
            f = pending.pop()
            if f.type != SymbolType.Function:
                continue
            a = f.arguments
            pending.extend(parts(f))
            if f.name == "finding" and len(a) == 1 and name_of(a[0]):
                out.findings[owner].add(name_of(a[0]))
            elif f.name in FIGURES and len(a) == 2 and a[1].type == SymbolType.Number and name_of(a[0]):
                out.figures[owner].add((name_of(a[0]), a[1].number))
            elif f.name == "is" and len(a) == 2 and name_of(a[0]) and name_of(a[1]):
                out.categories[owner].add((name_of(a[0]), name_of(a[1])))
            elif (f.name == "several" and len(a) == 2 and a[0].type == SymbolType.Number
                  and a[1].type == SymbolType.Function and a[1].name in FIGURES and name_of(a[1].arguments[0])):
                out.several[owner].add((name_of(a[1].arguments[0]), a[0].number))
            elif f.name == "concordant" and not a:
                out.concordant.add(owner)
            elif f.name == "imaging" and len(a) in (1, 2) and name_of(a[0]):
                out.questions[owner].add(name_of(a[0]))
    return out


def measures() -> dict[tuple[str, str], tuple[Place, ...]]:
    """(``measured`` or ``category``, name) -> the case arguments core.lp reads the value from."""
    return {(kind, name): places for kind, table in _measures().items() for name, places in table.items()}


def reads(statements: Iterable[ast.AST]) -> Iterator[tuple[str | None, str, tuple[tuple[int, str], ...]]]:
    """(criterion, case predicate, fixed arguments) for every read a formula makes itself."""
    got = leaves(statements)
    for owner, names in got.findings.items():
        for x in sorted(names):
            yield owner, "finding/2", ((0, x), (1, "no"))
            yield owner, "finding/2", ((0, x), (1, "yes"))
    for owner, figs in got.figures.items():
        for m, _ in sorted(figs):
            for sig, _i in measures().get(("measured", m), ()) + measures().get(("counted", m), ()):
                yield owner, sig, ()
    for owner, cats in got.categories.items():
        for m, _ in sorted(cats):
            for sig, _i in measures().get(("category", m), ()):
                yield owner, sig, ()
    for owner in got.concordant:
        yield owner, "concordant_level/1", ()
        yield owner, "documented/1", ((0, "concordant_levels"),)


def answers(statements: Iterable[ast.AST]) -> dict[str | None, set[str]]:
    """The questions of imaging each criterion's formula asks (``imaging(Q)``)."""
    return leaves(statements).questions


def question_of(term: ast.AST) -> str | None:
    """The question a ``study_answer`` head's first argument names: ``Q`` of ``at(Q, L)``, or ``Q`` itself."""
    if term.ast_type == ast.ASTType.Function and term.name == "at" and len(term.arguments) == 2:
        term = term.arguments[0]
    if term.ast_type == ast.ASTType.SymbolicTerm:
        return name_of(term.symbol)
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


def counts(statements: Iterable[ast.AST]) -> dict[str, set[int]]:
    """The numbers of entries the formulas compare, by the place counted (``"limited_activity/1@0"``): a counted
    measurement's figure (``at_least(limited_activities, 2)``), the count of ``several(K, Figure)``."""
    got = leaves(statements)
    found: dict[str, set[int]] = defaultdict(set)
    for figs in got.figures.values():
        for m, n in figs:
            for sig, i in measures().get(("counted", m), ()):
                found[f"{sig}@{i}"].add(n)
    for pairs in got.several.values():
        for m, k in pairs:
            for sig, _i in measures().get(("measured", m), ()):
                found[f"{sig}@0"].add(k)
    return found
