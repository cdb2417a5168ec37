"""Figures compared with values that come from the case (see engine/analysing/reads.py, ``figures``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from clingo import SymbolType, ast

from engine.analysing import formulas
from engine.analysing.forms import followed
from engine.analysing.reads import name_args, unpooled
from engine.deciding.predicates import nodes, remembered, uses_in

Place = tuple[str, int]  # (predicate signature, argument index)

_ARITHMETIC_SCALE = (ast.BinaryOperator.Multiplication, ast.BinaryOperator.Division)
_VALUE_AGGREGATES = (ast.AggregateFunction.Sum, ast.AggregateFunction.SumPlus,
                     ast.AggregateFunction.Min, ast.AggregateFunction.Max)


def _number(term: ast.AST) -> int | None:
    if term.ast_type == ast.ASTType.SymbolicTerm and term.symbol.type == SymbolType.Number:
        return term.symbol.number
    if term.ast_type == ast.ASTType.UnaryOperation and term.operator_type == ast.UnaryOperator.Minus:
        inner = _number(term.argument)
        return -inner if inner is not None else None
    return None


def _figures_in(term: ast.AST, consts: dict[str, int]) -> set[int]:
    """Numbers written in a term, leaving out the factors of a product (12 in ``Y * 12`` converts units)."""
    value = _number(term)
    if value is not None:
        return {value}
    kind = term.ast_type
    if kind == ast.ASTType.SymbolicTerm and term.symbol.type == SymbolType.Function and not term.symbol.arguments:
        return {consts[term.symbol.name]} if term.symbol.name in consts else set()
    if kind == ast.ASTType.BinaryOperation:
        out: set[int] = set()
        for side in (term.left, term.right):
            if term.operator_type in _ARITHMETIC_SCALE and _number(side) is not None:
                continue
            out |= _figures_in(side, consts)
        return out
    if kind == ast.ASTType.UnaryOperation:
        return _figures_in(term.argument, consts)
    if kind == ast.ASTType.Function:
        out = set()
        for arg in term.arguments:
            out |= _figures_in(arg, consts)
        return out
    if kind == ast.ASTType.Interval:
        return _figures_in(term.left, consts) | _figures_in(term.right, consts)
    return set()


def _variables(term: ast.AST) -> set[str]:
    return {n.name for n in nodes(term) if n.ast_type == ast.ASTType.Variable and n.name != "_"}


def _strings_in(term: ast.AST) -> set[str]:
    return {n.symbol.string for n in nodes(term)
            if n.ast_type == ast.ASTType.SymbolicTerm and n.symbol.type == SymbolType.String}


@dataclass(frozen=True)
class _Term:
    """A term, read once: its variables, the figures written in it, and what it is."""

    variables: frozenset[str]
    numbers: frozenset[int]
    strings: frozenset[str]
    constant: str | None  # a bare constant such as ``confirmed``
    variable: str | None  # a bare variable
    number: int | None  # a bare number
    compound: bool  # a function term (evidence such as ``care_days(E, D)``), not a value


def _term(term: ast.AST, consts: dict[str, int]) -> _Term:
    kind = term.ast_type
    constant = None
    if kind == ast.ASTType.SymbolicTerm and term.symbol.type == SymbolType.Function and not term.symbol.arguments:
        constant = term.symbol.name
    compound = (kind == ast.ASTType.Function and bool(term.name)) or (
        kind == ast.ASTType.SymbolicTerm and term.symbol.type == SymbolType.Function and bool(term.symbol.arguments))
    return _Term(frozenset(_variables(term)), frozenset(_figures_in(term, consts)), frozenset(_strings_in(term)),
                 constant, term.name if kind == ast.ASTType.Variable and term.name != "_" else None,
                 _number(term), compound)


@dataclass
class _Atom:
    sig: str
    arguments: list[_Term]
    positive: bool  # a positive condition (it binds its variables)
    head: bool


@dataclass
class _Rule:
    """A rule, read once into plain values: the figure analysis iterates over these."""

    atoms: list[_Atom]
    aggregates: list[tuple[list[tuple[bool, _Term]], list[_Term]]]  # value aggregates: guards, first terms
    equalities: list[tuple[_Term, _Term]]
    comparisons: list[list[list[_Term]]]  # groups of terms compared together
    ordered: list[bool]  # per comparison: by order (<, >=...), not only (in)equality


def _read_rule(stm: ast.AST, consts: dict[str, int]) -> _Rule:
    atoms: list[_Atom] = []
    for u in uses_in(stm):
        atoms.append(_Atom(u.signature, [_term(x, consts) for x in name_args(u.term)[1]], u.positive, u.head))
    aggregates: list[tuple[list[tuple[bool, _Term]], list[_Term]]] = []
    equalities: list[tuple[_Term, _Term]] = []
    comparisons: list[list[list[_Term]]] = []
    ordered: list[bool] = []
    for n in nodes(stm.body):
        kind = n.ast_type
        if kind == ast.ASTType.BodyAggregate and n.function in _VALUE_AGGREGATES:
            guards = [(g.comparison == ast.ComparisonOperator.Equal, _term(g.term, consts))
                      for g in (n.left_guard, n.right_guard) if g is not None]
            firsts = [_term(e.terms[0], consts) for e in n.elements if e.terms]
            aggregates.append((guards, firsts))
        elif kind == ast.ASTType.Comparison:
            sides = [n.term] + [g.term for g in n.guards]
            if len(n.guards) == 1 and n.guards[0].comparison == ast.ComparisonOperator.Equal:
                equalities.append((_term(n.term, consts), _term(n.guards[0].term, consts)))
            # a tuple is compared component by component
            if all(s.ast_type == ast.ASTType.Function and not s.name for s in sides) and \
                    len({len(s.arguments) for s in sides}) == 1:
                groups = [[s.arguments[k] for s in sides] for k in range(len(sides[0].arguments))]
            else:
                groups = [sides]
            comparisons.append([[_term(x, consts) for x in group] for group in groups])
            ordered.append(any(g.comparison not in (ast.ComparisonOperator.Equal, ast.ComparisonOperator.NotEqual)
                               for g in n.guards))
    return _Rule(atoms, aggregates, equalities, comparisons, ordered)


@dataclass(frozen=True)
class Figures:
    """Per case argument: the numbers, strings and constants it is compared with or equated to."""

    numbers: dict[Place, frozenset[int]]
    strings: dict[Place, frozenset[str]]
    constants: dict[Place, frozenset[str]]
    #: pairs of case places whose values are compared with each other (a date with the request date)
    related: frozenset[tuple[Place, Place]]
    #: dates and calendar fields compared with a figure of their own (a day number, a month, a year)
    absolute: dict[Place, frozenset[int]] = field(default_factory=dict)
    #: per case predicate: the numbers of its atoms that a count compares with a figure
    counts: dict[str, frozenset[int]] = field(default_factory=dict)
    #: places compared by order (``A < "c"``): their strings and constants are not interchangeable
    ordered: frozenset[Place] = frozenset()
    #: where a value from the case goes through an operation the search cannot solve, in words
    unfollowed: tuple[str, ...] = ()
    #: per case argument (not a date): the values that put each comparison it reaches on either side
    sides: dict[Place, frozenset[int]] = field(default_factory=dict)
    #: per case argument: the figures whose sides are not worked out (a formula's), to be offered with a step
    #: either side
    padded: dict[Place, frozenset[int]] = field(default_factory=dict)

    def of(self, place: Place) -> frozenset[int]:
        return self.numbers.get(place, frozenset())

    def offered(self, place: Place) -> set[int]:
        """The values of a case argument (not a date) that put every comparison it reaches on either side."""
        return set(self.sides.get(place, ())) | {v + s for v in self.padded.get(place, ()) for s in (-1, 0, 1)}


def figures(statements: Iterable[ast.AST], case_signatures: Iterable[str],
            dates: frozenset[Place] | None = None) -> Figures:
    """Every figure compared with a value that comes from a case argument, by that argument.

    A date plus a length compared with a figure (an episode's start and its
    days against a window) is straddled by the dates: the figure goes to the
    ``dates`` arguments only, not to the length, whose every sum the
    grounder would otherwise spell out.
    """
    statements = list(statements)
    case = frozenset(case_signatures)
    if dates is None:  # every argument of the case vocabulary that holds a date
        from facts.vocabulary import PREDICATES

        dates = frozenset((p.signature, i) for p in PREDICATES for i, a in enumerate(p.args) if a.kind == "day")
    # the same statements read again in one process (check's own space and its gaps', a test's many
    # analyses of one policy): remembered by the statement objects, kept beside the answer so that
    # their ids are never reused meanwhile
    key_ = (tuple(id(s) for s in statements), case, dates)
    found = _FIGURES.get(key_)
    if found is not None and all(a is b for a, b in zip(found[0], statements)):
        return found[1]
    result = _figures(statements, case, dates)
    if len(_FIGURES) >= 8:
        _FIGURES.pop(next(iter(_FIGURES)))
    _FIGURES[key_] = (tuple(statements), result)
    return result


_FIGURES: dict[tuple, tuple[tuple[ast.AST, ...], Figures]] = {}


def _figures(statements: list[ast.AST], case: frozenset[str], dates: frozenset[Place]) -> Figures:
    consts: dict[str, int] = {}
    for s in statements:
        if s.ast_type == ast.ASTType.Definition and _number(s.value) is not None:
            consts[s.name] = _number(s.value)  # type: ignore[assignment]
    key = f"figures {sorted(consts.items())}"
    rules = [remembered(s, key, lambda r: _read_rule(r, consts)) for s in unpooled(statements)
             if s.ast_type == ast.ASTType.Rule]

    origins: dict[Place, set[Place]] = defaultdict(set)
    values: dict[Place, set[int]] = defaultdict(set)

    def place_origins(place: Place) -> set[Place]:
        return {place} if place[0] in case else origins.get(place, set())

    def bindings(rule: _Rule) -> tuple[dict[str, set[Place]], dict[str, set[int]]]:
        var_origins: dict[str, set[Place]] = defaultdict(set)
        var_values: dict[str, set[int]] = defaultdict(set)
        for atom in rule.atoms:
            if atom.head or not atom.positive:
                continue
            for i, arg in enumerate(atom.arguments):
                if arg.variable:
                    var_origins[arg.variable] |= place_origins((atom.sig, i))
                    var_values[arg.variable] |= values.get((atom.sig, i), set())
        # aggregates and assignments pass values on to the variable they bind
        for _ in range(2):
            for guards, firsts in rule.aggregates:
                for equal, guard in guards:
                    if not equal or not guard.variable:
                        continue
                    for first in firsts:
                        for v in first.variables:
                            var_origins[guard.variable] |= var_origins.get(v, set())
                            var_values[guard.variable] |= var_values.get(v, set())
            for left, right in rule.equalities:
                for a, b in ((left, right), (right, left)):
                    if a.variable:
                        for v in b.variables:
                            var_origins[a.variable] |= var_origins.get(v, set())
                            var_values[a.variable] |= var_values.get(v, set())
                        var_values[a.variable] |= b.numbers
        return var_origins, var_values

    def term_origins(term: _Term, var_origins: dict[str, set[Place]]) -> set[Place]:
        out: set[Place] = set()
        for v in term.variables:
            out |= var_origins.get(v, set())
        return out

    def term_values(term: _Term, var_values: dict[str, set[int]]) -> set[int]:
        out = set(term.numbers)
        for v in term.variables:
            out |= var_values.get(v, set())
        return out

    changed = True
    while changed:
        changed = False
        for rule in rules:
            if not any(a.head for a in rule.atoms):
                continue
            var_origins, var_values = bindings(rule)
            for atom in rule.atoms:
                if not atom.head:
                    continue
                for i, arg in enumerate(atom.arguments):
                    place = (atom.sig, i)
                    o = term_origins(arg, var_origins)
                    v = term_values(arg, var_values) if not arg.compound else set()
                    if not o <= origins[place]:
                        origins[place] |= o
                        changed = True
                    if not v <= values[place]:
                        values[place] |= v
                        changed = True

    strings: dict[Place, set[str]] = defaultdict(set)
    constants: dict[Place, set[str]] = defaultdict(set)
    related: set[tuple[Place, Place]] = set()
    ordered: set[Place] = set()
    for rule in rules:
        var_origins, var_values = bindings(rule)
        # a constant written in a case argument, or in an argument fed by one, is an equality test
        # (the numbers: engine/analysing/forms.py)
        for atom in rule.atoms:
            if atom.head:
                continue
            for i, arg in enumerate(atom.arguments):
                found = place_origins((atom.sig, i))
                for o in found:
                    strings[o] |= arg.strings if not arg.compound else set()
                    if arg.constant:
                        constants[o].add(arg.constant)
        for groups, by_order in zip(rule.comparisons, rule.ordered):
            for group in groups:
                if by_order:
                    ordered.update(o for t in group for o in term_origins(t, var_origins))
                texts: set[str] = set()
                names: set[str] = set()
                found = [term_origins(t, var_origins) for t in group]
                found = [o & dates if o & dates and o - dates else o for o in found]
                for t in group:
                    texts |= t.strings
                    if t.constant:
                        names.add(t.constant)
                for o_set in found:
                    for o in o_set:
                        strings[o] |= texts
                        constants[o] |= names
                for x in range(len(found)):
                    for y in range(len(found)):
                        if x != y:
                            related.update((p, q) for p in found[x] for q in found[y] if p != q)
    follow = followed([s for s in unpooled(statements) if s.ast_type == ast.ASTType.Rule], case, dates, consts)
    numbers: dict[Place, set[int]] = defaultdict(set)
    padded: dict[Place, set[int]] = defaultdict(set)
    for place, found_numbers in follow.numbers.items():
        numbers[place] |= set(found_numbers)
        if place not in follow.sides:  # how far apart two dates are: offered with a step either side
            padded[place] |= set(found_numbers)
    # the figures and categories formulas compare, read from the formulas themselves
    formula_numbers, formula_constants = formulas.figures(statements)
    for place, found_numbers in formula_numbers.items():
        numbers[place] |= found_numbers
    formula_sides, formula_padded = formulas.offered(statements)
    for place, found_numbers in formula_padded.items():
        padded[place] |= found_numbers
    sides = {k: set(v) for k, v in follow.sides.items()}
    for place, found_numbers in formula_sides.items():
        sides.setdefault(place, set()).update(found_numbers)
    for place, names in formula_constants.items():
        constants[place] |= names
    counts = {k: set(v) for k, v in follow.counts.items()}
    for sig, found_counts in formulas.counts(statements).items():
        counts.setdefault(sig, set()).update(found_counts)
    return Figures({k: frozenset(v) for k, v in numbers.items()},
                   {k: frozenset(v) for k, v in strings.items()},
                   {k: frozenset(v) for k, v in constants.items()}, frozenset(related),
                   {k: frozenset(v) for k, v in follow.absolute.items()},
                   {k: frozenset(v) for k, v in counts.items()}, frozenset(ordered), follow.unfollowed,
                   {k: frozenset(v) for k, v in sides.items()}, {k: frozenset(v) for k, v in padded.items()})
