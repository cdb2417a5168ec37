"""Rewriting a policy's rules without changing what they mean.

* ``rename_apart``: prefix every predicate that is not a case fact, so that two
  policies (and two copies of the engine's core) share one program and meet
  only on the case: the basis of ``necessity diff``.
* ``thresholds``: the integer constants each case predicate's arguments are
  compared against, so a search over case records can try one value on each
  side of every figure the policies use.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import clingo
from clingo import ast

from engine.syntax import nodes, signature, uses_of
from facts.vocabulary import SIGNATURES as CASE_SIGNATURES


class _Renamer(ast.Transformer):
    def __init__(self, prefix: str, keep: frozenset[str]):
        self.prefix = prefix
        self.keep = keep

    def _rename(self, term: ast.AST) -> ast.AST:
        sig = signature(term)
        if sig is None or sig in self.keep:
            return term
        if term.ast_type == ast.ASTType.Function:
            return term.update(name=self.prefix + term.name)
        sym = term.symbol
        return term.update(symbol=clingo.Function(self.prefix + sym.name, sym.arguments, sym.positive))

    def visit_SymbolicAtom(self, node: ast.AST) -> ast.AST:
        term = node.symbol
        if term.ast_type == ast.ASTType.Pool:
            return node.update(symbol=term.update(arguments=[self._rename(t) for t in term.arguments]))
        return node.update(symbol=self._rename(term))

    def visit_ShowSignature(self, node: ast.AST) -> ast.AST:
        if f"{node.name}/{node.arity}" in self.keep:
            return node
        return node.update(name=self.prefix + node.name)


def rename_apart(statements: Iterable[ast.AST], prefix: str,
                 keep: frozenset[str] = CASE_SIGNATURES) -> list[ast.AST]:
    """The statements with every predicate outside ``keep`` prefixed; #show dropped."""
    renamer = _Renamer(prefix, keep)
    out = []
    for stm in statements:
        if stm.ast_type in (ast.ASTType.ShowSignature, ast.ASTType.ShowTerm):
            continue
        out.append(renamer(stm))
    return out


# --------------------------------------------------------------------------
# thresholds
# --------------------------------------------------------------------------


def _bound_variables(body: Iterable[ast.AST], places: Iterable[tuple[str, int]] | None = None) -> dict[str, set[tuple[str, int]]]:
    """Variable name -> the (case predicate signature, argument index) it is read from.

    With ``places``, the (predicate, argument) pairs to look for instead of case predicates.
    """
    wanted = set(places) if places is not None else None
    where: dict[str, set[tuple[str, int]]] = defaultdict(set)
    for lit in body:
        if lit.ast_type != ast.ASTType.Literal or lit.sign != ast.Sign.NoSign:
            continue
        atom = lit.atom
        if atom.ast_type != ast.ASTType.SymbolicAtom or atom.symbol.ast_type != ast.ASTType.Function:
            continue
        fn = atom.symbol
        sig = f"{fn.name}/{len(fn.arguments)}"
        if wanted is None and sig not in CASE_SIGNATURES:
            continue
        for i, arg in enumerate(fn.arguments):
            if arg.ast_type == ast.ASTType.Variable and (wanted is None or (sig, i) in wanted):
                where[arg.name].add((sig, i))
    return where


def _constant(term: ast.AST) -> int | None:
    if term.ast_type == ast.ASTType.SymbolicTerm and term.symbol.type == clingo.SymbolType.Number:
        return term.symbol.number
    if term.ast_type == ast.ASTType.UnaryOperation and term.operator_type == ast.UnaryOperator.Minus:
        inner = _constant(term.argument)
        return -inner if inner is not None else None
    if term.ast_type == ast.ASTType.BinaryOperation:
        left, right = _constant(term.left), _constant(term.right)
        if left is None or right is None:
            return None
        op = term.operator_type
        if op == ast.BinaryOperator.Multiplication:
            return left * right
        if op == ast.BinaryOperator.Plus:
            return left + right
        if op == ast.BinaryOperator.Minus:
            return left - right
    return None


def _body_signatures(node: object) -> Iterable[str]:
    for n in nodes(node):
        if n.ast_type == ast.ASTType.SymbolicAtom:
            sig = signature(n.symbol)
            if sig:
                yield sig


def _comparisons(node: object) -> Iterable[ast.AST]:
    return (n for n in nodes(node) if n.ast_type == ast.ASTType.Comparison)


def thresholds(statements: Iterable[ast.AST]) -> tuple[dict[tuple[str, int], set[int]], dict[str, set[int]]]:
    """(figures compared with a case predicate's argument directly,
    figures compared in any rule that depends on a case predicate, by predicate).

    The second catches figures compared with derived values: a sum of episode
    days, a span between dates, a translation read through a helper predicate.
    """
    rules = [s for s in statements if s.ast_type == ast.ASTType.Rule]
    depends: dict[str, set[str]] = defaultdict(set)  # predicate -> case predicates it rests on
    heads_of = []
    for stm in rules:
        heads = set(_body_signatures(stm.head)) - CASE_SIGNATURES
        body = set(_body_signatures(stm.body))
        heads_of.append((heads, body))
    changed = True
    while changed:
        changed = False
        for heads, body in heads_of:
            reach = {b for b in body if b in CASE_SIGNATURES}
            for b in body:
                reach |= depends.get(b, set())
            for h in heads:
                if not reach <= depends[h]:
                    depends[h] |= reach
                    changed = True
    # figures a policy keeps in facts, e.g. unstable_translation(40)
    fact_values: dict[tuple[str, int], set[int]] = defaultdict(set)
    for stm in rules:
        if stm.body or stm.head.ast_type != ast.ASTType.Literal:
            continue
        atom = stm.head.atom
        if atom.ast_type != ast.ASTType.SymbolicAtom:
            continue
        term = atom.symbol
        if term.ast_type != ast.ASTType.Function:
            continue
        for i, arg in enumerate(term.arguments):
            value = _constant(arg)
            if value is not None:
                fact_values[(f"{term.name}/{len(term.arguments)}", i)].add(value)

    per_arg: dict[tuple[str, int], set[int]] = defaultdict(set)
    by_case: dict[str, set[int]] = defaultdict(set)
    for stm, (_heads, body) in zip(rules, heads_of):
        bound = _bound_variables(stm.body)
        from_facts = _bound_variables(stm.body, fact_values.keys())
        reach = {b for b in body if b in CASE_SIGNATURES}
        for b in body:
            reach |= depends.get(b, set())
        for cmp in _comparisons(stm.body):
            terms = [cmp.term] + [g.term for g in cmp.guards]
            figures = {v for v in (_constant(t) for t in terms) if v is not None}
            for t in terms:
                if t.ast_type == ast.ASTType.Variable:
                    for place in from_facts.get(t.name, ()):
                        figures |= fact_values[place]
            for sig in reach:
                by_case[sig] |= figures
            for t in terms:
                if t.ast_type == ast.ASTType.Variable:
                    for place in bound.get(t.name, ()):
                        per_arg[place] |= figures
    return per_arg, by_case


# --------------------------------------------------------------------------
# per_case: many cases in one program
# --------------------------------------------------------------------------

CASE_KEY = "case__"        # case__(K): case K is in the program
CASE_FACT = "case_fact__"  # case_fact__(K, Atom): Atom is a fact of case K
IN_CASE = "in_case__"      # in_case__(K, Atom): a shown Atom of case K


class UnsupportedForBatch(Exception):
    """A statement the per-case rewriting does not know how to key by case."""


def _defines_and_reads(stm: ast.AST) -> tuple[set[str], set[str]]:
    defines, reads = set(), set()
    for use in uses_of(stm):
        (defines if use.head else reads).add(use.signature)
    return defines, reads


def case_dependent(statements: Iterable[ast.AST], case_signatures: Iterable[str]) -> frozenset[str]:
    """The predicates whose atoms differ from one case to the next.

    Case facts, every #external (switched per case), and, to a fixpoint,
    every predicate some rule defines from one of those.
    """
    dependent = set(case_signatures)
    rules = []
    for stm in statements:
        defines, reads = _defines_and_reads(stm)
        if stm.ast_type == ast.ASTType.External:
            dependent |= defines
        rules.append((defines, reads))
    changed = True
    while changed:
        changed = False
        for defines, reads in rules:
            if reads & dependent and not defines <= dependent:
                dependent |= defines
                changed = True
    return frozenset(dependent)


class _Keyed(ast.Transformer):
    """Adds the case variable as first argument of every dependent atom."""

    def __init__(self, dependent: frozenset[str], key: ast.AST):
        self.dependent = dependent
        self.key = key
        self.touched = False

    def _keyed(self, term: ast.AST) -> ast.AST:
        sig = signature(term)
        if sig is None or sig not in self.dependent:
            return term
        self.touched = True
        if term.ast_type == ast.ASTType.Function:
            return term.update(arguments=[self.key, *term.arguments])
        sym = term.symbol  # a constant such as `whatif`
        return ast.Function(term.location, sym.name, [self.key], False)

    def visit_SymbolicAtom(self, node: ast.AST) -> ast.AST:
        term = node.symbol
        if term.ast_type == ast.ASTType.Pool:
            return node.update(symbol=term.update(arguments=[self._keyed(t) for t in term.arguments]))
        return node.update(symbol=self._keyed(term))


def _fresh_variable(statements: list[ast.AST]) -> str:
    names = {n.name for stm in statements for n in nodes(stm) if n.ast_type == ast.ASTType.Variable}
    name = "K__"
    while name in names:
        name += "_"
    return name


def per_case(statements: Iterable[ast.AST], case_signatures: Iterable[str]) -> list[ast.AST]:
    """The statements rewritten so that many cases share one program.

    Every case-dependent predicate ``p(X..)`` becomes ``p(K, X..)`` with
    ``case__(K)`` added to each rule that mentions one; a case's facts arrive
    as ``case_fact__(K, p(X..))`` and are unwrapped by generated rules; a
    minimise statement counts per case; and each dependent ``#show p/n``
    becomes ``#show in_case__(K, p(X..)) : p(K, X..)`` so that what is shown
    for case K is exactly what the program shows for that case alone.
    Raises UnsupportedForBatch for a statement it cannot key.
    """
    statements = list(statements)
    case_signatures = frozenset(case_signatures)
    dependent = case_dependent(statements, case_signatures)
    if not statements:
        return []
    loc = statements[0].location
    key = ast.Variable(loc, _fresh_variable(statements))

    def atom(name: str, args: list[ast.AST]) -> ast.AST:
        return ast.SymbolicAtom(ast.Function(loc, name, args, False))

    def literal(name: str, args: list[ast.AST]) -> ast.AST:
        return ast.Literal(loc, ast.Sign.NoSign, atom(name, args))

    in_program = literal(CASE_KEY, [key])
    out: list[ast.AST] = []
    ast.parse_string("#show.", lambda stm: out.append(stm) if stm.ast_type == ast.ASTType.ShowSignature else None)
    for stm in statements:
        kind = stm.ast_type
        keyed = _Keyed(dependent, key)
        if kind == ast.ASTType.ShowSignature:
            sig = f"{stm.name}/{stm.arity}"
            if sig in dependent:
                args = [ast.Variable(loc, f"X{i}__") for i in range(stm.arity)]
                shown = ast.Function(loc, stm.name, args, False)
                out.append(ast.ShowTerm(loc, ast.Function(loc, IN_CASE, [key, shown], False),
                                        [literal(stm.name, [key, *args])]))
            continue  # nothing static is read back per case
        if kind == ast.ASTType.ShowTerm:
            new = keyed(stm)
            if keyed.touched:
                out.append(new.update(term=ast.Function(loc, IN_CASE, [key, new.term], False),
                                      body=[*new.body, in_program]))
            continue
        if kind in (ast.ASTType.Rule, ast.ASTType.External):
            new = keyed(stm)
            out.append(new.update(body=[*new.body, in_program]) if keyed.touched else new)
            continue
        if kind == ast.ASTType.Minimize:
            new = keyed(stm)
            out.append(new.update(terms=[key, *new.terms], body=[*new.body, in_program]) if keyed.touched else new)
            continue
        if kind == ast.ASTType.Defined:
            sig = f"{stm.name}/{stm.arity}"
            out.append(stm.update(arity=stm.arity + 1) if sig in dependent else stm)
            continue
        new = keyed(stm)
        if keyed.touched:
            raise UnsupportedForBatch(f"{stm.location.begin.filename}:{stm.location.begin.line}: "
                                      f"cannot key this statement by case: {stm}")
        out.append(new)
    for sig in sorted(case_signatures & dependent):
        name, _, arity = sig.rpartition("/")
        args = [ast.Variable(loc, f"X{i}__") for i in range(int(arity))]
        fact = ast.Function(loc, name, args, False)
        out.append(ast.Rule(loc, literal(name, [key, *args]), [literal(CASE_FACT, [key, fact])]))
    return out
