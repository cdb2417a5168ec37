"""A program's syntax tree walked: its nodes, and where each predicate occurs.

One walker for every question asked of a program's predicates, defined (in
a head) or read: lint's unknown and misplaced predicates, what
engine/deciding/core.lp defines and reads, what a policy may not define, test
coverage's met rules, the batch rewrite's case-dependent heads, what a
policy reads of a case (engine/analysing/reads.py) and the analyses behind ``check``
and ``diff``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import clingo
from clingo import ast

T = TypeVar("T")


def nodes(node: object) -> Iterator[ast.AST]:
    """Every AST node under ``node``, itself included, depth first."""
    if isinstance(node, ast.AST):
        yield node
        for key in node.child_keys:
            yield from nodes(getattr(node, key))
    elif isinstance(node, (list, tuple)) or type(node).__name__ == "ASTSequence":
        for child in node:
            yield from nodes(child)


def signature(term: ast.AST) -> str | None:
    """``name/arity`` of an atom's term (a function or a constant), else None."""
    if term.ast_type == ast.ASTType.Function and not term.external:
        return f"{term.name}/{len(term.arguments)}"
    if term.ast_type == ast.ASTType.SymbolicTerm and term.symbol.type == clingo.SymbolType.Function:
        return f"{term.symbol.name}/{len(term.symbol.arguments)}"
    return None


def _first_argument(term: ast.AST) -> clingo.Symbol | None:
    """An atom's first argument, when it is a constant (a criterion id, say)."""
    if term.ast_type == ast.ASTType.Function:
        first = term.arguments[0] if term.arguments else None
        return first.symbol if first is not None and first.ast_type == ast.ASTType.SymbolicTerm else None
    return term.symbol.arguments[0] if term.symbol.arguments else None


@dataclass(frozen=True)
class Use:
    """One occurrence of a predicate: defined (``head``) or read."""

    signature: str
    location: ast.Location
    head: bool
    first_arg: clingo.Symbol | None
    #: the atom's term as written, for a reader that needs its arguments (engine/analysing/reads.py)
    term: ast.AST | None = field(default=None, compare=False, repr=False)
    #: read in a positive condition, where it binds its variables (not under ``not``)
    positive: bool = field(default=True, compare=False, repr=False)


def atoms(node: object, head: bool, positive: bool = True) -> Iterator[Use]:
    """Every predicate occurrence under ``node``; ``head`` while defining, ``positive`` outside ``not``."""
    if isinstance(node, ast.AST):
        kind = node.ast_type
        if kind == ast.ASTType.Literal:
            yield from atoms(node.atom, head, positive and node.sign == ast.Sign.NoSign)
            return
        if kind == ast.ASTType.SymbolicAtom:
            term = node.symbol
            parts = term.arguments if term.ast_type == ast.ASTType.Pool else [term]
            for part in parts:
                found = signature(part)
                if found:
                    yield Use(found, part.location, head, _first_argument(part), part, positive)
            return
        if kind == ast.ASTType.ConditionalLiteral:
            yield from atoms(node.literal, head, positive)
            yield from atoms(node.condition, False)
            return
        if kind in (ast.ASTType.BodyAggregateElement, ast.ASTType.HeadAggregateElement):
            # an element's condition binds its own variables, whatever the sign of the aggregate
            for key in node.child_keys:
                inner_head = head and key == "condition" and kind == ast.ASTType.HeadAggregateElement
                yield from atoms(getattr(node, key), inner_head, positive or not inner_head)
            return
        for key in node.child_keys:
            yield from atoms(getattr(node, key), head, positive)
    elif isinstance(node, (list, tuple)) or type(node).__name__ == "ASTSequence":
        for child in node:
            yield from atoms(child, head, positive)


def uses_of(stm: ast.AST) -> Iterator[Use]:
    """The predicates one statement defines and reads."""
    if stm.ast_type == ast.ASTType.Rule:
        yield from atoms(stm.head, True)
        yield from atoms(stm.body, False)
    elif stm.ast_type == ast.ASTType.External:
        yield from atoms(stm.atom, True)
        yield from atoms(stm.body, False)
    elif stm.ast_type in (ast.ASTType.Minimize, ast.ASTType.ShowTerm, ast.ASTType.Heuristic,
                          ast.ASTType.Edge, ast.ASTType.ProjectAtom):
        for key in stm.child_keys:
            yield from atoms(getattr(stm, key), False)


_REMEMBERED: dict[tuple[int, str], tuple[ast.AST, object]] = {}
_BY_TEXT: dict[tuple[str, str], object] = {}


def remembered(stm: ast.AST, what: str, compute: Callable[[ast.AST], T], *, located: bool = False) -> T:
    """``compute(stm)``, once per statement and ``what``.

    A policy's statements live as long as the loaded policy, and the engine's
    core as long as the process: the analyses read the same statements again
    and again, and walking clingo's syntax tree from Python is slow.  The
    statement is kept beside the value, so its id is never reused meanwhile.

    A value is remembered by the statement's text as well, so that a policy
    edited in one rule and compared with the original (``diff
    reference@HEAD~1 reference``) is read again in that rule only.  A value
    that holds the statement's own places in its files (a rewritten
    statement, which the grounder's messages cite) is ``located``: it is
    remembered per statement object alone.
    """
    key = (id(stm), what)
    found = _REMEMBERED.get(key)
    if found is not None and found[0] is stm:
        return found[1]  # type: ignore[return-value]
    if located:
        value = compute(stm)
    else:
        by_text = (text(stm), what)
        if by_text not in _BY_TEXT:
            _BY_TEXT[by_text] = compute(stm)
        value = _BY_TEXT[by_text]
    _REMEMBERED[key] = (stm, value)
    return value  # type: ignore[return-value]


def text(stm: ast.AST) -> str:
    """The statement as clingo writes it, remembered."""
    return remembered(stm, "text", str, located=True)


def uses_in(stm: ast.AST) -> tuple[Use, ...]:
    """``uses_of(stm)``, remembered: what a statement defines and reads.  Its places may be those of
    another statement with the same text: a finding that cites a place reads ``uses``."""
    return remembered(stm, "uses", lambda s: tuple(uses_of(s)))


def relocated(found: Iterable[Use], filename: str) -> Iterator[Use]:
    """Inner nodes keep the parser's '<string>'; give them the statement's file."""
    for u in found:
        b, e = u.location.begin, u.location.end
        loc = ast.Location(ast.Position(filename, b.line, b.column), ast.Position(filename, e.line, e.column))
        yield Use(u.signature, loc, u.head, u.first_arg, u.term, u.positive)


def uses(statements: Iterable[ast.AST]) -> Iterator[Use]:
    """Every predicate occurrence in ``statements``, located in its file."""
    for stm in statements:
        yield from relocated(uses_of(stm), stm.location.begin.filename)
