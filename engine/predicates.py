"""Where each predicate occurs in a program: defined (in a head) or read.

One walker for every question asked of a program's predicates: lint's
unknown and misplaced predicates, what engine/core.lp defines and reads, what
a policy may not define, test coverage's met rules and the batch rewrite's
case-dependent heads.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import clingo
from clingo import ast


@dataclass(frozen=True)
class Use:
    signature: str
    location: ast.Location
    head: bool
    first_arg: clingo.Symbol | None
    #: the atom's term as written, for a reader that needs its arguments (engine/reads.py)
    term: ast.AST | None = field(default=None, compare=False, repr=False)


def signature(fn: ast.AST) -> tuple[str, clingo.Symbol | None] | None:
    """``name/arity`` of a function term, and its first argument when that is a constant."""
    if fn.ast_type == ast.ASTType.Function and not fn.external:
        first = fn.arguments[0] if fn.arguments else None
        sym = first.symbol if first is not None and first.ast_type == ast.ASTType.SymbolicTerm else None
        return f"{fn.name}/{len(fn.arguments)}", sym
    if fn.ast_type == ast.ASTType.SymbolicTerm and fn.symbol.type == clingo.SymbolType.Function:
        sym = fn.symbol
        return f"{sym.name}/{len(sym.arguments)}", (sym.arguments[0] if sym.arguments else None)
    return None


def atoms(node: object, head: bool) -> Iterator[Use]:
    """Every predicate occurrence under ``node``; ``head`` while defining."""
    if isinstance(node, ast.AST):
        kind = node.ast_type
        if kind == ast.ASTType.SymbolicAtom:
            term = node.symbol
            parts = term.arguments if term.ast_type == ast.ASTType.Pool else [term]
            for part in parts:
                found = signature(part)
                if found:
                    yield Use(found[0], part.location, head, found[1], part)
            return
        if kind == ast.ASTType.ConditionalLiteral:
            yield from atoms(node.literal, head)
            yield from atoms(node.condition, False)
            return
        if kind in (ast.ASTType.BodyAggregateElement, ast.ASTType.HeadAggregateElement):
            for key in node.child_keys:
                yield from atoms(getattr(node, key), head and key == "condition" and kind == ast.ASTType.HeadAggregateElement)
            return
        for key in node.child_keys:
            yield from atoms(getattr(node, key), head)
    elif isinstance(node, (list, tuple)) or type(node).__name__ == "ASTSequence":
        for child in node:
            yield from atoms(child, head)


def uses(statements: list[ast.AST]) -> Iterator[Use]:
    for stm in statements:
        yield from relocated(uses_of(stm), stm.location.begin.filename)


def relocated(found: Iterator[Use], filename: str) -> Iterator[Use]:
    """Inner nodes keep the parser's '<string>'; give them the statement's file."""
    for u in found:
        b, e = u.location.begin, u.location.end
        loc = ast.Location(ast.Position(filename, b.line, b.column), ast.Position(filename, e.line, e.column))
        yield Use(u.signature, loc, u.head, u.first_arg, u.term)


def uses_of(stm: ast.AST) -> Iterator[Use]:
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
