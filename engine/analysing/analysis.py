"""The programs ``check`` and ``diff`` search, built in one place.

An ``Analysis`` is made for the policies a command compares.  It reads them
(engine/analysing/reads.py), derives the bounded case space from what they read
(engine/analysing/space.py), and hands out each policy as a *copy*: the engine's core
and the policy's rules, renamed apart under a prefix so that several copies
share one program and meet only on the generated case, with every integrity
constraint relaxed into a flag (``transform.relax``) so that a case on which
the policy has no answer is a model the search can find rather than a hole in
the space.

It also says what the search cannot vouch for (``Gaps``), by name:

* a case predicate a policy reads that the space does not generate;
* a statement whose meaning the search leaves out (``#minimize``,
  ``#heuristic``...);
* predicates through which one case may get several answers, or none,
  beyond a constraint: a choice or a disjunction in a rule head, or a cycle
  through negation in the ground program.  Without them the relaxed copy is
  stratified once grounded and has exactly one answer set per case, so "no
  answer" is exactly the flag and "several answers" cannot happen.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

import clingo
from clingo import Symbol, ast

from engine.deciding.core import statements as core_statements
from engine.deciding.limits import meanwhile
from engine.deciding.policy import Policy
from engine.analysing.figures import figures
from engine.analysing.reads import Program, read_signatures
from engine.deciding.search import Search
from engine.analysing.space import DAY_PLACES, Bounds, bounds, generated, minimised_facts, space_facts, space_statements
from engine.deciding.predicates import remembered, text, uses_in, uses_of
from engine.deciding.transform import VIOLATED, relax, rename_apart
from facts import anatomy
from facts.vocabulary import SIGNATURES as CASE_SIGNATURES

#: Statements the search does not model: the answers explain gives depend on them in ways a copy cannot show.
UNMODELLED = {
    ast.ASTType.Minimize: "#minimize or a weak constraint (explain keeps only optimal answers)",
    ast.ASTType.Heuristic: "#heuristic",
    ast.ASTType.ProjectAtom: "#project",
    ast.ASTType.ProjectSignature: "#project",
    ast.ASTType.Edge: "#edge",
    ast.ASTType.TheoryDefinition: "#theory",
}


@dataclass(frozen=True)
class Gaps:
    """What the search cannot vouch for in one policy."""

    policy: str
    not_generated: tuple[str, ...] = ()  # case predicates the policy reads that the space cannot generate
    not_modelled: tuple[str, ...] = ()  # statements the search leaves out, as "file:line: what"
    unstratified: tuple[str, ...] = ()  # predicates through which a case may get several answers, or none
    #: per criterion: the ungenerated predicates its met rules rest on
    unmet_by: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: values from the case that reach a comparison through what the search cannot solve, in words
    unfollowed: tuple[str, ...] = ()

    @property
    def answers_unproved(self) -> bool:
        """Whether "every case gets exactly one answer" cannot be proved by the search alone."""
        return bool(self.not_generated or self.not_modelled or self.unstratified or self.unfollowed)

    def reasons(self) -> list[str]:
        out = []
        if self.not_generated:
            out.append(f"{self.policy} reads {', '.join(self.not_generated)}, which the case space does not generate")
        if self.not_modelled:
            out.append(f"{self.policy} has statements the search does not model: {'; '.join(self.not_modelled)}")
        if self.unstratified:
            out.append(f"{self.policy} may give one case several answers or none through "
                       f"{', '.join(self.unstratified)} (a choice, a disjunction, or a cycle through negation)")
        if self.unfollowed:
            out.append(f"{self.policy} compares values from the case the search cannot follow: "
                       f"{'; '.join(self.unfollowed)}")
        return out

    def met_unproved(self, criterion: str) -> tuple[str, ...]:
        return dict(self.unmet_by).get(criterion, ())


def _dependencies(statements: Iterable[ast.AST]) -> dict[str, set[str]]:
    """Predicate -> the predicates its rules read (any condition)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for stm in statements:
        found = uses_in(stm)
        heads = {u.signature for u in found if u.head}
        body = {u.signature for u in found if not u.head}
        for h in heads:
            graph[h] |= body
    return graph


def _closure(start: set[str], graph: dict[str, set[str]]) -> set[str]:
    seen = set(start)
    todo = list(start)
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


class Analysis:
    """The bounded space for some policies, and their copies to search it with."""

    def __init__(self, policies: Sequence[Policy], levels: Iterable[str], *, approaches: int = 1):
        self.policies = tuple(policies)
        core = list(core_statements())
        everything = core + [s for p in self.policies for s in p.statements]
        self.read = read_signatures(everything, CASE_SIGNATURES)
        self.figures = figures(everything, CASE_SIGNATURES, DAY_PLACES)
        program = Program(list(space_statements()) + everything, list(anatomy()))
        self.bounds: Bounds = bounds(program, self.figures, self.read, tuple(levels), approaches=approaches)
        self.facts: list[Symbol] = list(anatomy()) + space_facts(self.bounds)
        self._copies: dict[tuple[int, str], list[ast.AST]] = {}

    @cached_property
    def space(self) -> list[ast.AST]:
        out = list(space_statements())
        ast.parse_string(minimised_facts(), out.append)
        return out

    def copy(self, policy: Policy, prefix: str) -> list[ast.AST]:
        """The core and the policy, relaxed and renamed apart under ``prefix``."""
        key = (id(policy), prefix)
        if key not in self._copies:
            self._copies[key] = [s for stm in _modelled(policy) for s in _renamed(stm, prefix, frozenset())]
        return self._copies[key]

    def program(self, copies: Sequence[tuple[str, Policy]], rules: str = "", *, share: bool = False) -> list[ast.AST]:
        """The space, the copies and ``rules``; with ``share``, two copies hold once what they define alike."""
        statements = list(self.space)
        if share and len(copies) == 2:
            statements += _shared_copies(*copies, rules)
        else:
            for prefix, policy in copies:
                statements += self.copy(policy, prefix)
        if rules:
            ast.parse_string(rules, statements.append)
        return statements

    def search(self, copies: Sequence[tuple[str, Policy]], rules: str, shown: Sequence[str],
               *, minimise: bool = False, share: bool = False) -> Search:
        return Search(self.program(copies, rules, share=share), self.facts, shown, minimise=minimise)

    # -- what the search cannot vouch for -------------------------------------

    def gaps(self, policy: Policy) -> Gaps:
        return gaps(policy, self.bounds.levels, self.bounds.approaches_per_level)


_GAPS: dict[tuple[int, tuple[str, ...], int], tuple[Policy, Gaps]] = {}


def gaps(policy: Policy, levels: tuple[str, ...], approaches: int) -> Gaps:
    """What the search cannot vouch for in one policy, found over the policy's own space.

    Its own space is enough: what another policy tells apart, this one treats
    alike (engine/analysing/reads.py), so its ground rules take no other shape there.
    Remembered per policy, levels and approaches within a process.
    """
    key = (id(policy), levels, approaches)
    if key not in _GAPS or _GAPS[key][0] is not policy:
        _GAPS[key] = (policy, _find_gaps(policy, levels, approaches))
    return _GAPS[key][1]


def gaps_meanwhile(policies: Sequence[Policy], levels: tuple[str, ...], approaches: int) -> Callable[[], list[Gaps]]:
    """Start finding the gaps of each policy in a forked process, while the caller searches.

    Returns a function that waits for them.  The search and this analysis
    share no state, so on a machine with two cores the analysis costs no time.
    Policies already analysed in this process, or a fork that fails, are done here.
    """
    todo = [p for p in policies if (id(p), levels, approaches) not in _GAPS]
    if not todo:
        return lambda: [gaps(p, levels, approaches) for p in policies]
    pending = meanwhile(lambda: [_find_gaps(p, levels, approaches) for p in todo])

    def wait() -> list[Gaps]:
        found = pending()
        if found is not None:
            for policy, g in zip(todo, found):
                _GAPS[(id(policy), levels, approaches)] = (policy, g)
        return [gaps(p, levels, approaches) for p in policies]

    return wait


def _find_gaps(policy: Policy, levels: tuple[str, ...], approaches: int) -> Gaps:
    statements = [*core_statements(), *policy.statements]
    anatomy_signatures = {f"{a.name}/{len(a.arguments)}" for a in anatomy()}
    missing = read_signatures(statements, CASE_SIGNATURES) - generated() - anatomy_signatures
    not_modelled = tuple(f"{s.location.begin.filename}:{s.location.begin.line}: {UNMODELLED[s.ast_type]}"
                         for s in policy.statements if s.ast_type in UNMODELLED)
    # the plain program alone (what-if switched off: its externals are left undeclared)
    own = Analysis([policy], levels, approaches=approaches)
    plain = [s for s in own.copy(policy, "a__") if s.ast_type != ast.ASTType.External]
    ground = Search([*own.space, *plain], own.facts, [], minimise=False, observe=True)
    unstratified = tuple(sorted(ground.unstratified("a__")))
    unmet_by: list[tuple[str, tuple[str, ...]]] = []
    if missing:
        graph = _dependencies(statements)
        for c in policy.criteria:
            start: set[str] = set()
            for stm in statements:
                found = uses_in(stm)
                if any(u.head and u.signature == "met/3" and (u.first_arg is None or u.first_arg.type != clingo.SymbolType.String
                                                              or u.first_arg.string == c.id) for u in found):
                    start |= {u.signature for u in found if not u.head}
            rests_on = _closure(start, graph) & missing
            if rests_on:
                unmet_by.append((c.id, tuple(sorted(rests_on))))
    unfollowed = (*own.figures.unfollowed, *own.bounds.overflows)
    return Gaps(policy.id, tuple(sorted(missing)), not_modelled, unstratified, tuple(unmet_by), unfollowed)


SHARED = "s__"


def _modelled(policy: Policy) -> list[ast.AST]:
    """The core and the policy, with each constraint relaxed (each statement relaxed once)."""
    out: list[ast.AST] = []
    for stm in [*core_statements(), *policy.statements]:
        if stm.ast_type not in UNMODELLED:
            out.extend(remembered(stm, "relaxed", lambda s: tuple(relax([s])), located=True))
    return out


def _renamed(stm: ast.AST, prefix: str, shared: frozenset[str]) -> tuple[ast.AST, ...]:
    """One statement renamed apart, once per prefix and per shared predicate it mentions."""
    mentions = frozenset(u.signature for u in uses_in(stm))
    held = shared & mentions
    return remembered(stm, f"renamed {prefix} {sorted(held)}",
                      lambda s: tuple(rename_apart([s], prefix, shared=held, shared_prefix=SHARED)), located=True)


def _definitions(statements: Iterable[ast.AST]) -> tuple[dict[str, list[str]], dict[str, set[str]]]:
    """Per predicate: the text of every statement that defines it, and the predicates those read."""
    texts: dict[str, list[str]] = defaultdict(list)
    reads_: dict[str, set[str]] = defaultdict(set)
    for stm in statements:
        if stm.ast_type not in (ast.ASTType.Rule, ast.ASTType.External):
            continue
        found = uses_in(stm)
        heads = {u.signature for u in found if u.head}
        body = {u.signature for u in found if not u.head}
        for h in heads:
            texts[h].append(text(stm))
            reads_[h] |= body
    return {k: sorted(v) for k, v in texts.items()}, reads_


def shared_predicates(first: Policy, second: Policy) -> frozenset[str]:
    """The predicates two policies (each with the core) define alike, reading only predicates defined alike.

    Their atoms are the same on every case, so one copy of them serves both.
    """
    defs_a, reads_a = _definitions(_modelled(first))
    defs_b, reads_b = _definitions(_modelled(second))
    mentioned = set(defs_a) | set(defs_b) | {r for rs in (*reads_a.values(), *reads_b.values()) for r in rs}
    same = {sig for sig in mentioned if defs_a.get(sig) == defs_b.get(sig)}  # read, never defined: alike too
    changed = True
    while changed:
        changed = False
        for sig in list(same):
            if any(r not in same and r not in CASE_SIGNATURES for r in reads_a.get(sig, set()) | reads_b.get(sig, set())):
                same.discard(sig)
                changed = True
    return frozenset(same - CASE_SIGNATURES)


def _shared_copies(first: tuple[str, Policy], second: tuple[str, Policy], rules: str) -> list[ast.AST]:
    """Two copies renamed apart except what they define alike, held once under ``s__``;
    ``rules`` still read either copy's name for it (bridged)."""
    (prefix_a, a), (prefix_b, b) = first, second
    shared = shared_predicates(a, b)
    out: list[ast.AST] = []
    for prefix, policy, owner in ((prefix_a, a, True), (prefix_b, b, False)):
        for original in _modelled(policy):
            heads = {u.signature for u in uses_in(original) if u.head}
            if heads and heads <= shared and not owner:
                continue  # held once, from the first copy
            out.extend(_renamed(original, prefix, shared))
    read: set[str] = set()
    ast.parse_string(rules, lambda stm: read.update(u.signature for u in uses_of(stm)))
    bridges = []
    for sig in sorted(read):
        for prefix in (prefix_a, prefix_b):
            plain = sig.removeprefix(prefix)
            if sig.startswith(prefix) and plain in shared:
                name, _, arity = plain.rpartition("/")
                args = ", ".join(f"X{i}" for i in range(int(arity)))
                atom = f"{name}({args})" if args else name
                bridges.append(f"{prefix}{atom} :- {SHARED}{atom}.")
    ast.parse_string("\n".join(bridges), out.append)
    return out


def answers_differ_rules(first: str, second: str, policy: Policy) -> str:
    """Rules deriving ``answers_differ`` when two plain copies of one policy disagree on any atom:
    with both copies free to take any answer set, a model with it is a case with several answers."""
    signatures = set()
    for stm in [*core_statements(), *policy.statements]:
        signatures |= {u.signature for u in uses_in(stm) if u.head and u.signature not in CASE_SIGNATURES}
    signatures.add(f"{VIOLATED}/0")
    lines = []
    for sig in sorted(signatures):
        name, _, arity = sig.rpartition("/")
        args = ", ".join(f"X{i}" for i in range(int(arity)))
        a, b = (f"{p}{name}({args})" if args else f"{p}{name}" for p in (first, second))
        lines.append(f"answers_differ :- {a}, not {b}.")
        lines.append(f"answers_differ :- {b}, not {a}.")
    return "\n".join(lines)
