"""Grounding: the engine's core, a policy and case atoms made one ground program, ready to solve.

``_Grounded`` holds the ``clingo.Control`` of one case (or of many keyed by
case, ``_Chunk``); ``_CaseView`` answers for one case of a chunk.  Case atoms
are added through the backend, never as text.  The solves read back plain
models; ``engine/deciding/reading.py`` reads them, ``solver.Engine`` decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import clingo
from clingo import Function, Number, Symbol, ast

from engine.deciding.core import statements as core_statements
from engine.deciding.errors import PolicyError
from engine.deciding.policy import Policy
from engine.deciding.transform import CASE_FACT, CASE_KEY
from facts import anatomy

MAX_ALTERNATIVES = 24  # optimal assumption sets reported per target


def _ground_with_facts(ctl: clingo.Control, facts: Iterable[Symbol], errors) -> None:
    """Add ``facts`` through the backend (never as text) and ground the base program."""
    with ctl.backend() as backend:
        for sym in facts:
            backend.add_rule([backend.add_atom(sym)])
    try:
        ctl.ground([("base", [])])
    except RuntimeError:
        raise PolicyError(errors() or ["grounding failed"]) from None


def _located_errors(messages: Iterable[str]) -> list[str]:
    """clingo's errors, each place named by its file: a note inside a rule keeps the
    parser's '<string>', and is in the file of the rule the message opens with."""
    out = []
    for msg in messages:
        if ": error:" not in msg:
            continue
        head = msg.split(":", 1)[0]
        out.append(msg.replace("<string>", head).strip())
    return out


class _Grounded:
    """A ground program ready for the plain and what-if solves: one case, or many keyed by case."""

    def __init__(self, statements: Iterable[ast.AST], facts: Iterable[Symbol]):
        self.messages: list[str] = []
        self.ctl = clingo.Control(["--opt-mode=optN", "--models=0"], logger=self._log, message_limit=50)
        declared: set[tuple[str, int]] | None = set()  # the signatures of the #external statements
        with ast.ProgramBuilder(self.ctl) as builder:
            for stm in statements:
                builder.add(stm)
                if stm.ast_type == ast.ASTType.External and declared is not None:
                    term = stm.atom.symbol
                    if term.ast_type == ast.ASTType.Function and not term.external:
                        declared.add((term.name, len(term.arguments)))
                    else:  # a pool, a term of another form: found among every atom
                        declared = None
        _ground_with_facts(self.ctl, facts, self.errors)
        self._declared = declared
        #: every external: false (as declared) until a solve switches one on; from then on free in the
        #: solver and set by an assumption at each solve (see ``solve``)
        self.externals: list[Symbol] = []
        self._free = False
        self._blocked: _Blocked | None = None  # the sets ``block`` forbids, and their guards
        self._guards: dict[Symbol, list[tuple[int, ...]]] = {}

    @classmethod
    def case(cls, policy: Policy, atoms: Sequence[Symbol]) -> "_Grounded":
        return cls((*core_statements(), *policy.statements), atoms)

    def _log(self, code: clingo.MessageCode, message: str) -> None:
        self.messages.append(message)

    @property
    def leaf_atoms(self) -> list[Symbol]:
        """Every ``assumed/2`` atom a what-if solve may choose."""
        return sorted(sa.symbol for sa in self.ctl.symbolic_atoms.by_signature("assumed", 2))

    def errors(self) -> list[str]:
        return _located_errors(self.messages)

    def _free_externals(self) -> None:
        atoms = self.ctl.symbolic_atoms
        found = (atoms if self._declared is None else
                 (sa for name, arity in sorted(self._declared) for sa in atoms.by_signature(name, arity)))
        self.externals = [sa.symbol for sa in found if sa.is_external]
        for sym in self.externals:
            self.ctl.assign_external(sym, None)
        self._free = True

    def block(self, sets: Iterable[Iterable[Symbol]]) -> Symbol:
        """A guard that, switched on in a solve, forbids assuming every atom of any one of ``sets``.

        The what-if search for findings the record contradicts uses it to
        rule out supersets of sets already found, for one target at a time.
        The sets are kept by a propagator (``_Blocked``), not added to the
        program: a rule added after grounding would begin a program step that
        clasp prepares again, which cost more than the searches themselves.
        """
        if self._blocked is None:
            self._blocked = _Blocked([sa.literal for sa in self.ctl.symbolic_atoms.by_signature("assumed", 2)])
            self.ctl.register_propagator(self._blocked)
        guard = Function("whatif_block__", [Number(len(self._guards) + 1)])
        atoms = self.ctl.symbolic_atoms
        kept = []
        for members in sets:
            found = [atoms[sym] for sym in members]
            if all(sa is not None for sa in found):  # an atom not in the program is never assumed
                kept.append(tuple(sa.literal for sa in found))
        self._guards[guard] = kept
        return guard

    def solve(self, externals: Iterable[tuple[Symbol, bool]] = (),
              extra: Sequence[tuple[Symbol, bool]] = ()) -> list[tuple[Symbol, ...]]:
        """The optimal models (one, for the plain solve); ``extra`` are solver assumptions.

        ``externals`` are the externals switched on (or off) for this solve; every other is off.  The
        plain solve (all off) has them false as declared, so clasp simplifies the what-if rules away.
        The first solve that switches one on frees them all, once, and from then on they are set by
        solver assumptions: assigning them before each solve would start a new step of the program,
        which clasp prepares again, at a cost above the what-if solve itself.
        """
        values: dict[Symbol, bool] = {}
        blocked: list[tuple[int, ...]] = []
        for sym, value in externals:
            if sym in self._guards:
                blocked += self._guards[sym] if value else []
            else:
                values[sym] = value
        if not self._free and any(values.values()):
            self._free_externals()
        if self._free:
            values = {sym: values.get(sym, False) for sym in self.externals}
        found: list[tuple[Symbol, ...]] = []
        best: list[int] | None = None
        if self._blocked is not None:
            self._blocked.sets = blocked
        try:
            assumptions = [*values.items(), *extra] if self._free else list(extra)  # else every external is false
            with self.ctl.solve(yield_=True, assumptions=assumptions) as handle:
                for model in handle:
                    cost = list(model.cost)
                    if best is None or cost < best:
                        best, found = cost, []
                    if model.optimality_proven or not cost:
                        found.append(tuple(model.symbols(shown=True)))
                    if len(found) >= MAX_ALTERNATIVES:
                        break
        finally:
            if self._blocked is not None:
                self._blocked.sets = []
        return found


class _Blocked:
    """A propagator: no model of a solve assumes every atom of one of the sets blocked for it.

    ``sets`` (program literals of ``assumed/2`` atoms) are set before each
    solve and cleared after it; the nogood a set gives is what the rule
    ``:- guard, a1, ..., an.`` gives with its guard on.  It is added tagged
    (volatile): clasp drops it, and all it learnt from it, when the solve
    ends.  Every ``assumed/2`` atom is watched: a set holds no other atom,
    and the program does not change once the first set is blocked.
    """

    def __init__(self, watched: list[int]):
        self.watched = watched
        self.sets: list[tuple[int, ...]] = []
        self._solver: dict[int, int] = {}

    def init(self, init: clingo.PropagateInit) -> None:
        init.check_mode = clingo.PropagatorCheckMode.Total
        self._solver = {lit: init.solver_literal(lit) for lit in self.watched}
        for lit in set(self._solver.values()):
            if not init.assignment.is_fixed(lit):
                init.add_watch(lit)

    def propagate(self, control: clingo.PropagateControl, changes: Sequence[int]) -> None:
        self.check(control)

    def check(self, control: clingo.PropagateControl) -> None:
        assignment = control.assignment
        for members in self.sets:
            nogood = [self._solver[lit] for lit in members]
            if all(assignment.is_true(lit) for lit in nogood):
                if not control.add_nogood(nogood, tag=True) or not control.propagate():
                    return


class _Chunk:
    """Many cases grounded in one program (see ``transform.per_case``).

    Every shown atom of case K arrives as ``in_case__(K, Atom)``, Atom being
    exactly what the one-case program shows, so a case read from a chunk is
    read by the same code as a case decided alone.
    """

    def __init__(self, program: Sequence[ast.AST], cases: Sequence[Sequence[Symbol]]):
        self.keys = [Number(k) for k in range(len(cases))]
        facts = list(anatomy())
        for key, atoms in zip(self.keys, cases):
            facts.append(Function(CASE_KEY, [key]))
            facts.extend(Function(CASE_FACT, [key, a]) for a in atoms)
        self.grounded = _Grounded(program, facts)

    def split(self, symbols: Iterable[Symbol]) -> list[list[Symbol]]:
        out: list[list[Symbol]] = [[] for _ in self.keys]
        index = {key: i for i, key in enumerate(self.keys)}
        for s in symbols:
            key, atom = s.arguments
            out[index[key]].append(atom)
        return out

    def plain(self) -> list[list[Symbol]] | None:
        """Each case's plain model, or None when the chunk has not exactly one model."""
        models = self.grounded.solve()
        return self.split(models[0]) if len(models) == 1 else None


class _CaseView:
    """One case of a chunk, answering the solves ``Engine`` asks of a one-case grounding.

    The plain solve is read from the chunk.  A what-if solve (``would_change``)
    grounds the case alone: in a chunk every such solve would propagate
    through all the other cases too, and measures slower (docs/performance.md).
    """

    def __init__(self, chunk: _Chunk, plain: list[Symbol], policy: Policy, atoms: Sequence[Symbol]):
        self.ctl = chunk.grounded.ctl
        self.plain = tuple(plain)
        self._policy = policy
        self._atoms = atoms
        self._alone: _Grounded | None = None

    def _grounded_alone(self) -> _Grounded:
        if self._alone is None:
            self._alone = _Grounded.case(self._policy, self._atoms)
        return self._alone

    def block(self, sets: Iterable[Iterable[Symbol]]) -> Symbol:
        return self._grounded_alone().block(sets)

    @property
    def leaf_atoms(self) -> list[Symbol]:
        return self._grounded_alone().leaf_atoms

    def solve(self, externals: Iterable[tuple[Symbol, bool]] = (),
              extra: Sequence[tuple[Symbol, bool]] = ()) -> list[tuple[Symbol, ...]]:
        externals = list(externals)
        if not extra and not any(value for _, value in externals):
            return [self.plain]
        return self._grounded_alone().solve(externals, extra)

