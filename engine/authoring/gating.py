"""W310 and W311: what ``check`` would find later, said by lint at the line.

* W310, a criterion nothing gates on: no determination tree (``justifies/2``),
  no rule and no other criterion that gates anything reads it
  (``criterion("X")`` / ``satisfied("X")`` in a formula, ``holds/2``,
  ``satisfied/2``, ``status/3`` in a rule, ``part_of/2`` of a whole or
  ``waives/2`` of a criterion that gates), and it is not judged per item (the
  core gates an item on every criterion scoped to it).  Its status is
  computed and shown, and changes no answer.  A ``provision/1`` or
  ``advisory/1`` gates nothing by design.
* W311, a criterion whose rules read what no case can produce: a rule of the
  criterion (``met/3``, ``not_met/3``, ``noted/3``, ``unsettled/3``,
  ``precondition_unmet/2``) or a formula leaf reads a case fact under a name
  the record never gives (``finding(smoker, yes)``: no field of the case
  model emits the finding ``smoker``, facts/footprint.py), or a predicate of
  the policy whose every rule does.  That rule never applies.
"""

from __future__ import annotations

from collections.abc import Iterator

import clingo
from clingo import ast

from engine.deciding import blocks
from engine.deciding.predicates import signature, uses_in
from facts.footprint import footprints, key_position
from facts.vocabulary import SIGNATURES as CASE_SIGNATURES

#: A criterion's own rules: signature -> whether its first argument names the criterion.
_OWN_RULES = frozenset({"met/3", "not_met/3", "noted/3", "unsettled/3", "precondition_unmet/2"})
#: Reads of a criterion's value in a rule's body.
_READS = frozenset({"holds/2", "satisfied/2", "status/3"})
#: A formula leaf naming a criterion.
_LEAVES = frozenset({"criterion", "satisfied"})
#: Whatever reads a criterion outside any criterion: a determination, an item, a rule of the policy.
ROOT = None

Warning = tuple[str, int, int, str, str]  # file, line, column, code, message


def _string(term: ast.AST) -> str | None:
    if term.ast_type == ast.ASTType.SymbolicTerm and term.symbol.type == clingo.SymbolType.String:
        return term.symbol.string
    return None


def _args(term: ast.AST) -> list[ast.AST]:
    if term.ast_type == ast.ASTType.Function:
        return list(term.arguments)
    if term.ast_type == ast.ASTType.SymbolicTerm and term.symbol.type == clingo.SymbolType.Function:
        return [ast.SymbolicTerm(term.location, a) for a in term.symbol.arguments]
    return []


def _heads(stm: ast.AST) -> Iterator[ast.AST]:
    for u in uses_in(stm):
        if u.head and u.term is not None:
            yield u.term


def _positive(stm: ast.AST) -> Iterator[ast.AST]:
    """The plain positive atoms of a rule's body: each must hold for the rule to apply."""
    for lit in stm.body:
        if lit.ast_type == ast.ASTType.Literal and lit.sign == ast.Sign.NoSign \
                and lit.atom.ast_type == ast.ASTType.SymbolicAtom:
            term = lit.atom.symbol
            if signature(term):
                yield term


def _owner(stm: ast.AST) -> str | None:
    """The criterion whose own rule this is, else None."""
    for term in _heads(stm):
        if signature(term) in _OWN_RULES:
            args = _args(term)
            cid = _string(args[0]) if args else None
            if cid:
                return cid
    return None


def _formula_mentions(formula: clingo.Symbol) -> set[str]:
    found, pending = set(), [formula]
    while pending:
        node = pending.pop()
        pending.extend(blocks.parts(node))
        if node.type == clingo.SymbolType.Function and node.name in _LEAVES and len(node.arguments) == 1 \
                and node.arguments[0].type == clingo.SymbolType.String:
            found.add(node.arguments[0].string)
    return found


def _facts(statements: list[ast.AST], name: str) -> list[list[ast.AST]]:
    """The arguments of every body-less ``name`` head."""
    out = []
    for stm in statements:
        if stm.ast_type == ast.ASTType.Rule and not stm.body:
            out += [_args(t) for t in _heads(stm) if signature(t) and signature(t).rpartition("/")[0] == name]
    return out


def _named_by(term: ast.AST, stm: ast.AST, statements: list[ast.AST]) -> set[str] | None:
    """The criteria a read's first argument names: its string, or the strings of the facts of the
    policy's predicate that binds its variable (``holds(F, L)`` with ``fusion_indication(F)`` and
    ``fusion_indication("CIG-F1").``); None when they cannot be told."""
    cid = _string(term)
    if cid is not None:
        return {cid}
    if term.ast_type != ast.ASTType.Variable:
        return None
    for bound in _positive(stm):
        sig = signature(bound)
        for i, arg in enumerate(_args(bound)):
            if arg.ast_type != ast.ASTType.Variable or arg.name != term.name:
                continue
            heads = [t for other in statements if other.ast_type == ast.ASTType.Rule
                     for t in _heads(other) if signature(t) == sig]
            if not heads or any(other.body for other in statements if other.ast_type == ast.ASTType.Rule
                                and any(signature(t) == sig for t in _heads(other))):
                continue
            values = [_string(_args(t)[i]) for t in heads]
            if all(values):
                return set(values)
    return None


def ungated(statements: list[ast.AST], declared: dict[str, tuple[str, int, int]]) -> list[Warning]:
    """W310: every declared criterion nothing gates on, at its declaration."""
    readers: dict[str, set[str | None]] = {cid: set() for cid in declared}
    exempt: set[str] = set()
    for stm, owner, formula in blocks.declarations(statements):
        for cid in _formula_mentions(formula):
            readers.setdefault(cid, set()).add(owner if owner is not None else ROOT)
    for args in _facts(statements, "scope"):
        if len(args) == 2 and _string(args[0]) and args[1].ast_type in (ast.ASTType.Function, ast.ASTType.SymbolicTerm) \
                and str(args[1]).startswith("item("):
            readers.setdefault(_string(args[0]), set()).add(ROOT)
    for name in ("provision", "advisory"):
        exempt.update(_string(a[0]) for a in _facts(statements, name) if a and _string(a[0]))
    for name in ("part_of", "waives"):
        for args in _facts(statements, name):
            if len(args) == 2 and _string(args[0]) and _string(args[1]):
                readers.setdefault(_string(args[0]), set()).add(_string(args[1]))
    for stm in statements:
        if stm.ast_type != ast.ASTType.Rule:
            continue
        owner = _owner(stm)
        for u in uses_in(stm):
            if u.head or u.signature not in _READS or u.term is None:
                continue
            args = _args(u.term)
            named = _named_by(args[0], stm, statements) if args else None
            if named is None:
                return []  # a rule reads criteria it does not name: each may gate
            for cid in named:
                readers.setdefault(cid, set()).add(owner if owner != cid else ROOT)
    gated: set[str] = set()
    changed = True
    while changed:
        changed = False
        for cid, who in readers.items():
            if cid not in gated and any(r is ROOT or r in gated for r in who):
                gated.add(cid)
                changed = True
    return [(*where, "W310", f"criterion '{cid}' gates nothing: no determination, item or criterion that gates "
             "reads it, so its status changes no answer; read it in a justifies tree (criterion(\"" + cid + "\")), "
             "make it part_of one that is, or declare it provision/advisory")
            for cid, where in declared.items() if cid not in gated and cid not in exempt]


def _case_can(term: ast.AST) -> bool:
    """Whether some case field emits an atom this read of a case predicate can see."""
    sig = signature(term)
    pos = key_position(sig.rpartition("/")[0])
    args = _args(term)
    if pos is None or pos >= len(args):
        return True
    key = args[pos]
    if key.ast_type == ast.ASTType.Function:
        name = key.name
    elif key.ast_type == ast.ASTType.SymbolicTerm and key.symbol.type == clingo.SymbolType.Function:
        name = key.symbol.name
    else:
        return True  # a variable, or a value no pattern names
    return any(p_sig == sig and (p_key is None or p_key == name)
               for patterns in footprints().values() for p_sig, p_key in patterns)


def unreachable(statements: list[ast.AST]) -> list[Warning]:
    """W311: every read in a criterion's rules (and formula leaf) of what no case can produce."""
    rules = [s for s in statements if s.ast_type == ast.ASTType.Rule]

    def can(term: ast.AST, live: set[str]) -> bool:
        sig = signature(term)
        if sig in CASE_SIGNATURES:
            return _case_can(term)
        # an engine predicate the policy does not define, or one nobody defines (E103 says so): not W311's
        return sig in live or sig not in defined

    defined = {signature(t) for stm in rules for t in _heads(stm)}
    live: set[str] = set()
    changed = True
    while changed:
        changed = False
        for stm in rules:
            heads = {signature(t) for t in _heads(stm)} - live
            if heads and all(can(t, live) for t in _positive(stm)):
                live |= heads
                changed = True
    out: list[Warning] = []
    for stm in rules:
        cid = _owner(stm)
        if cid is None:
            continue
        for term in _positive(stm):
            if not can(term, live):
                sig = signature(term)
                why = ("no case field emits it" if sig in CASE_SIGNATURES
                       else "no rule of the policy can derive from a case")
                out.append((stm.location.begin.filename, term.location.begin.line, term.location.begin.column, "W311",
                            f"'{cid}' reads '{_shown(term)}', which {why}: this rule never applies"))
    for stm, owner, formula in blocks.declarations(statements):
        pending = [formula]
        while pending:
            node = pending.pop()
            pending.extend(blocks.parts(node))
            if node.type == clingo.SymbolType.Function and node.name == "finding" and len(node.arguments) == 1:
                probe = ast.SymbolicTerm(stm.location, clingo.Function("finding", [node.arguments[0], clingo.Function("yes")]))
                if not _case_can(probe):
                    out.append((*_where(stm), "W311", f"'{owner or 'a determination tree'}' reads finding({node.arguments[0]}), "
                                "which no case field emits: that leaf is never met nor not met"))
    return out


def _where(stm: ast.AST) -> tuple[str, int, int]:
    return stm.location.begin.filename, stm.location.begin.line, stm.location.begin.column


def _shown(term: ast.AST) -> str:
    return str(term)
