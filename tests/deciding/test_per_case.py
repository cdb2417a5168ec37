"""The program keyed by case for batch (transform.per_case) leaves out what it cannot read back per case."""

from __future__ import annotations

from clingo import ast

from engine.deciding.core import statements as core_statements
from engine.deciding.policy import load
from engine.deciding.transform import IN_CASE, per_case
from facts import anatomy
from facts.vocabulary import SIGNATURES


def _parsed(text: str) -> list[ast.AST]:
    out: list[ast.AST] = []
    ast.parse_string(text, out.append)
    return [s for s in out if s.ast_type != ast.ASTType.Program]


def test_a_static_show_is_left_out_and_a_static_rule_kept():
    """`#show 1.` reads no case: kept, every case would show it, and the reader cannot split it by case
    (test_hardening.py::test_what_a_policy_shows_of_its_own_is_ignored[number] failed with it kept)."""
    static = {f"{a.name}/{len(a.arguments)}" for a in anatomy()}
    own = _parsed("#show 1.\nfoo(1).\n#show foo/1.\n")
    program = per_case((*core_statements(), *load("reference").statements, *own), SIGNATURES - static)
    texts = [str(s) for s in program]
    shows = [s for s in program if s.ast_type == ast.ASTType.ShowTerm]
    assert shows and all(IN_CASE in str(s) for s in shows), [str(s) for s in shows if IN_CASE not in str(s)]
    assert "foo(1)." in texts
