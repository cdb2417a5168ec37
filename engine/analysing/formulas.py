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
* ``imaged_within(Q, K)`` reads what ``imaging(Q)`` reads and the dates of
  the studies and the request, and compares them K months apart;
* ``concordant`` reads ``concordant_level/1`` and the documented list of them;
* ``operated(T)`` reads the prior operations, their levels and the documented
  list of them, and tells type ``T`` apart; ``side(D)`` reads the requested
  item's side and tells ``D`` apart (LOCAL below).

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

#: Leaves that read case facts of their own: (what they read, fixed arguments), and the place their
#: argument is compared with.
LOCAL: dict[str, tuple[tuple[tuple[str, tuple[tuple[int, str], ...]], ...], Place]] = {
    "operated": ((("prior_surgery/3", ()), ("prior_surgery_level/2", ()),
                  ("documented/1", ((0, "prior_surgeries"),))), ("prior_surgery/3", 1)),
    "side": ((("requested_item_side/2", ()),), ("requested_item_side/2", 1)),
}


@dataclass
class Leaves:
    """The leaves of the formulas of a program, by criterion (None for a determination tree)."""

    findings: dict[str | None, set[str]] = field(default_factory=lambda: defaultdict(set))
    figures: dict[str | None, set[tuple[str, int]]] = field(default_factory=lambda: defaultdict(set))
    categories: dict[str | None, set[tuple[str, str]]] = field(default_factory=lambda: defaultdict(set))
    questions: dict[str | None, set[str]] = field(default_factory=lambda: defaultdict(set))
    concordant: set[str | None] = field(default_factory=set)
    local: dict[str | None, set[tuple[str, str]]] = field(default_factory=lambda: defaultdict(set))
    months: dict[str | None, set[int]] = field(default_factory=lambda: defaultdict(set))


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
            elif f.name == "concordant" and not a:
                out.concordant.add(owner)
            elif f.name == "imaging" and len(a) in (1, 2) and name_of(a[0]):
                out.questions[owner].add(name_of(a[0]))
            elif f.name == "imaged_within" and len(a) == 2 and name_of(a[0]) and a[1].type == SymbolType.Number:
                out.questions[owner].add(name_of(a[0]))
                out.months[owner].add(a[1].number)
            elif f.name in LOCAL and len(a) == 1 and name_of(a[0]):
                out.local[owner].add((f.name, name_of(a[0])))
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
            for sig, _i in measures().get(("measured", m), ()):
                yield owner, sig, ()
    for owner, cats in got.categories.items():
        for m, _ in sorted(cats):
            for sig, _i in measures().get(("category", m), ()):
                yield owner, sig, ()
    for owner in got.concordant:
        yield owner, "concordant_level/1", ()
        yield owner, "documented/1", ((0, "concordant_levels"),)
    for owner in got.months:
        for sig in ("imaging_date/3", "request_date/2", "calendar_date/4"):
            yield owner, sig, ()
    for owner, used in got.local.items():
        for block in sorted({b for b, _ in used}):
            for sig, fixed in LOCAL[block][0]:
                yield owner, sig, fixed


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
    for months in got.months.values():
        numbers[("calendar_date/4", 2)] |= months
    for used in got.local.values():
        for block, value in used:
            constants[LOCAL[block][1]].add(value)
    return numbers, constants
