"""Searches over a ground program, for ``diff`` and ``check`` (engine/analysing/).

``Search`` asks questions as solves under assumptions, makes a witness small
by solving again among its own facts, forbids witnesses already found, and
tells whether a program can have several answer sets, or none, for one input
(the ground rules kept as a dependency graph).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import clingo
from clingo import Symbol, ast

from engine.deciding.grounding import _ground_with_facts, _located_errors


class _RuleLog:
    """Every ground rule as the grounder gives it (choice, heads, body literals): the dependency graph."""

    def __init__(self) -> None:
        self.rules: list[tuple[bool, Sequence[int], Sequence[int]]] = []

    def rule(self, choice: bool, head: Sequence[int], body: Sequence[int]) -> None:
        self.rules.append((choice, head, body))

    def weight_rule(self, choice: bool, head: Sequence[int], lower_bound: int, body: Sequence[tuple[int, int]]) -> None:
        # weights are positive (the grounder negates a literal for a negative one): monotone in the positives
        self.rules.append((choice, head, [lit for lit, _ in body]))


class Search:
    """A ground program searched for models, for ``diff`` and ``check``.

    A question is a solve under assumptions (``first``); a witness is made
    small by solving again, optimally, among the facts it already has
    (``smallest``).  Constraints over ground atoms can be added between
    solves (to ask for a witness unlike the ones found).  With ``observe``,
    the ground rules are kept, so that ``unstratified`` can tell whether a
    program can have several answer sets, or none, for one input.
    """

    def __init__(self, statements: Sequence[ast.AST], facts: Sequence[Symbol], shown: Sequence[str],
                 *, minimise: bool = True, observe: bool = False):
        self.messages: list[str] = []
        mode = "--opt-mode=opt" if minimise else "--opt-mode=ignore"
        self.ctl = clingo.Control([mode], logger=lambda _c, m: self.messages.append(m), message_limit=50)
        self._log = _RuleLog() if observe else None
        if self._log is not None:
            self.ctl.register_observer(self._log)
        with ast.ProgramBuilder(self.ctl) as builder:
            for stm in statements:
                builder.add(stm)
        show = "".join(f"#show {sig}." for sig in shown)
        ast.parse_string(show, lambda stm: None)  # validates the signatures we show
        with ast.ProgramBuilder(self.ctl) as builder:
            ast.parse_string(show, builder.add)
        _ground_with_facts(self.ctl, facts, lambda: _located_errors(self.messages))

    def first(self, question: Sequence[Symbol] = ()) -> tuple[Symbol, ...] | None:
        """Some model with the ``question`` externals true (no optimisation), or None when there is none."""
        self.ctl.configuration.solve.opt_mode = "ignore"
        return self._solve(question, (), all_models=False)

    def smallest(self, question: Sequence[Symbol], within: Sequence[Symbol] | None = None,
                 counted: Sequence[Symbol] = ()) -> tuple[Symbol, ...] | None:
        """An optimal model with the ``question`` externals true.

        Core-guided optimisation (``usc``): the optimum of a count of facts is
        small, and unsatisfiable cores reach it in a fraction of the time that
        lowering an upper bound takes.  With ``within``, only among the models
        whose ``counted`` atoms are all in ``within`` (a model already found):
        a smaller search, for questions whose global optimum is costly.
        """
        self.ctl.configuration.solve.opt_mode = "opt"
        self.ctl.configuration.solver.opt_strategy = "usc"
        dropped: list[tuple[Symbol, bool]] = []
        if within is not None:
            keep = set(within)
            dropped = [(s, False) for s in counted if s not in keep]
        return self._solve(question, dropped, all_models=True)

    def _solve(self, question: Sequence[Symbol], assumptions: Sequence[tuple[Symbol, bool]],
               all_models: bool) -> tuple[Symbol, ...] | None:
        for sym in question:
            self.ctl.assign_external(sym, True)
        found: list[tuple[Symbol, ...]] = []
        try:
            with self.ctl.solve(assumptions=list(assumptions), yield_=True) as handle:
                for model in handle:
                    found.append(tuple(model.symbols(shown=True)))
                    if not all_models:
                        break
        finally:
            for sym in question:
                self.ctl.assign_external(sym, False)
        return found[-1] if found else None

    def forbid(self, positive: Sequence[Symbol], negative: Sequence[Symbol]) -> bool:
        """Add ``:- positive, not negative.``; False when it can never fire."""
        atoms = self.ctl.symbolic_atoms
        body = []
        for sym in positive:
            sa = atoms[sym]
            if sa is None:
                return False
            body.append(sa.literal)
        for sym in negative:
            sa = atoms[sym]
            if sa is not None:
                body.append(-sa.literal)
        with self.ctl.backend() as backend:
            backend.add_rule([], body)
        return True

    def atoms(self, name: str, arity: int) -> list[Symbol]:
        return [sa.symbol for sa in self.ctl.symbolic_atoms.by_signature(name, arity)]

    def unstratified(self, prefix: str) -> set[str]:
        """Predicates (``prefix`` removed) whose ground atoms can make an input have several answer
        sets, or none: heads of a choice or a disjunction, or atoms on a cycle through negation.

        Without them the program is stratified once grounded, and has exactly one answer set for
        each input the other rules choose.  Needs ``observe``.
        """
        assert self._log is not None, "unstratified() needs Search(..., observe=True)"
        names: dict[int, str] = {}
        named: set[int] = set()
        for sa in self.ctl.symbolic_atoms:
            literal = sa.literal
            named.add(literal)
            name = sa.symbol.name
            if name.startswith(prefix) and literal > 0:
                names[literal] = f"{name.removeprefix(prefix)}/{len(sa.symbol.arguments)}"
        # only the program's own atoms and the grounder's auxiliary ones can lie on its cycles:
        # the rest (the case) never reads them
        found: set[str] = set()
        edges: dict[int, list[tuple[int, bool]]] = defaultdict(list)
        for choice, heads, body in self._log.rules:
            kept = [h for h in heads if h in names or h not in named]
            if not kept:
                continue
            if choice or len(heads) > 1:
                found |= {names[h] for h in kept if h in names}
            succ = [(b, False) if b > 0 else (-b, True) for b in body if abs(b) in names or abs(b) not in named]
            if succ:
                for h in kept:
                    edges[h].extend(succ)
        for component in _components(edges):
            if not any(a in names for a in component):
                continue
            inside = set(component)
            if any(neg and b in inside for a in component for b, neg in edges.get(a, ())):
                found |= {names[a] for a in component if a in names}
        return found


def _components(edges: dict[int, list[tuple[int, bool]]]) -> list[list[int]]:
    """The strongly connected components with a cycle (Tarjan's algorithm, without recursion).

    Nodes with no successor or no predecessor left lie on no cycle: they are
    trimmed first, which leaves little of a program that is mostly layered.
    """
    succ: dict[int, set[int]] = {n: {b for b, _ in bs} for n, bs in edges.items()}
    pred: dict[int, set[int]] = defaultdict(set)
    for n, bs in succ.items():
        for b in bs:
            pred[b].add(n)
    nodes = set(succ) | set(pred)
    outs = {n: len(succ.get(n, ())) for n in nodes}
    ins = {n: len(pred.get(n, ())) for n in nodes}
    alive = set(nodes)
    queue = [n for n in nodes if not outs[n] or not ins[n]]
    while queue:
        n = queue.pop()
        if n not in alive:
            continue
        alive.discard(n)
        for m in succ.get(n, ()):
            if m in alive:
                ins[m] -= 1
                if not ins[m]:
                    queue.append(m)
        for m in pred.get(n, ()):
            if m in alive:
                outs[m] -= 1
                if not outs[m]:
                    queue.append(m)
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[int] = []
    out: list[list[int]] = []
    counter = 0
    for root in sorted(alive):
        if root in index:
            continue
        work = [(root, iter(sorted(succ[root] & alive)))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for nxt in children:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(succ.get(nxt, set()) & alive))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1 or node in succ.get(node, ()):
                    out.append(component)
    return out
