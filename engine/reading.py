"""What a program reads of a case: which facts, which values it tells apart.

``check`` and ``diff`` search a bounded space of case records; their proofs
hold for every record only if the space offers every distinction the
policies can draw.  Three readings give those distinctions, derived from the
rules themselves rather than listed by hand:

* ``reads``: the case predicates the rules read, in any condition;
* ``classes``: which constants of a closed vocabulary the program can tell
  apart.  Two constants are interchangeable when swapping them everywhere
  leaves the program (rules and anatomy facts) as it was: then swapping them
  in a case swaps them in every answer, and one stands for both;
* ``figures``: every number compared with a value that comes from the case,
  however far it travelled (a stated total of care feeding a span that is
  compared with 84; a translation compared with a figure a policy keeps in a
  fact).  A value flows through rule heads, arithmetic and aggregates
  (``#sum``, ``#min``, ``#max``); ``#count`` counts entries, whose bounds are
  the space's list lengths.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import clingo
from clingo import Symbol, SymbolType, ast

from engine.predicates import nodes, remembered, signature, uses_in

Place = tuple[str, int]  # (predicate signature, argument index)


def _unpool(stm: ast.AST) -> tuple[ast.AST, ...]:
    try:
        return tuple(stm.unpool())
    except (AttributeError, RuntimeError):
        return (stm,)


def unpooled(statements: Iterable[ast.AST]) -> list[ast.AST]:
    """The statements with every pool expanded, ``p(a; b).`` becoming ``p(a). p(b).``"""
    out: list[ast.AST] = []
    for stm in statements:
        out.extend(remembered(stm, "unpooled", _unpool))
    return out


def reads(statements: Iterable[ast.AST], signatures: Iterable[str]) -> frozenset[str]:
    """The predicates of ``signatures`` that some condition in ``statements`` reads."""
    wanted = frozenset(signatures)
    return frozenset(u.signature for stm in statements for u in uses_in(stm) if not u.head and u.signature in wanted)


# --------------------------------------------------------------------------
# constants the program tells apart
# --------------------------------------------------------------------------


def _swap_symbol(sym: Symbol, a: str, b: str) -> Symbol:
    if sym.type != SymbolType.Function:
        return sym
    if not sym.arguments:
        if sym.name == a:
            return clingo.Function(b, [], sym.positive)
        if sym.name == b:
            return clingo.Function(a, [], sym.positive)
        return sym
    return clingo.Function(sym.name, [_swap_symbol(x, a, b) for x in sym.arguments], sym.positive)


class _Swap(ast.Transformer):
    def __init__(self, a: str, b: str):
        self.a, self.b = a, b

    def visit_SymbolicTerm(self, node: ast.AST) -> ast.AST:
        return node.update(symbol=_swap_symbol(node.symbol, self.a, self.b))

    def visit_Function(self, node: ast.AST) -> ast.AST:
        node = node.update(**self.visit_children(node))
        if not node.arguments and node.name in (self.a, self.b):
            return node.update(name=self.b if node.name == self.a else self.a)
        return node

    def visit_SymbolicAtom(self, node: ast.AST) -> ast.AST:
        # predicate names are not constants: only their arguments are swapped
        term = node.symbol
        if term.ast_type == ast.ASTType.Function:
            return node.update(symbol=term.update(arguments=[self(x) for x in term.arguments]))
        if term.ast_type == ast.ASTType.SymbolicTerm and term.symbol.type == SymbolType.Function:
            sym = term.symbol
            swapped = clingo.Function(sym.name, [_swap_symbol(x, self.a, self.b) for x in sym.arguments], sym.positive)
            return node.update(symbol=term.update(symbol=swapped))
        return node.update(symbol=self(term))


_TOKEN = re.compile(r'"(?:\\.|[^"\\])*"|[A-Za-z_][A-Za-z0-9_\']*(\()?')


def _tokens(text: str) -> Iterator[re.Match[str]]:
    """The identifiers of a statement's text, strings skipped (their contents are never constants)."""
    for m in _TOKEN.finditer(text):
        if not m.group(0).startswith('"'):
            yield m


@dataclass
class Program:
    """A program's statements (pools expanded) and facts, indexed by the constants they mention.

    Constants are compared on the statements' text, where every identifier
    outside a string is a token: a name also used as a function symbol or a
    predicate is left to the exact test on the syntax tree.
    """

    statements: list[ast.AST]
    facts: list[Symbol] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.statements = [s for s in unpooled(self.statements) if s.ast_type != ast.ASTType.Comment]
        self._texts = [remembered(s, "text", str) for s in self.statements] + [f"{f}." for f in self.facts]
        self._mentions: dict[str, list[int]] = defaultdict(list)
        self._applied: set[str] = set()  # names used as a function symbol or predicate: f(...)
        for i, text in enumerate(self._texts):
            for m in _tokens(text):
                name = m.group(0).rstrip("(")
                if m.group(1):
                    self._applied.add(name)
                elif not name[0].isupper():
                    if not self._mentions[name] or self._mentions[name][-1] != i:
                        self._mentions[name].append(i)

    def mentions(self, constant: str) -> bool:
        return constant in self._mentions or constant in self._applied

    def _touched(self, *constants: str) -> list[int]:
        return sorted({i for c in constants for i in self._mentions.get(c, [])})

    def _rewrite(self, text: str, mapping: dict[str, str]) -> str:
        out, last = [], 0
        for m in _tokens(text):
            name = m.group(0)
            if name in mapping:
                out.append(text[last:m.start()])
                out.append(mapping[name])
                last = m.end()
        out.append(text[last:])
        return "".join(out)

    def swappable(self, a: str, b: str) -> bool:
        """Whether exchanging constants ``a`` and ``b`` everywhere leaves the program as it was."""
        touched = self._touched(a, b)
        if a in self._applied or b in self._applied:
            return self._swappable_exactly(a, b)
        before = sorted(self._texts[i] for i in touched)
        after = sorted(self._rewrite(self._texts[i], {a: b, b: a}) for i in touched)
        return before == after

    def _swappable_exactly(self, a: str, b: str) -> bool:
        swap = _Swap(a, b)
        n = len(self.statements)
        touched = [i for i in self._touched(a, b) if i < n]
        if sorted(self._texts[i] for i in touched) != sorted(str(swap(self.statements[i])) for i in touched):
            return False
        touched = [i - n for i in self._touched(a, b) if i >= n]
        return sorted(self._texts[n + i] for i in touched) == sorted(
            f"{_swap_symbol_args(self.facts[i], a, b)}." for i in touched)

    def classes(self, domain: Sequence[str]) -> list[list[str]]:
        """``domain`` split into classes of constants the program cannot tell apart, in domain order."""
        parent = {c: c for c in domain}

        def find(c: str) -> str:
            while parent[c] != c:
                parent[c] = parent[parent[c]]
                c = parent[c]
            return c

        unmentioned = [c for c in domain if not self.mentions(c)]
        for c in unmentioned[1:]:  # never mentioned: interchangeable without a look
            parent[find(c)] = find(unmentioned[0])
        mentioned = [c for c in domain if self.mentions(c)]
        # a swap leaves every statement's text with the domain masked as it was: only
        # constants whose masked statements agree can be swapped
        mask = {c: "\x00" for c in domain}
        shape = {c: sorted(self._rewrite(self._texts[i], mask) for i in self._touched(c)) for c in mentioned}
        for i, a in enumerate(mentioned):
            for b in mentioned[i + 1:]:
                if find(a) != find(b) and shape[a] == shape[b] and self.swappable(a, b):
                    parent[find(b)] = find(a)
        groups: dict[str, list[str]] = {}
        for c in domain:
            groups.setdefault(find(c), []).append(c)
        return list(groups.values())


def _swap_symbol_args(fact: Symbol, a: str, b: str) -> Symbol:
    return clingo.Function(fact.name, [_swap_symbol(x, a, b) for x in fact.arguments], fact.positive)


# --------------------------------------------------------------------------
# figures compared with values that come from the case
# --------------------------------------------------------------------------

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


def _read_rule(stm: ast.AST, consts: dict[str, int]) -> _Rule:
    atoms: list[_Atom] = []

    def walk(node: object, head: bool, positive: bool) -> None:
        if isinstance(node, ast.AST):
            kind = node.ast_type
            if kind == ast.ASTType.Literal:
                walk(node.atom, head, positive and node.sign == ast.Sign.NoSign)
                return
            if kind == ast.ASTType.SymbolicAtom:
                term = node.symbol
                parts = term.arguments if term.ast_type == ast.ASTType.Pool else [term]
                for part in parts:
                    sig = signature(part)
                    if sig is None:
                        continue
                    if part.ast_type == ast.ASTType.Function:
                        args = [_term(x, consts) for x in part.arguments]
                    else:
                        args = [_term(ast.SymbolicTerm(part.location, x), consts) for x in part.symbol.arguments]
                    atoms.append(_Atom(sig, args, positive, head))
                return
            if kind == ast.ASTType.ConditionalLiteral:
                walk(node.literal, head, positive)
                walk(node.condition, False, True)
                return
            if kind in (ast.ASTType.BodyAggregateElement, ast.ASTType.HeadAggregateElement):
                for key in node.child_keys:
                    inner_head = head and key == "condition" and kind == ast.ASTType.HeadAggregateElement
                    walk(getattr(node, key), inner_head, positive or not inner_head)
                return
            for key in node.child_keys:
                walk(getattr(node, key), head, positive)
        elif isinstance(node, (list, tuple)) or type(node).__name__ == "ASTSequence":
            for child in node:
                walk(child, head, positive)

    walk(stm.head, True, True)
    walk(stm.body, False, True)
    aggregates: list[tuple[list[tuple[bool, _Term]], list[_Term]]] = []
    equalities: list[tuple[_Term, _Term]] = []
    comparisons: list[list[list[_Term]]] = []
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
    return _Rule(atoms, aggregates, equalities, comparisons)


@dataclass(frozen=True)
class Figures:
    """Per case argument: the numbers, strings and constants it is compared with or equated to."""

    numbers: dict[Place, frozenset[int]]
    strings: dict[Place, frozenset[str]]
    constants: dict[Place, frozenset[str]]
    #: pairs of case places whose values are compared with each other (a date with the request date)
    related: frozenset[tuple[Place, Place]]

    def of(self, place: Place) -> frozenset[int]:
        return self.numbers.get(place, frozenset())


def figures(statements: Iterable[ast.AST], case_signatures: Iterable[str],
            dates: frozenset[Place] = frozenset()) -> Figures:
    """Every figure compared with a value that comes from a case argument, by that argument.

    A date plus a length compared with a figure (an episode's start and its
    days against a window) is straddled by the dates: the figure goes to the
    ``dates`` arguments only, not to the length, whose every sum the
    grounder would otherwise spell out.
    """
    statements = list(statements)
    case = frozenset(case_signatures)
    consts: dict[str, int] = {}
    for s in statements:
        if s.ast_type == ast.ASTType.Definition and _number(s.value) is not None:
            consts[s.name] = _number(s.value)  # type: ignore[assignment]
    key = f"rule {sorted(consts.items())}"
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

    numbers: dict[Place, set[int]] = defaultdict(set)
    strings: dict[Place, set[str]] = defaultdict(set)
    constants: dict[Place, set[str]] = defaultdict(set)
    related: set[tuple[Place, Place]] = set()
    for rule in rules:
        var_origins, var_values = bindings(rule)
        # a constant written in a case argument, or in an argument fed by one, is an equality test
        for atom in rule.atoms:
            if atom.head:
                continue
            for i, arg in enumerate(atom.arguments):
                found = place_origins((atom.sig, i))
                for o in found:
                    if arg.number is not None:
                        numbers[o].add(arg.number)
                    strings[o] |= arg.strings if not arg.compound else set()
                    if arg.constant:
                        constants[o].add(arg.constant)
        for groups in rule.comparisons:
            for group in groups:
                figs: set[int] = set()
                texts: set[str] = set()
                names: set[str] = set()
                found = [term_origins(t, var_origins) for t in group]
                found = [o & dates if o & dates and o - dates else o for o in found]
                for t in group:
                    figs |= term_values(t, var_values)
                    texts |= t.strings
                    if t.constant:
                        names.add(t.constant)
                for o_set in found:
                    for o in o_set:
                        numbers[o] |= figs
                        strings[o] |= texts
                        constants[o] |= names
                for x in range(len(found)):
                    for y in range(len(found)):
                        if x != y:
                            related.update((p, q) for p in found[x] for q in found[y] if p != q)
        for guards, firsts in rule.aggregates:
            for equal, guard in guards:
                if equal:
                    continue
                figs = term_values(guard, var_values)
                for first in firsts:
                    for o in term_origins(first, var_origins):
                        numbers[o] |= figs
    return Figures({k: frozenset(v) for k, v in numbers.items()},
                   {k: frozenset(v) for k, v in strings.items()},
                   {k: frozenset(v) for k, v in constants.items()}, frozenset(related))
