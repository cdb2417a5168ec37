"""Walking a policy's syntax tree: its nodes, and where each predicate occurs.

One walker serves every reader of rules: the lint (unknown and misdefined
predicates), the coverage of golden cases (which criteria have a met rule),
the batch rewriting (which predicates depend on the case) and the analyses
behind ``check`` and ``diff`` (what a policy reads from a case).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Use:
    """One occurrence of a predicate: defined (``head``) or read."""

    signature: str
    location: ast.Location
    head: bool
    first_arg: clingo.Symbol | None


def _use(fn: ast.AST, head: bool) -> Use | None:
    if fn.ast_type == ast.ASTType.Function and not fn.external:
        first = fn.arguments[0] if fn.arguments else None
        sym = first.symbol if first is not None and first.ast_type == ast.ASTType.SymbolicTerm else None
        return Use(f"{fn.name}/{len(fn.arguments)}", fn.location, head, sym)
    if fn.ast_type == ast.ASTType.SymbolicTerm and fn.symbol.type == clingo.SymbolType.Function:
        sym = fn.symbol
        return Use(f"{sym.name}/{len(sym.arguments)}", fn.location, head, sym.arguments[0] if sym.arguments else None)
    return None


def occurrences(node: object, head: bool) -> Iterator[Use]:
    """Every predicate occurrence under ``node``; ``head`` while defining."""
    if isinstance(node, ast.AST):
        kind = node.ast_type
        if kind == ast.ASTType.SymbolicAtom:
            term = node.symbol
            parts = term.arguments if term.ast_type == ast.ASTType.Pool else [term]
            for part in parts:
                found = _use(part, head)
                if found:
                    yield found
            return
        if kind == ast.ASTType.ConditionalLiteral:
            yield from occurrences(node.literal, head)
            yield from occurrences(node.condition, False)
            return
        if kind in (ast.ASTType.BodyAggregateElement, ast.ASTType.HeadAggregateElement):
            for key in node.child_keys:
                yield from occurrences(getattr(node, key),
                                       head and key == "condition" and kind == ast.ASTType.HeadAggregateElement)
            return
        for key in node.child_keys:
            yield from occurrences(getattr(node, key), head)
    elif isinstance(node, (list, tuple)) or type(node).__name__ == "ASTSequence":
        for child in node:
            yield from occurrences(child, head)


def uses_of(stm: ast.AST) -> Iterator[Use]:
    """The predicates one statement defines and reads."""
    if stm.ast_type == ast.ASTType.Rule:
        yield from occurrences(stm.head, True)
        yield from occurrences(stm.body, False)
    elif stm.ast_type == ast.ASTType.External:
        yield from occurrences(stm.atom, True)
        yield from occurrences(stm.body, False)
    elif stm.ast_type in (ast.ASTType.Minimize, ast.ASTType.ShowTerm, ast.ASTType.Heuristic,
                          ast.ASTType.Edge, ast.ASTType.ProjectAtom):
        for key in stm.child_keys:
            yield from occurrences(getattr(stm, key), False)


_REMEMBERED: dict[tuple[int, str], tuple[ast.AST, object]] = {}


def remembered(stm: ast.AST, what: str, compute: Callable[[ast.AST], T]) -> T:
    """``compute(stm)``, once per statement object and ``what``.

    A policy's statements live as long as the loaded policy, and the engine's
    core as long as the process: the analyses read the same statements again
    and again, and walking clingo's syntax tree from Python is slow.  The
    statement is kept beside the value, so its id is never reused meanwhile.
    """
    key = (id(stm), what)
    found = _REMEMBERED.get(key)
    if found is None or found[0] is not stm:
        found = _REMEMBERED[key] = (stm, compute(stm))
    return found[1]  # type: ignore[return-value]


def uses_in(stm: ast.AST) -> tuple[Use, ...]:
    """``uses_of(stm)``, remembered."""
    return remembered(stm, "uses", lambda s: tuple(uses_of(s)))


def relocated(uses: Iterable[Use], filename: str) -> Iterator[Use]:
    """Inner nodes keep the parser's '<string>'; give them the statement's file."""
    for u in uses:
        b, e = u.location.begin, u.location.end
        loc = ast.Location(ast.Position(filename, b.line, b.column), ast.Position(filename, e.line, e.column))
        yield Use(u.signature, loc, u.head, u.first_arg)


def uses(statements: Iterable[ast.AST]) -> Iterator[Use]:
    """Every predicate occurrence in ``statements``, located in its file."""
    for stm in statements:
        yield from relocated(uses_of(stm), stm.location.begin.filename)
