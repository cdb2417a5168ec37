"""The engine's core program, engine/deciding/core.lp, and what it owns.

A policy declares criteria and the rules that meet them; the engine alone
derives statuses, determinations, the outcome and what would change them
(docs/engine.md: "the engine owns its answers").  What the core owns is read
from core.lp's own heads, so a predicate the core gains is owned at once and
no list has to follow it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from clingo import ast

from engine.deciding.predicates import atoms, relocated, signature, uses
from facts.vocabulary import SIGNATURES as CASE_SIGNATURES

CORE = Path(__file__).with_name("core.lp")

#: What a policy contributes to the engine (docs/engine.md).  Some of these the
#: engine also derives for its own purposes (met/3 of a composite criterion);
#: a policy may define all of them.  tests/test_lint.py checks this list
#: against engine/deciding/core.lp.
POLICY_API = frozenset({
    "criterion/3", "scope/2", "bears_on/2", "met/3", "not_met/3", "noted/3", "documentation/2",
    "part_of/2", "waives/2", "provision/1", "derived/1", "precondition_unmet/2", "documented_with/2",
    "justified/2", "advisory/1", "asks/3", "study_answer/4", "unsettled/3", "formula/2", "justifies/2",
})


@lru_cache(maxsize=1)
def statements() -> tuple[ast.AST, ...]:
    out: list[ast.AST] = []
    ast.parse_string(CORE.read_text(encoding="utf-8"), out.append)
    return tuple(out)


def statements_beside_formulas() -> tuple[ast.AST, ...]:
    """The core's statements less its formula evaluator: what the core reads of a case on its own
    (study dates, the request date).  A formula's reads come from the formula itself
    (engine/analysing/formulas.py), not from the evaluator, which reads every finding generically."""
    text = CORE.read_text(encoding="utf-8")
    start = text.index("% ---- formulas:")
    end = text.index("% ---- determinations", start)
    out: list[ast.AST] = []
    ast.parse_string(text[:start] + text[end:], out.append)
    return tuple(out)


@lru_cache(maxsize=1)
def signatures() -> tuple[frozenset[str], frozenset[str]]:
    """(what core.lp defines, what core.lp reads from a policy)."""
    found = list(uses(list(statements())))
    defined = {u.signature for u in found if u.head}
    read = {u.signature for u in found if not u.head} - defined - CASE_SIGNATURES
    return frozenset(defined), frozenset(read)


@lru_cache(maxsize=1)
def owned() -> frozenset[str]:
    """What only the engine may define: every head of core.lp outside the policy's contract."""
    return signatures()[0] - POLICY_API


@lru_cache(maxsize=1)
def shown() -> frozenset[str]:
    """What the engine reads back from a model: the signatures core.lp shows."""
    return frozenset(f"{s.name}/{s.arity}" for s in statements() if s.ast_type == ast.ASTType.ShowSignature)


Intrusion = tuple[ast.Location, str, str]  # where, lint code, message


def intrusions(program: Iterable[ast.AST]) -> list[Intrusion]:
    """Where a policy would answer in the engine's place or invent case facts.

    E105: a case fact in a head; E106: an engine predicate in a head (choice,
    disjunction and #external included), or an engine predicate's name in a
    #show; E107: an optimisation statement, which would reorder the what-if
    answers the engine minimises.
    """
    # by name: a determination/3 of the policy's own, shown, would look like an answer
    refused_shows = {sig.rpartition("/")[0] for sig in owned() | shown()}
    out: list[Intrusion] = []
    for stm in program:
        kind = stm.ast_type
        if kind == ast.ASTType.Rule:
            heads = _heads(stm)
        elif kind == ast.ASTType.External:
            heads = [(u.signature, u.location) for u in relocated(atoms(stm.atom, True), stm.location.begin.filename)]
        elif kind == ast.ASTType.ShowSignature:
            sig = f"{stm.name}/{stm.arity}"
            if stm.name in refused_shows:
                out.append((stm.location, "E106", f"#show of '{sig}': the engine alone shows its answers; remove it"))
            continue
        elif kind == ast.ASTType.ShowTerm:
            terms = stm.term.arguments if stm.term.ast_type == ast.ASTType.Pool else [stm.term]
            for term in terms:
                found = signature(term)
                if found and found.rpartition("/")[0] in refused_shows:
                    out.append((stm.location, "E106", f"#show of '{found}': the engine alone shows its answers; "
                                                      "remove it"))
            continue
        elif kind == ast.ASTType.Minimize:
            out.append((stm.location, "E107", "a #minimize, #maximize or weak constraint: the engine alone optimises "
                                              "(it finds the fewest criteria that would change a decision); remove it"))
            continue
        else:
            continue
        for sig, where in heads:
            if sig in CASE_SIGNATURES:
                out.append((where, "E105", f"'{sig}' is a case fact: a policy may read it, never define it"))
            elif sig in owned():
                out.append((where, "E106", f"'{sig}' is derived by the engine: a policy may read it, never define it"))
    return out


_ATOM = re.compile(r"([a-z_][A-Za-z0-9_']*)(\(.*\))?")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


@lru_cache(maxsize=1)
def _guarded_names() -> frozenset[str]:
    return frozenset(sig.rpartition("/")[0] for sig in owned() | CASE_SIGNATURES)


def _heads(rule: ast.AST) -> Iterable[tuple[str, ast.Location]]:
    # Most heads are one atom, and its text gives its name and arity: reading the text is one
    # call into clingo, walking the tree one per node (and loading a policy is on every cold
    # start).  Anything else (a choice, a disjunction, a pool, an aggregate) is walked.
    head = rule.head
    text = _STRING.sub('""', str(head))  # a string may hold any punctuation
    atom = _ATOM.fullmatch(text)
    if atom is None or ";" in text or ":" in text:
        return [(u.signature, u.location) for u in relocated(atoms(head, True), rule.location.begin.filename) if u.head]
    if atom.group(1) not in _guarded_names():
        return ()
    return ((f"{atom.group(1)}/{_arity(atom.group(2))}", rule.location),)


def _arity(args: str | None) -> int:
    """How many arguments ``(a, f(b, c))`` holds (strings already emptied): its commas outside brackets, plus one."""
    if not args:
        return 0
    depth, count = 0, 1
    for ch in args[1:-1]:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            count += 1
    return count
