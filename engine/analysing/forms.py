"""Values followed from the case to every comparison, as linear forms (engine/analysing/figures.py).

A value a rule compares is a *form*: a sum of case values, each times a
rational coefficient, plus a constant.  ``T > 30+5`` compares the form
``T`` with ``35``; ``D/7 = 12`` the form ``D/7`` (inexact: integer division)
with ``12``; ``T - A > 50`` two case values with each other.  A value that
travels through a rule head (``care_span(D, D, _) :- conservative_care_total_days(D)``),
a fact (``lim(30+5)``), an assignment or an aggregate (``#sum``, ``#min``,
``#max``: the value of one element; ``#count``: the number of entries of a
list) keeps its form, so a comparison anywhere can be solved for each case
value in it: the boundary, where the comparison changes, is a figure the
space must straddle.

An operation that is not linear in the case values (a product of two of
them, a modulo, a division by a case value) cannot be solved: it is named
(``unfollowed``) and the analyses say "not proved" for what depends on it.

Each case value in a form is keyed by its place (predicate, argument) and a
tag telling apart two atoms of the same predicate in one rule (``T1 - T2``
is not zero); forms kept at a derived predicate's place are tagged afresh
every time a rule reads that predicate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from itertools import product
from math import ceil, floor

from clingo import SymbolType, ast

Place = tuple[str, int]  # (predicate signature, argument index)
Key = tuple[Place, tuple]  # a place and the tag of the atom it was read from
#: The argument index of a count: ``(sig, COUNT)`` is the number of ``sig`` atoms.
COUNT = -1
MAX_FORMS = 96


@dataclass(frozen=True, order=True)
class Form:
    coeffs: tuple[tuple[Key, Fraction], ...]
    const: Fraction
    inexact: bool = False  # an integer division on the way: the boundary moves by a step either side

    @property
    def constant(self) -> bool:
        return not self.coeffs


def const(value: int | Fraction) -> Form:
    return Form((), Fraction(value))


def case_value(place: Place, tag: tuple) -> Form:
    return Form((((place, tag), Fraction(1)),), Fraction(0))


def add(f: Form, g: Form, sign: int = 1) -> Form:
    d: dict[Key, Fraction] = dict(f.coeffs)
    for k, a in g.coeffs:
        d[k] = d.get(k, Fraction(0)) + sign * a
    return Form(tuple(sorted((k, a) for k, a in d.items() if a != 0)), f.const + sign * g.const,
                f.inexact or g.inexact)


def scale(f: Form, k: Fraction, inexact: bool = False) -> Form:
    return Form(tuple((p, a * k) for p, a in f.coeffs), f.const * k, f.inexact or inexact)


def retag(f: Form, tag: object) -> Form:
    """The form read at one atom of a rule: its case values tagged with that atom."""
    return Form(tuple(sorted(((p, (tag, t)), a) for (p, t), a in f.coeffs)), f.const, f.inexact)


def canonical(f: Form) -> Form:
    """The form as kept at a place: tags renumbered in order (finite, whatever the depth)."""
    tags: dict[Key, int] = {}
    for (p, t), _a in f.coeffs:
        tags.setdefault((p, t), sum(1 for q, _ in tags if q == p))
    return Form(tuple(sorted(((p, (tags[(p, t)],)), a) for (p, t), a in f.coeffs)), f.const, f.inexact)


def _trunc(a: Fraction, b: Fraction) -> Fraction:
    q = abs(a) // abs(b)
    return Fraction(q if (a >= 0) == (b > 0) else -q)


class Terms:
    """A term's forms, given the forms of the variables of its rule; what cannot be followed is noted."""

    def __init__(self, consts: dict[str, int]):
        self.consts = consts
        self.unfollowed: set[str] = set()

    def _not_linear(self, term: ast.AST, parts: list[set[Form]]) -> set[Form]:
        places = sorted({p[0] for fs in parts for f in fs for p, _ in f.coeffs})
        if places:
            where = f"{term.location.begin.filename}:{term.location.begin.line}"
            self.unfollowed.add(f"{where}: {', '.join(f'{s} argument {i + 1}' for s, i in places)} through `{term}`")
        return set()

    def forms(self, term: ast.AST, env: dict[str, set[Form]]) -> set[Form]:
        kind = term.ast_type
        if kind == ast.ASTType.SymbolicTerm:
            sym = term.symbol
            if sym.type == SymbolType.Number:
                return {const(sym.number)}
            if sym.type == SymbolType.Function and not sym.arguments and sym.name in self.consts:
                return {const(self.consts[sym.name])}
            return set()
        if kind == ast.ASTType.Variable:
            return set(env.get(term.name, ())) if term.name != "_" else set()
        if kind == ast.ASTType.UnaryOperation:
            inner = self.forms(term.argument, env)
            if term.operator_type == ast.UnaryOperator.Minus:
                return {scale(f, Fraction(-1)) for f in inner}
            if term.operator_type == ast.UnaryOperator.Absolute:
                return {Form(f.coeffs, abs(f.const)) if f.constant else f for f in inner} | \
                    {scale(f, Fraction(-1)) for f in inner if not f.constant}
            return self._not_linear(term, [inner]) if any(not f.constant for f in inner) else set()
        if kind == ast.ASTType.Interval:
            return self.forms(term.left, env) | self.forms(term.right, env)
        if kind != ast.ASTType.BinaryOperation:
            return set()
        left, right = self.forms(term.left, env), self.forms(term.right, env)
        op = term.operator_type
        out: set[Form] = set()
        pairs = list(product(sorted(left), sorted(right)))[:MAX_FORMS]
        for f, g in pairs:
            if op in (ast.BinaryOperator.Plus, ast.BinaryOperator.Minus):
                out.add(add(f, g, 1 if op == ast.BinaryOperator.Plus else -1))
            elif op == ast.BinaryOperator.Multiplication and (f.constant or g.constant):
                k, h = (f, g) if f.constant else (g, f)
                out.add(scale(h, k.const, k.inexact))
            elif op == ast.BinaryOperator.Division and g.constant and g.const != 0:
                if f.constant:
                    out.add(Form((), _trunc(f.const, g.const), f.inexact or g.inexact))
                else:
                    out.add(scale(f, 1 / g.const, True))
            elif f.constant and g.constant and op == ast.BinaryOperator.Modulo and g.const != 0:
                out.add(const(f.const - g.const * _trunc(f.const, g.const)))
            elif f.constant and g.constant and op == ast.BinaryOperator.Power and g.const >= 0:
                out.add(const(f.const ** int(g.const)))
            elif not (f.constant and g.constant):
                return self._not_linear(term, [left, right])
        return out


def boundaries(a: Fraction, rest: Fraction, inexact: bool) -> set[int]:
    """The integers around the value of ``x`` where ``a * x + rest`` crosses zero (a step either side if inexact)."""
    out: set[int] = set()
    for shift in ((-1, 0, 1) if inexact else (0,)):
        b = -(rest + shift) / a
        out |= {floor(b), ceil(b)}
    return out


_OP = ast.ComparisonOperator
_FLIPPED = {_OP.LessThan: _OP.GreaterThan, _OP.LessEqual: _OP.GreaterEqual, _OP.GreaterThan: _OP.LessThan,
            _OP.GreaterEqual: _OP.LessEqual, _OP.Equal: _OP.Equal, _OP.NotEqual: _OP.NotEqual}


def _holds(value: Fraction, op: int) -> bool:
    """Whether ``value OP 0``."""
    if op == _OP.LessThan:
        return value < 0
    if op == _OP.LessEqual:
        return value <= 0
    if op == _OP.GreaterThan:
        return value > 0
    if op == _OP.GreaterEqual:
        return value >= 0
    return value == 0 if op == _OP.Equal else value != 0


def sides(a: Fraction, rest: Fraction, op: int | None, inexact: bool) -> set[int]:
    """The integers ``x`` must take for ``a * x + rest OP 0`` to be both true and false.

    An order (``<``, ``>=``...) changes its truth once: the integer on each side
    of that change is enough (``T >= 84``: 83 and 84).  An equality, an
    inequality, or a form through an integer division (whose boundary moves by
    a step) keeps a step either side of the boundary (83, 84 and 85).  Two
    values rather than three per figure keep small the sums a policy takes
    over them (``#sum`` spells out every total its elements can reach).
    """
    found = boundaries(a, rest, inexact)
    lo, hi = min(found) - 1, max(found) + 1
    if inexact or op is None or op in (_OP.Equal, _OP.NotEqual):
        return set(range(lo, hi + 1))
    out: set[int] = set()
    for k in range(lo, hi):
        if _holds(a * k + rest, op) != _holds(a * (k + 1) + rest, op):
            out |= {k, k + 1}
    return out or set(range(lo, hi + 1))


def solve(d: Form, values: dict[Place, set[int]], relative: frozenset[Place], group: dict[Place, str],
          op: int | None = None, offered: dict[Place, set[int]] | None = None) -> list[tuple[Place, str, set[int]]]:
    """For each case value of ``d`` (compared with zero by ``op``): the figures it must straddle.

    Each answer is (place, how, figures): ``how`` is ``value`` (a figure of the
    value itself), ``relative`` (a date or a calendar field against another of
    its kind: the figure is how far apart they are) or ``count`` (a number of
    entries); beside each ``value`` of a value that is not a date, ``sides``
    gives the values the space must offer it (``sides`` above; against
    another case value, only where the values ``offered`` so far do not
    already fall on either side).  A date beside
    a length (a start plus its days against a window) gives the figure to the
    dates only.
    """
    out: list[tuple[Place, str, set[int]]] = []
    for (p, _t), a in d.coeffs:
        others = [(q, b) for (q, _u), b in d.coeffs if (q, _u) != (p, _t)]
        if p[1] == COUNT:
            if not others:
                out.append((p, "count", boundaries(a, d.const, d.inexact)))
            continue
        if p in relative:
            if others and any(q in relative and group.get(q) == group.get(p) for q, _ in others):
                if d.const:
                    out.append((p, "relative", {round(abs(d.const / a))}))
            elif not others:
                out.append((p, "value", boundaries(a, d.const, d.inexact)))
            continue
        if any(q in relative or q[1] == COUNT for q, _ in others):
            continue  # a length beside a date: the dates straddle the figure
        if not others:
            out.append((p, "value", boundaries(a, d.const, d.inexact)))
            out.append((p, "sides", sides(a, d.const, op, d.inexact)))
            continue
        found: set[int] = set()
        choices = [sorted(values.get(q, ()) or {0}) for q, _ in others]
        for combo in list(product(*choices))[:MAX_FORMS]:
            rest = d.const + sum(b * v for (_q, b), v in zip(others, combo))
            found |= boundaries(a, rest, d.inexact)
        out.append((p, "value", found))
        # against each figure of the others, what this one is offered must fall on either side; where its
        # own values already do (L < M, each offered 41 and 42 for a figure 42), nothing is added
        own = (offered or {}).get(p, set())
        needed: set[int] = set()
        for combo in list(product(*choices))[:MAX_FORMS]:
            rest = d.const + sum(b * v for (_q, b), v in zip(others, combo))
            if op is not None and not d.inexact and len({_holds(a * k + rest, op) for k in own}) == 2:
                continue
            needed |= sides(a, rest, op, d.inexact)
        out.append((p, "sides", needed))
    return out


# --------------------------------------------------------------------------
# every rule followed to a fixpoint
# --------------------------------------------------------------------------

_VALUES = (ast.AggregateFunction.Sum, ast.AggregateFunction.SumPlus, ast.AggregateFunction.Min,
           ast.AggregateFunction.Max)
CALENDAR = "calendar_date/4"


@dataclass
class Followed:
    numbers: dict[Place, set[int]]  # figures of a value (and how far apart dates are)
    absolute: dict[Place, set[int]]  # a date or a calendar field against a figure of its own
    counts: dict[str, set[int]]  # numbers of entries a count compares, by the place counted ("care_episode/2@0")
    unfollowed: tuple[str, ...]
    #: the values a case value (not a date) must take to put each comparison it reaches on either side
    sides: dict[Place, set[int]] = field(default_factory=dict)


def _args(term: ast.AST) -> list[ast.AST]:
    if term.ast_type == ast.ASTType.SymbolicTerm:
        return [ast.SymbolicTerm(term.location, a) for a in term.symbol.arguments]
    return list(getattr(term, "arguments", ()))


def _compound(term: ast.AST) -> bool:
    return (term.ast_type == ast.ASTType.Function and bool(term.name)) or (
        term.ast_type == ast.ASTType.SymbolicTerm and term.symbol.type == SymbolType.Function
        and bool(term.symbol.arguments))


@dataclass
class _Shape:
    body: list[tuple[str, list[ast.AST]]]  # positive conditions, in order
    heads: list[tuple[str, list[ast.AST]]]
    aggregates: list[ast.AST]
    #: (left, right, operator): an equality may bind a variable; None: tuples compared component by component
    comparisons: list[tuple[ast.AST, ast.AST, int | None]]


def _shape(stm: ast.AST) -> _Shape:
    from engine.deciding.predicates import nodes, uses_in

    body, heads = [], []
    for u in uses_in(stm):
        if u.head:
            heads.append((u.signature, _args(u.term)))
        elif u.positive:
            body.append((u.signature, _args(u.term)))
    aggregates, comparisons = [], []
    for n in nodes(stm.body):
        if n.ast_type == ast.ASTType.BodyAggregate:
            aggregates.append(n)
        elif n.ast_type == ast.ASTType.Comparison:
            compared = [n.term] + [g.term for g in n.guards]
            for x, g in zip(compared, n.guards):
                y, op = g.term, g.comparison
                if all(s.ast_type == ast.ASTType.Function and not s.name for s in (x, y)) \
                        and len(x.arguments) == len(y.arguments):  # tuples: component by component
                    # (an order of tuples is lexicographic: a component's order alone decides nothing)
                    part = op if op in (_OP.Equal, _OP.NotEqual) else None
                    comparisons += [(u, v, part) for u, v in zip(x.arguments, y.arguments)]
                else:
                    comparisons.append((x, y, op))
    return _Shape(body, heads, aggregates, comparisons)


def followed(rules: list[ast.AST], case: frozenset[str], dates: frozenset[Place], consts: dict[str, int]) -> Followed:
    """Every comparison's figures, for every case value that reaches it however far it travelled."""
    from engine.deciding.predicates import nodes, remembered

    # read once per statement in a process (walking clingo's syntax tree from Python is slow); kept per
    # statement object, as its terms carry the statement's place for what cannot be followed
    shapes = [remembered(r, "forms shape", _shape, located=True) for r in rules]
    terms = Terms(consts)
    kept: dict[Place, set[Form]] = {}
    relative = dates | {(CALENDAR, i) for i in (1, 2, 3)}
    group = {p: ("calendar" if p[0] == CALENDAR else "day") for p in relative}

    def read(sig: str, i: int, tag: object) -> set[Form]:
        if sig in case:
            return {case_value((sig, i), (tag,))}
        return {retag(f, tag) for f in kept.get((sig, i), ())}

    def aggregate_forms(agg: ast.AST, env: dict[str, set[Form]]) -> set[Form]:
        if agg.function == ast.AggregateFunction.Count:
            # the entries counted: the case places their first term comes from ("care_episode/2@0")
            places = {k[0] for e in agg.elements if e.terms for f in terms.forms(e.terms[0], env) for k, _ in f.coeffs}
            return {case_value((f"{s}@{i}", COUNT), ("count",)) for s, i in sorted(places) if i != COUNT}
        if agg.function in _VALUES:
            out: set[Form] = set()
            for e in agg.elements:
                if e.terms:
                    out |= terms.forms(e.terms[0], env)
            return out
        return set()

    def environment(shape: _Shape) -> dict[str, set[Form]]:
        env: dict[str, set[Form]] = {}
        for n, (sig, args) in enumerate(shape.body):
            for i, a in enumerate(args):
                if a.ast_type == ast.ASTType.Variable and a.name != "_":
                    env.setdefault(a.name, set()).update(read(sig, i, n))
        for _ in range(2):  # assignments and aggregates pass values on to the variable they bind
            for agg in shape.aggregates:
                for g in (agg.left_guard, agg.right_guard):
                    if g is not None and g.comparison == ast.ComparisonOperator.Equal \
                            and g.term.ast_type == ast.ASTType.Variable:
                        env.setdefault(g.term.name, set()).update(aggregate_forms(agg, env))
            for x, y, op in shape.comparisons:
                for v, other in ((x, y), (y, x)) if op == _OP.Equal else ():
                    if v.ast_type == ast.ASTType.Variable and v.name != "_":
                        found = terms.forms(other, env)
                        if found:
                            env.setdefault(v.name, set()).update(found)
        return {k: set(sorted(v)[:MAX_FORMS]) for k, v in env.items()}

    changed = True
    rounds = 0
    while changed and rounds < 50:
        changed, rounds = False, rounds + 1
        for shape in shapes:
            if not shape.heads:
                continue
            env = environment(shape)
            for sig, args in shape.heads:
                for i, a in enumerate(args):
                    if _compound(a):
                        continue
                    found = {canonical(f) for f in terms.forms(a, env)}
                    have = kept.setdefault((sig, i), set())
                    if not found <= have and len(have) < MAX_FORMS:
                        have |= set(sorted(found - have)[:MAX_FORMS - len(have)])
                        changed = True
    if changed:
        terms.unfollowed.add("a value that grows without end through a recursive rule")

    differences: list[tuple[Form, int | None]] = []  # left - right, compared with zero by the operator
    for shape in shapes:
        env = environment(shape)
        pairs: list[tuple[set[Form], set[Form], int | None]] = []  # left OP right
        # an equality that binds a variable no condition binds is an assignment, not a test: the variable
        # takes the other side's forms, and pairing those with each other would compare unrelated values
        bound = {n.name for _sig, args in shape.body for a in args for n in nodes(a)
                 if n.ast_type == ast.ASTType.Variable}

        def assigned(term: ast.AST, op: int | None) -> bool:
            if op != _OP.Equal or term.ast_type != ast.ASTType.Variable or term.name in bound:
                return False
            bound.add(term.name)
            return True

        for agg in shape.aggregates:
            value = aggregate_forms(agg, env)
            # ``#sum {...} > 35`` is a right guard; a left guard is written before: ``35 < #sum {...}``
            if agg.right_guard is not None and not assigned(agg.right_guard.term, agg.right_guard.comparison):
                pairs.append((value, terms.forms(agg.right_guard.term, env), agg.right_guard.comparison))
            if agg.left_guard is not None and not assigned(agg.left_guard.term, agg.left_guard.comparison):
                pairs.append((value, terms.forms(agg.left_guard.term, env), _FLIPPED[agg.left_guard.comparison]))
        for x, y, op in shape.comparisons:
            if not (assigned(x, op) or assigned(y, op)):
                pairs.append((terms.forms(x, env), terms.forms(y, env), op))
        for n, (sig, args) in enumerate(shape.body):
            for i, a in enumerate(args):  # a figure written in an argument is an equality test
                written = terms.forms(a, {})
                if written and all(f.constant for f in written) and not _compound(a):
                    pairs.append((read(sig, i, n), written, _OP.Equal))
        for left, right, op in pairs:
            for f, g in list(product(sorted(left), sorted(right)))[:MAX_FORMS * 4]:
                d = add(f, g, -1)
                if d.coeffs:
                    differences.append((d, op))

    numbers: dict[Place, set[int]] = {}
    absolute: dict[Place, set[int]] = {}
    counts: dict[str, set[int]] = {}
    offered: dict[Place, set[int]] = {}
    # a value against a figure first: a value compared with another then sees what that one is offered
    differences.sort(key=lambda x: len(x[0].coeffs) > 1)
    for _ in range(3):  # two case values compared: each takes the figures the other's offer
        for d, op in differences:
            for place, how, figs in solve(d, numbers, relative, group, op, offered):
                if how == "count":
                    counts.setdefault(place[0], set()).update(f for f in figs if f >= 0)
                elif how == "sides":
                    offered.setdefault(place, set()).update(figs)
                elif how == "value" and place in relative:
                    absolute.setdefault(place, set()).update(figs)
                else:
                    numbers.setdefault(place, set()).update(figs)
    return Followed(numbers, absolute, counts, tuple(sorted(terms.unfollowed)), offered)
