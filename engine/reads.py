"""What a program reads of a case: the case predicates its rules read, and for which criterion.

One derivation serves every reader of it: the DTR questionnaire
(exchange/documents.py: the case fields a policy reads, and the criteria
that read each) and the analyses behind ``check`` and ``diff``
(``read_signatures``: the case predicates the case space must generate).

A read is an atom in a condition: a rule body, the condition of a head
literal (``{ a(X) : b(X) }``), the body of an ``#external``, ``#minimize``,
``#show`` or ``#heuristic``.  It is attributed to a criterion when the
criterion's own rules read it (``met``, ``not_met``, ``noted``,
``precondition_unmet``, ``unsettled``: docs/authoring.md), directly or
through the predicates the program defines, and through the questions the
criterion asks of imaging (``asks(Id, Scope, Q)``, answered study by study
by the rules whose head is ``study_answer(Q, ...)``: engine/core.lp).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from clingo import ast

from engine.policy import Policy
from engine.predicates import nodes, uses_of

#: Heads through which a policy says why a criterion stands (first argument: the criterion).
CRITERION_HEADS = frozenset({"met", "not_met", "noted", "precondition_unmet", "unsettled"})
#: A criterion's questions of imaging, and the rules that answer them (engine/core.lp, "imaging").
ASKS, ANSWERS = "asks/3", "study_answer/4"

Fixed = tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class Read:
    """A case predicate a program reads.

    ``criterion`` is the criterion whose rules read it, or None for a read
    outside every criterion.  ``fixed`` holds the arguments the rule fixes, as
    (position, constant): ``finding(adl_limitation, _)`` is
    ``((0, "adl_limitation"),)``; a term such as ``stenosis(L, S)`` in
    ``documented/1`` is fixed by its name.
    """

    criterion: str | None
    predicate: str  # name/arity
    fixed: Fixed = ()


def unpooled(statements: Iterable[ast.AST]) -> list[ast.AST]:
    """The statements with every pool expanded, ``p(a; b).`` becoming ``p(a). p(b).``"""
    out: list[ast.AST] = []
    for stm in statements:
        try:
            out.extend(stm.unpool())
        except (AttributeError, RuntimeError):
            out.append(stm)
    return out


def _name_args(term: ast.AST) -> tuple[str, list[ast.AST]]:
    if term.ast_type == ast.ASTType.SymbolicTerm:
        sym = term.symbol
        return sym.name, [ast.SymbolicTerm(term.location, a) for a in sym.arguments]
    return term.name, list(term.arguments)


def _signature(term: ast.AST) -> str:
    name, args = _name_args(term)
    return f"{name}/{len(args)}"


def _constant(term: ast.AST) -> str | None:
    """A ground constant, string or named term as written, or None for a variable or expression."""
    if term.ast_type == ast.ASTType.SymbolicTerm:
        sym = term.symbol
        if sym.type.name == "String":
            return sym.string
        if sym.type.name == "Function":
            return sym.name
        return str(sym)
    if term.ast_type == ast.ASTType.Function and not term.external and term.name:
        return term.name
    return None


def _shape(term: ast.AST) -> tuple[str, int] | None:
    """The name and arity of a term such as ``coronal_deformity(L)``: what ties a question to its answers."""
    if term.ast_type == ast.ASTType.SymbolicTerm and term.symbol.type.name == "Function":
        return term.symbol.name, len(term.symbol.arguments)
    if term.ast_type == ast.ASTType.Function and not term.external and term.name:
        return term.name, len(term.arguments)
    return None


def _heads(stm: ast.AST) -> list[ast.AST]:
    """The atoms a statement defines (engine/predicates.py tells heads from conditions)."""
    return [u.term for u in uses_of(stm) if u.head and u.term is not None]


def _read(stm: ast.AST) -> list[ast.AST]:
    """The atoms a statement reads: a rule body, a head literal's condition, the body of a directive."""
    return [u.term for u in uses_of(stm) if not u.head and u.term is not None]


class _Program:
    """A program's rules, indexed by the predicates they define."""

    def __init__(self, statements: list[ast.AST], signatures: frozenset[str]):
        self.statements = statements
        self.signatures = signatures
        self.defined: dict[str, list[ast.AST]] = {}
        self.facts: dict[str, list[list[str | None]]] = {}
        only_facts: dict[str, bool] = {}
        for stm in statements:
            for term in _heads(stm):
                sig = _signature(term)
                self.defined.setdefault(sig, []).append(stm)
                if stm.ast_type == ast.ASTType.Rule and not stm.body and stm.head.ast_type == ast.ASTType.Literal:
                    only_facts.setdefault(sig, True)
                    self.facts.setdefault(sig, []).append([_constant(a) for a in _name_args(term)[1]])
                else:
                    only_facts[sig] = False
        self.by_facts = {sig for sig, flag in only_facts.items() if flag}

    def _binding(self, stm: ast.AST, body: list[ast.AST], variable: str) -> set[str] | None:
        """The constants ``variable`` is bound to: by ``V = c``, or by a predicate defined by facts alone."""
        for n in nodes(getattr(stm, "body", ())):
            if n.ast_type == ast.ASTType.Comparison and len(n.guards) == 1 \
                    and n.guards[0].comparison == ast.ComparisonOperator.Equal:
                left, right = n.term, n.guards[0].term
                for var, value in ((left, right), (right, left)):
                    if var.ast_type == ast.ASTType.Variable and var.name == variable and _constant(value) is not None:
                        return {_constant(value)}
        for term in body:
            sig = _signature(term)
            if sig not in self.by_facts or sig in self.signatures:
                continue
            for i, a in enumerate(_name_args(term)[1]):
                if a.ast_type == ast.ASTType.Variable and a.name == variable:
                    values = {row[i] for row in self.facts.get(sig, []) if i < len(row) and row[i] is not None}
                    if values:
                        return values
        return None

    def reads(self, stm: ast.AST) -> Iterator[tuple[str, Fixed]]:
        """The case predicates a statement reads, each with the arguments it fixes."""
        body = _read(stm)
        for term in body:
            sig = _signature(term)
            if sig not in self.signatures:
                continue
            options: list[list[tuple[int, str]]] = [[]]
            for i, a in enumerate(_name_args(term)[1]):
                value = _constant(a)
                if value is not None:
                    options = [o + [(i, value)] for o in options]
                elif a.ast_type == ast.ASTType.Variable:
                    bound = self._binding(stm, body, a.name)
                    if bound:
                        options = [o + [(i, v)] for o in options for v in sorted(bound)]
            for o in options:
                yield sig, tuple(o)

    def criteria(self) -> dict[str, list[ast.AST]]:
        """Each criterion's own rules, and the rules answering the questions it asks, in program order."""
        own: dict[str, list[ast.AST]] = {}
        asked: dict[str, set[tuple[str, int]]] = {}
        for stm in self.statements:
            for term in _heads(stm):
                name, args = _name_args(term)
                if not args or _constant(args[0]) is None or args[0].ast_type == ast.ASTType.Variable:
                    continue
                cid = _constant(args[0])
                if name in CRITERION_HEADS:
                    own.setdefault(cid, []).append(stm)
                elif f"{name}/{len(args)}" == ASKS and _shape(args[2]) is not None:
                    asked.setdefault(cid, set()).add(_shape(args[2]))
        for cid, shapes in asked.items():
            for stm in self.defined.get(ANSWERS, []):
                for term in _heads(stm):
                    args = _name_args(term)[1]
                    if _signature(term) == ANSWERS and _shape(args[0]) in shapes:
                        own.setdefault(cid, []).append(stm)
        return own


def case_reads(program: Policy | Iterable[ast.AST], signatures: Iterable[str] | None = None) -> tuple[Read, ...]:
    """Every case predicate the program reads, once per criterion that reads it and once unattributed.

    ``program`` is a policy or a list of statements (several policies, the
    engine's core); ``signatures`` the case predicates (the case vocabulary
    by default).  A variable bound in the same rule by ``V = c`` or by a
    predicate the program defines by facts alone
    (``neural_compression_sign(F), finding(F, yes)``) fixes that argument to
    each constant; any other variable leaves it open.
    """
    if signatures is None:
        from facts.vocabulary import SIGNATURES

        signatures = SIGNATURES
    statements = program.statements if isinstance(program, Policy) else program
    p = _Program(unpooled(statements), frozenset(signatures))
    found: dict[Read, None] = {}
    for stm in p.statements:
        for sig, fixed in p.reads(stm):
            found.setdefault(Read(None, sig, fixed))
    for cid, start in p.criteria().items():
        seen: set[str] = set()
        pending = list(start)
        visited: set[int] = set()
        while pending:
            stm = pending.pop()
            if id(stm) in visited:
                continue
            visited.add(id(stm))
            for sig, fixed in p.reads(stm):
                found.setdefault(Read(cid, sig, fixed))
            for term in _read(stm):
                sig = _signature(term)
                if sig in p.signatures or sig in seen or sig not in p.defined:
                    continue
                seen.add(sig)
                pending.extend(r for r in p.defined[sig] if _read(r))
    return tuple(sorted(found, key=lambda r: (r.criterion or "", r.predicate, r.fixed)))


def read_signatures(statements: Iterable[ast.AST], signatures: Iterable[str]) -> frozenset[str]:
    """The predicates of ``signatures`` some condition in ``statements`` reads (what a case space must generate)."""
    return frozenset(r.predicate for r in case_reads(list(statements), signatures))
