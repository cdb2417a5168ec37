"""Rewriting a policy's rules without changing what they mean.

* ``rename_apart``: prefix every predicate that is not a case fact, so that two
  policies (and two copies of the engine's core) share one program and meet
  only on the case: the basis of ``necessity diff``.
* ``relax``: integrity constraints become a flag, so that a search can find
  the cases on which a policy has no answer at all.
* ``per_case``: many cases keyed into one program, for ``necessity batch``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import clingo
from clingo import ast

from engine.deciding.predicates import signature, text, uses_in
from facts.vocabulary import SIGNATURES as CASE_SIGNATURES


class _Renamer(ast.Transformer):
    def __init__(self, prefix: str, keep: frozenset[str], shared: frozenset[str] = frozenset(),
                 shared_prefix: str = ""):
        self.prefix = prefix
        self.keep = keep
        self.shared = shared
        self.shared_prefix = shared_prefix

    def _rename(self, term: ast.AST) -> ast.AST:
        sig = signature(term)
        if sig is None or sig in self.keep:
            return term
        prefix = self.shared_prefix if sig in self.shared else self.prefix
        if term.ast_type == ast.ASTType.Function:
            return term.update(name=prefix + term.name)
        sym = term.symbol
        return term.update(symbol=clingo.Function(prefix + sym.name, sym.arguments, sym.positive))

    def visit_SymbolicAtom(self, node: ast.AST) -> ast.AST:
        term = node.symbol
        if term.ast_type == ast.ASTType.Pool:
            return node.update(symbol=term.update(arguments=[self._rename(t) for t in term.arguments]))
        return node.update(symbol=self._rename(term))

    def visit_ShowSignature(self, node: ast.AST) -> ast.AST:
        if f"{node.name}/{node.arity}" in self.keep:
            return node
        return node.update(name=self.prefix + node.name)


def rename_apart(statements: Iterable[ast.AST], prefix: str, keep: frozenset[str] = CASE_SIGNATURES,
                 shared: frozenset[str] = frozenset(), shared_prefix: str = "") -> list[ast.AST]:
    """The statements with every predicate outside ``keep`` prefixed; #show dropped.

    Predicates in ``shared`` take ``shared_prefix`` instead: two copies that
    define them alike can then hold them once.
    """
    renamer = _Renamer(prefix, keep, shared, shared_prefix)
    out = []
    for stm in statements:
        if stm.ast_type in (ast.ASTType.ShowSignature, ast.ASTType.ShowTerm):
            continue
        out.append(renamer(stm))
    return out


# --------------------------------------------------------------------------
# relax: a constraint becomes a flag
# --------------------------------------------------------------------------

#: The flag a relaxed program derives where the original has a constraint violated.
VIOLATED = "constraint_violated__"


def is_constraint(stm: ast.AST) -> bool:
    return (stm.ast_type == ast.ASTType.Rule and stm.head.ast_type == ast.ASTType.Literal
            and stm.head.atom.ast_type == ast.ASTType.BooleanConstant and not stm.head.atom.value
            and stm.head.sign == ast.Sign.NoSign)


def relax(statements: Iterable[ast.AST]) -> list[ast.AST]:
    """The statements with each integrity constraint ``:- B.`` turned into ``constraint_violated__ :- B.``

    A case on which the original has no answer because a constraint fires
    gets, in the relaxed program, an answer that says so: the search can then
    ask for such a case instead of never seeing it.
    """
    out = []
    for stm in statements:
        if is_constraint(stm):
            loc = stm.location
            flag = ast.Literal(loc, ast.Sign.NoSign, ast.SymbolicAtom(ast.Function(loc, VIOLATED, [], False)))
            stm = stm.update(head=flag)
        out.append(stm)
    return out


# --------------------------------------------------------------------------
# per_case: many cases in one program
# --------------------------------------------------------------------------

CASE_KEY = "case__"        # case__(K): case K is in the program
CASE_FACT = "case_fact__"  # case_fact__(K, Atom): Atom is a fact of case K
IN_CASE = "in_case__"      # in_case__(K, Atom): a shown Atom of case K


class UnsupportedForBatch(Exception):
    """A statement the per-case rewriting does not know how to key by case."""


#: The statements whose every atom ``uses_of`` reads (engine/deciding/predicates.py): one that reads no
#: case-dependent predicate is left as it is by ``_Keyed``, and ``per_case`` need not walk it.
_WALKED = (ast.ASTType.Rule, ast.ASTType.External, ast.ASTType.Minimize, ast.ASTType.ShowTerm)


def _defines_and_reads(stm: ast.AST) -> tuple[set[str], set[str]]:
    defines, reads = set(), set()
    for use in uses_in(stm):
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
        # an atom left as it is is returned as it is: the transformer then rebuilds none of its parents
        term = node.symbol
        if term.ast_type == ast.ASTType.Pool:
            parts = list(term.arguments)
            keyed = [self._keyed(t) for t in parts]
            if all(k is t for k, t in zip(keyed, parts)):
                return node
            return node.update(symbol=term.update(arguments=keyed))
        keyed = self._keyed(term)
        return node if keyed is term else node.update(symbol=keyed)


_WORD = re.compile(r"[A-Za-z_'][A-Za-z0-9_']*")


def _fresh_variable(statements: list[ast.AST]) -> str:
    """A variable name no statement uses: checked against every word of the statements' text (a superset
    of their variables' names, read in one call per statement instead of a walk of every node)."""
    words = {w for stm in statements for w in _WORD.findall(text(stm)) if w.startswith("K__")}
    name = "K__"
    while name in words:
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
        if kind in _WALKED and not {u.signature for u in uses_in(stm)} & dependent:
            # nothing in it to key: what the rewriting below does with it, without walking it
            if kind != ast.ASTType.ShowTerm:  # a static #show is not read back per case: left out
                out.append(stm)
            continue
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
