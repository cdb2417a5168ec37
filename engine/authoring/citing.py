"""E309: evidence a reviewer would read as a raw atom.

A criterion's evidence (the third argument of ``met/3``, ``not_met/3``,
``noted/3``, ``unsettled/3``, the fourth of ``study_answer/4``) is shown as a
sentence (engine/deciding/evidence.py).  Every predicate of the case
vocabulary and the engine's own terms have words; anything else a policy
cites, a term of its own (``pt_course(E)``) or a vocabulary name at another
arity, would reach the text, the letter and the page as ``pt_course(2)``.

The term is followed to where it is written: cited directly, or bound to a
variable by a predicate of the policy (``met(C, S, Why) :- episode_fact(E,
Why)``), whose rules' heads say what it can be.  A variable a case fact binds
holds a value (a number, a constant, a string), which reads as itself.
"""

from __future__ import annotations

from collections.abc import Iterator

from clingo import SymbolType, ast

from engine.deciding.evidence import ABSENT_TERMS, worded
from engine.deciding.predicates import signature

#: Where a policy's heads carry evidence: signature -> argument position.
EVIDENCE_AT = {"met/3": 2, "not_met/3": 2, "noted/3": 2, "unsettled/3": 2, "study_answer/4": 3}
#: Wrappers the engine words around the fact inside them.
_WRAPPERS = frozenset({"imprecise/1", "conflicting/1"})

Problem = tuple[str, int, int, str]  # where the term is written (file, line, column), its signature


def _head_terms(stm: ast.AST) -> Iterator[ast.AST]:
    """The function terms a rule's head defines (a pool split)."""
    head = stm.head
    if head.ast_type != ast.ASTType.Literal or head.atom.ast_type != ast.ASTType.SymbolicAtom:
        return
    term = head.atom.symbol
    yield from (term.arguments if term.ast_type == ast.ASTType.Pool else [term])


def _arguments(term: ast.AST) -> list[ast.AST]:
    if term.ast_type == ast.ASTType.Function:
        return list(term.arguments)
    if term.ast_type == ast.ASTType.SymbolicTerm and term.symbol.type == SymbolType.Function:
        return [ast.SymbolicTerm(term.location, a) for a in term.symbol.arguments]
    return []


class Citations:
    """The unworded terms a policy's statements can cite, each where it is written."""

    def __init__(self, statements: list[ast.AST]):
        self._rules = [s for s in statements if s.ast_type == ast.ASTType.Rule]
        self._defined: dict[str, list[tuple[ast.AST, ast.AST]]] = {}
        for stm in self._rules:
            for term in _head_terms(stm):
                sig = signature(term)
                if sig:
                    self._defined.setdefault(sig, []).append((stm, term))
        self._memo: dict[tuple[str, int], list[Problem]] = {}

    def problems(self) -> list[Problem]:
        out: list[Problem] = []
        for sig, at in EVIDENCE_AT.items():
            out += self._position(sig, at)
        return sorted(set(out))

    def _position(self, sig: str, at: int) -> list[Problem]:
        """What argument ``at`` of the heads of ``sig`` can hold, unworded."""
        key = (sig, at)
        if key in self._memo:
            return self._memo[key]
        self._memo[key] = []  # a cycle adds nothing
        out: list[Problem] = []
        for stm, term in self._defined.get(sig, ()):
            args = _arguments(term)
            if at < len(args):
                out += self._term(args[at], stm)
        self._memo[key] = out
        return out

    def _term(self, term: ast.AST, stm: ast.AST, absent: bool = False) -> list[Problem]:
        kind = term.ast_type
        if kind == ast.ASTType.Pool:
            return [p for t in term.arguments for p in self._term(t, stm, absent)]
        if kind == ast.ASTType.Variable:
            return self._variable(term.name, stm, absent)
        sig = signature(term) if kind in (ast.ASTType.Function, ast.ASTType.SymbolicTerm) else None
        if sig is None or sig.endswith("/0"):
            return []  # a number, a string, a constant: read as itself
        if sig in _WRAPPERS or sig == "absent/1":
            return self._term(_arguments(term)[0], stm, sig == "absent/1")
        if sig == "exclusion/1":
            inner = _arguments(term)[0]
            if inner.ast_type == ast.ASTType.SymbolicTerm and inner.symbol.type != SymbolType.String:
                return [(stm.location.begin.filename, term.location.begin.line, term.location.begin.column,
                         "exclusion/1")]  # a sentence is a string
            return []
        if worded(sig) or (absent and sig in ABSENT_TERMS):
            return []
        return [(stm.location.begin.filename, term.location.begin.line, term.location.begin.column, sig)]

    def _variable(self, name: str, stm: ast.AST, absent: bool) -> list[Problem]:
        """A variable's value: bound by a comparison (``W = f(X)``) or by a predicate of the policy."""
        sources: list[tuple[str, int]] = []
        for lit in stm.body:
            if lit.ast_type != ast.ASTType.Literal or lit.sign != ast.Sign.NoSign:
                continue
            atom = lit.atom
            if atom.ast_type == ast.ASTType.Comparison and len(atom.guards) == 1 \
                    and atom.guards[0].comparison == ast.ComparisonOperator.Equal:
                left, right = atom.term, atom.guards[0].term
                for this, other in ((left, right), (right, left)):
                    if this.ast_type == ast.ASTType.Variable and this.name == name:
                        return self._term(other, stm, absent)
            if atom.ast_type != ast.ASTType.SymbolicAtom:
                continue
            sig = signature(atom.symbol)
            for i, arg in enumerate(_arguments(atom.symbol)):
                if arg.ast_type == ast.ASTType.Variable and arg.name == name and sig:
                    if sig not in self._defined:
                        return []  # a case fact or the engine's: a value, or evidence checked where it is made
                    sources.append((sig, i))
        return self._position(*sources[0]) if sources else []


def problems(statements: list[ast.AST]) -> list[Problem]:
    """Every term a policy cites as evidence that has no words, where it is written."""
    return Citations(statements).problems()
