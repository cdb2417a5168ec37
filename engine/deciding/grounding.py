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
        with ast.ProgramBuilder(self.ctl) as builder:
            for stm in statements:
                builder.add(stm)
        _ground_with_facts(self.ctl, facts, self.errors)
        #: every external, left free in the solver and set by an assumption at each solve (see ``solve``)
        self.externals: list[Symbol] = [sa.symbol for sa in self.ctl.symbolic_atoms if sa.is_external]
        for sym in self.externals:
            self.ctl.assign_external(sym, None)

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

    def block(self, sets: Iterable[Iterable[Symbol]]) -> Symbol:
        """An external that, switched on, forbids assuming every atom of any one of ``sets``.

        The what-if search for findings the record contradicts uses it to
        rule out supersets of sets already found, for one target at a time.
        """
        self._blocks = getattr(self, "_blocks", 0) + 1
        guard = Function("whatif_block__", [Number(self._blocks)])
        atoms = self.ctl.symbolic_atoms
        with self.ctl.backend() as backend:
            lit = backend.add_atom(guard)
            backend.add_external(lit, clingo.TruthValue.Free)
            self.externals.append(guard)
            for members in sets:
                body = [lit]
                for sym in members:
                    sa = atoms[sym]
                    if sa is None:
                        break
                    body.append(sa.literal)
                else:
                    backend.add_rule([], body)
        return guard

    def solve(self, externals: Iterable[tuple[Symbol, bool]] = (),
              extra: Sequence[tuple[Symbol, bool]] = ()) -> list[tuple[Symbol, ...]]:
        """The optimal models (one, for the plain solve); ``extra`` are solver assumptions.

        ``externals`` are the externals switched on (or off) for this solve; every other is off.  They
        are passed as solver assumptions, the externals being free in the solver: assigning them
        instead would start a new step of the program, which clasp prepares again at the next solve.
        """
        values = {sym: False for sym in self.externals}
        for sym, value in externals:
            values[sym] = value
        found: list[tuple[Symbol, ...]] = []
        best: list[int] | None = None
        with self.ctl.solve(yield_=True, assumptions=[*values.items(), *extra]) as handle:
            for model in handle:
                cost = list(model.cost)
                if best is None or cost < best:
                    best, found = cost, []
                if model.optimality_proven or not cost:
                    found.append(tuple(model.symbols(shown=True)))
                if len(found) >= MAX_ALTERNATIVES:
                    break
        return found


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

