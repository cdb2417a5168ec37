"""What a program reads of a case: which facts, for which criterion, and which values it tells apart.

One derivation serves every reader of it:

* the DTR questionnaire (exchange/documents.py) asks for the case fields a
  policy reads, and names the criteria that read each (``case_reads``);
* ``check`` and ``diff`` search a bounded space of case records, whose proofs
  hold for every record only if the space offers every distinction the
  policies can draw.  Three readings give those distinctions, derived from
  the rules themselves rather than listed by hand:

  - ``read_signatures``: the case predicates the rules read, in any
    condition (``case_reads`` without the criteria);
  - ``Program.classes``: which constants of a closed vocabulary the program
    can tell apart.  Two constants are interchangeable when swapping them
    everywhere leaves the program (rules and anatomy facts) as it was: then
    swapping them in a case swaps them in every answer, and one stands for
    both;
  - ``figures`` (engine/analysing/figures.py): every number compared with a value that comes from the
    case, however far it travelled (a stated total of care feeding a span
    that is compared with 84; a translation compared with a figure a policy
    keeps in a fact).  A value flows through rule heads, arithmetic and
    aggregates (``#sum``, ``#min``, ``#max``); ``#count`` counts entries,
    whose bounds are the space's list lengths.

A read is an atom in a condition: a rule body, the condition of a head
literal (``{ a(X) : b(X) }``), the body of an ``#external``, ``#minimize``,
``#show`` or ``#heuristic``.  It is attributed to a criterion when the
criterion's own rules read it (``met``, ``not_met``, ``noted``,
``precondition_unmet``, ``unsettled``: docs/authoring.md), directly or
through the predicates the program defines, and through the questions the
criterion asks of imaging (``asks(Id, Scope, Q)``, answered study by study
by the rules whose head is ``study_answer(Q, ...)``: engine/deciding/core.lp).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import clingo
from clingo import Symbol, SymbolType, ast

from engine.analysing import formulas
from engine.deciding.policy import Policy
from engine.deciding.predicates import nodes, remembered, signature, text, uses_in


def _unpool(stm: ast.AST) -> tuple[ast.AST, ...]:
    try:
        return tuple(stm.unpool())
    except (AttributeError, RuntimeError):
        return (stm,)


def unpooled(statements: Iterable[ast.AST]) -> list[ast.AST]:
    """The statements with every pool expanded, ``p(a; b).`` becoming ``p(a). p(b).``"""
    out: list[ast.AST] = []
    for stm in statements:
        out.extend(remembered(stm, "unpooled", _unpool, located=True))
    return out


# --------------------------------------------------------------------------
# the case predicates read, and by which criterion
# --------------------------------------------------------------------------

#: Heads through which a policy says why a criterion stands (first argument: the criterion).
CRITERION_HEADS = frozenset({"met", "not_met", "noted", "precondition_unmet", "unsettled"})
#: A criterion's questions of imaging, and the rules that answer them (engine/deciding/core.lp, "imaging").
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


def name_args(term: ast.AST) -> tuple[str, list[ast.AST]]:
    if term.ast_type == ast.ASTType.SymbolicTerm:
        sym = term.symbol
        return sym.name, [ast.SymbolicTerm(term.location, a) for a in sym.arguments]
    return term.name, list(term.arguments)


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
    """The atoms a statement defines (engine/deciding/predicates.py tells heads from conditions)."""
    return [u.term for u in uses_in(stm) if u.head and u.term is not None]


def _read(stm: ast.AST) -> list[ast.AST]:
    """The atoms a statement reads: a rule body, a head literal's condition, the body of a directive."""
    return [u.term for u in uses_in(stm) if not u.head and u.term is not None]


class _Index:
    """A program's rules, indexed by the predicates they define."""

    def __init__(self, statements: list[ast.AST], signatures: frozenset[str]):
        self.statements = statements
        self.signatures = signatures
        self.defined: dict[str, list[ast.AST]] = {}
        self.facts: dict[str, list[list[str | None]]] = {}
        only_facts: dict[str, bool] = {}
        for stm in statements:
            for term in _heads(stm):
                sig = signature(term)
                self.defined.setdefault(sig, []).append(stm)
                if stm.ast_type == ast.ASTType.Rule and not stm.body and stm.head.ast_type == ast.ASTType.Literal:
                    only_facts.setdefault(sig, True)
                    self.facts.setdefault(sig, []).append([_constant(a) for a in name_args(term)[1]])
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
            sig = signature(term)
            if sig not in self.by_facts or sig in self.signatures:
                continue
            for i, a in enumerate(name_args(term)[1]):
                if a.ast_type == ast.ASTType.Variable and a.name == variable:
                    values = {row[i] for row in self.facts.get(sig, []) if i < len(row) and row[i] is not None}
                    if values:
                        return values
        return None

    def reads(self, stm: ast.AST) -> Iterator[tuple[str, Fixed]]:
        """The case predicates a statement reads, each with the arguments it fixes."""
        body = _read(stm)
        for term in body:
            sig = signature(term)
            if sig not in self.signatures:
                continue
            options: list[list[tuple[int, str]]] = [[]]
            for i, a in enumerate(name_args(term)[1]):
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
                name, args = name_args(term)
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
                    args = name_args(term)[1]
                    if signature(term) == ANSWERS and _shape(args[0]) in shapes:
                        own.setdefault(cid, []).append(stm)
        # a formula's imaging(Q) asks Q (at(Q, L) at a level): engine/analysing/formulas.py
        for cid, questions in formulas.answers(self.statements).items():
            for stm in self.defined.get(ANSWERS, []):
                if cid is not None and any(signature(t) == ANSWERS and formulas.question_of(name_args(t)[1][0]) in questions
                                           for t in _heads(stm)):
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
    p = _Index(unpooled(statements), frozenset(signatures))
    found: dict[Read, None] = {}
    for stm in p.statements:
        for sig, fixed in p.reads(stm):
            found.setdefault(Read(None, sig, fixed))
    for cid, sig, fixed in formulas.reads(p.statements):  # what a formula reads, from the formula
        if sig in p.signatures:
            found.setdefault(Read(None, sig, fixed))
            if cid is not None:
                found.setdefault(Read(cid, sig, fixed))
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
                sig = signature(term)
                if sig in p.signatures or sig in seen or sig not in p.defined:
                    continue
                seen.add(sig)
                pending.extend(r for r in p.defined[sig] if _read(r))
    return tuple(sorted(found, key=lambda r: (r.criterion or "", r.predicate, r.fixed)))


def read_signatures(statements: Iterable[ast.AST], signatures: Iterable[str]) -> frozenset[str]:
    """The predicates of ``signatures`` some condition in ``statements`` reads (what a case space must generate).

    The reads of ``case_reads``, without the criteria and the arguments fixed.
    """
    wanted = frozenset(signatures)
    statements = unpooled(statements)
    return frozenset(sig for stm in statements for sig in map(signature, _read(stm)) if sig in wanted) \
        | frozenset(sig for _, sig, _ in formulas.reads(statements) if sig in wanted)


# --------------------------------------------------------------------------
# constants the program tells apart
# --------------------------------------------------------------------------


def _swap_symbol(sym: Symbol, a: str, b: str) -> Symbol:
    if sym.type != SymbolType.Function:
        return sym
    if not sym.arguments:
        if sym.name == a:
            return clingo.Function(b, [], sym.positive)
        if sym.name == b:
            return clingo.Function(a, [], sym.positive)
        return sym
    return clingo.Function(sym.name, [_swap_symbol(x, a, b) for x in sym.arguments], sym.positive)


class _Swap(ast.Transformer):
    def __init__(self, a: str, b: str):
        self.a, self.b = a, b

    def visit_SymbolicTerm(self, node: ast.AST) -> ast.AST:
        return node.update(symbol=_swap_symbol(node.symbol, self.a, self.b))

    def visit_Function(self, node: ast.AST) -> ast.AST:
        node = node.update(**self.visit_children(node))
        if not node.arguments and node.name in (self.a, self.b):
            return node.update(name=self.b if node.name == self.a else self.a)
        return node

    def visit_SymbolicAtom(self, node: ast.AST) -> ast.AST:
        # predicate names are not constants: only their arguments are swapped
        term = node.symbol
        if term.ast_type == ast.ASTType.Function:
            return node.update(symbol=term.update(arguments=[self(x) for x in term.arguments]))
        if term.ast_type == ast.ASTType.SymbolicTerm and term.symbol.type == SymbolType.Function:
            sym = term.symbol
            swapped = clingo.Function(sym.name, [_swap_symbol(x, self.a, self.b) for x in sym.arguments], sym.positive)
            return node.update(symbol=term.update(symbol=swapped))
        return node.update(symbol=self(term))


_TOKEN = re.compile(r'"(?:\\.|[^"\\])*"|[A-Za-z_][A-Za-z0-9_\']*(\()?')


def _tokens(text: str) -> Iterator[re.Match[str]]:
    """The identifiers of a statement's text, strings skipped (their contents are never constants)."""
    for m in _TOKEN.finditer(text):
        if not m.group(0).startswith('"'):
            yield m


@dataclass
class Program:
    """A program's statements (pools expanded) and facts, indexed by the constants they mention.

    Constants are compared on the statements' text, where every identifier
    outside a string is a token: a name also used as a function symbol or a
    predicate is left to the exact test on the syntax tree.
    """

    statements: list[ast.AST]
    facts: list[Symbol] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.statements = [s for s in unpooled(self.statements) if s.ast_type != ast.ASTType.Comment]
        self._texts = [text(s) for s in self.statements] + [f"{f}." for f in self.facts]
        self._mentions: dict[str, list[int]] = defaultdict(list)
        self._applied: set[str] = set()  # names used as a function symbol or predicate: f(...)
        for i, written in enumerate(self._texts):
            for m in _tokens(written):
                name = m.group(0).rstrip("(")
                if m.group(1):
                    self._applied.add(name)
                elif not name[0].isupper():
                    if not self._mentions[name] or self._mentions[name][-1] != i:
                        self._mentions[name].append(i)

    def mentions(self, constant: str) -> bool:
        return constant in self._mentions or constant in self._applied

    def _touched(self, *constants: str) -> list[int]:
        return sorted({i for c in constants for i in self._mentions.get(c, [])})

    def _rewrite(self, text: str, mapping: dict[str, str]) -> str:
        out, last = [], 0
        for m in _tokens(text):
            name = m.group(0)
            if name in mapping:
                out.append(text[last:m.start()])
                out.append(mapping[name])
                last = m.end()
        out.append(text[last:])
        return "".join(out)

    def swappable(self, a: str, b: str) -> bool:
        """Whether exchanging constants ``a`` and ``b`` everywhere leaves the program as it was."""
        touched = self._touched(a, b)
        if a in self._applied or b in self._applied:
            return self._swappable_exactly(a, b)
        before = sorted(self._texts[i] for i in touched)
        after = sorted(self._rewrite(self._texts[i], {a: b, b: a}) for i in touched)
        return before == after

    def _swappable_exactly(self, a: str, b: str) -> bool:
        swap = _Swap(a, b)
        n = len(self.statements)
        touched = [i for i in self._touched(a, b) if i < n]
        if sorted(self._texts[i] for i in touched) != sorted(str(swap(self.statements[i])) for i in touched):
            return False
        touched = [i - n for i in self._touched(a, b) if i >= n]
        return sorted(self._texts[n + i] for i in touched) == sorted(
            f"{_swap_symbol_args(self.facts[i], a, b)}." for i in touched)

    def classes(self, domain: Sequence[str]) -> list[list[str]]:
        """``domain`` split into classes of constants the program cannot tell apart, in domain order."""
        parent = {c: c for c in domain}

        def find(c: str) -> str:
            while parent[c] != c:
                parent[c] = parent[parent[c]]
                c = parent[c]
            return c

        unmentioned = [c for c in domain if not self.mentions(c)]
        for c in unmentioned[1:]:  # never mentioned: interchangeable without a look
            parent[find(c)] = find(unmentioned[0])
        mentioned = [c for c in domain if self.mentions(c)]
        # a swap leaves every statement's text with the domain masked as it was: only
        # constants whose masked statements agree can be swapped
        mask = {c: "\x00" for c in domain}
        shape = {c: sorted(self._rewrite(self._texts[i], mask) for i in self._touched(c)) for c in mentioned}
        for i, a in enumerate(mentioned):
            for b in mentioned[i + 1:]:
                if find(a) != find(b) and shape[a] == shape[b] and self.swappable(a, b):
                    parent[find(b)] = find(a)
        groups: dict[str, list[str]] = {}
        for c in domain:
            groups.setdefault(find(c), []).append(c)
        return list(groups.values())


def _swap_symbol_args(fact: Symbol, a: str, b: str) -> Symbol:
    return clingo.Function(fact.name, [_swap_symbol(x, a, b) for x in fact.arguments], fact.positive)
