"""The programs ``check`` and ``diff`` search, built in one place.

An ``Analysis`` is made for the policies a command compares.  It reads them
(engine/reading.py), derives the bounded case space from what they read
(engine/space.py), and hands out each policy as a *copy*: the engine's core
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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

import clingo
from clingo import Symbol, ast

from engine.core import statements as core_statements
from engine.policy import Policy
from engine.reading import Program, figures, reads
from engine.solver import Search
from engine.space import Bounds, bounds, generated, minimised_facts, space_facts, space_statements
from engine.syntax import uses_of
from engine.transform import VIOLATED, relax, rename_apart
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

    @property
    def answers_unproved(self) -> bool:
        """Whether "every case gets exactly one answer" cannot be proved by the search alone."""
        return bool(self.not_generated or self.not_modelled or self.unstratified)

    def reasons(self) -> list[str]:
        out = []
        if self.not_generated:
            out.append(f"{self.policy} reads {', '.join(self.not_generated)}, which the case space does not generate")
        if self.not_modelled:
            out.append(f"{self.policy} has statements the search does not model: {'; '.join(self.not_modelled)}")
        if self.unstratified:
            out.append(f"{self.policy} may give one case several answers or none through "
                       f"{', '.join(self.unstratified)} (a choice, a disjunction, or a cycle through negation)")
        return out

    def met_unproved(self, criterion: str) -> tuple[str, ...]:
        return dict(self.unmet_by).get(criterion, ())


@lru_cache(maxsize=8)
def _core_copy(prefix: str) -> tuple[ast.AST, ...]:
    return tuple(rename_apart(relax(core_statements()), prefix))


def _dependencies(statements: Iterable[ast.AST]) -> dict[str, set[str]]:
    """Predicate -> the predicates its rules read (any condition)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for stm in statements:
        found = list(uses_of(stm))
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
        self.read = reads(everything, CASE_SIGNATURES)
        self.figures = figures(everything, CASE_SIGNATURES)
        program = Program(list(space_statements()) + everything, list(anatomy()))
        self.bounds: Bounds = bounds(program, self.figures, self.read, tuple(levels), approaches=approaches)
        self.facts: list[Symbol] = list(anatomy()) + space_facts(self.bounds)
        self._gaps: dict[int, Gaps] = {}
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
            modelled = [s for s in policy.statements if s.ast_type not in UNMODELLED]
            self._copies[key] = [*_core_copy(prefix), *rename_apart(relax(modelled), prefix)]
        return self._copies[key]

    def program(self, copies: Sequence[tuple[str, Policy]], rules: str = "") -> list[ast.AST]:
        statements = list(self.space)
        for prefix, policy in copies:
            statements += self.copy(policy, prefix)
        if rules:
            ast.parse_string(rules, statements.append)
        return statements

    def search(self, copies: Sequence[tuple[str, Policy]], rules: str, shown: Sequence[str],
               *, minimise: bool = False) -> Search:
        return Search(self.program(copies, rules), self.facts, shown, minimise=minimise)

    # -- what the search cannot vouch for -------------------------------------

    def gaps(self, policy: Policy) -> Gaps:
        key = id(policy)
        if key not in self._gaps:
            self._gaps[key] = self._find_gaps(policy)
        return self._gaps[key]

    def _find_gaps(self, policy: Policy) -> Gaps:
        statements = [*core_statements(), *policy.statements]
        anatomy_signatures = {f"{a.name}/{len(a.arguments)}" for a in anatomy()}
        missing = reads(statements, CASE_SIGNATURES) - generated() - anatomy_signatures
        not_modelled = tuple(f"{s.location.begin.filename}:{s.location.begin.line}: {UNMODELLED[s.ast_type]}"
                             for s in policy.statements if s.ast_type in UNMODELLED)
        # the plain program alone (what-if switched off: its externals are left undeclared)
        plain = [s for s in self.copy(policy, "a__") if s.ast_type != ast.ASTType.External]
        ground = Search([*self.space, *plain], self.facts, [], minimise=False, observe=True)
        unstratified = tuple(sorted(ground.unstratified("a__")))
        unmet_by: list[tuple[str, tuple[str, ...]]] = []
        if missing:
            graph = _dependencies(statements)
            for c in policy.criteria:
                start: set[str] = set()
                for stm in statements:
                    found = list(uses_of(stm))
                    if any(u.head and u.signature == "met/3" and (u.first_arg is None or u.first_arg.type != clingo.SymbolType.String
                                                                  or u.first_arg.string == c.id) for u in found):
                        start |= {u.signature for u in found if not u.head}
                rests_on = _closure(start, graph) & missing
                if rests_on:
                    unmet_by.append((c.id, tuple(sorted(rests_on))))
        return Gaps(policy.id, tuple(sorted(missing)), not_modelled, unstratified, tuple(unmet_by))


def answers_differ_rules(first: str, second: str, policy: Policy) -> str:
    """Rules deriving ``answers_differ`` when two plain copies of one policy disagree on any atom:
    with both copies free to take any answer set, a model with it is a case with several answers."""
    signatures = set()
    for stm in [*core_statements(), *policy.statements]:
        signatures |= {u.signature for u in uses_of(stm) if u.head and u.signature not in CASE_SIGNATURES}
    signatures.add(f"{VIOLATED}/0")
    lines = []
    for sig in sorted(signatures):
        name, _, arity = sig.rpartition("/")
        args = ", ".join(f"X{i}" for i in range(int(arity)))
        a, b = (f"{p}{name}({args})" if args else f"{p}{name}" for p in (first, second))
        lines.append(f"answers_differ :- {a}, not {b}.")
        lines.append(f"answers_differ :- {b}, not {a}.")
    return "\n".join(lines)
