"""The one module that owns ``clingo.Control``.

A case is decided in one grounding: the engine's core rules, the policy, and
the case's atoms (added through the backend, never as text) are grounded
once; the plain solve reads determinations, statuses and evidence; then, for
each requested level or item that falls short, the same ground program is
solved again with ``whatif`` and one target switched on, and the solver
minimises the number of criteria it must assume met.  Python reads the models
back and sorts them; it decides nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from functools import lru_cache, wraps

import clingo
from clingo import Function, Number, String, Symbol, SymbolType
from clingo import ast

from engine.deciding.core import CORE  # noqa: F401  (tests read core.lp's path from here)
from engine.deciding.core import shown as core_shown
from engine.deciding.core import statements as core_statements
from engine.deciding.decision import (
    CHANGE_KINDS,
    DETERMINATIONS,
    DOCUMENTATION,
    NOT_ADDRESSED,
    Assumption,
    CriterionResult,
    Decision,
    Evidence,
    ItemDecision,
    LevelDecision,
    Notice,
    PolicyRef,
    WouldChange,
)
from engine.deciding.alternatives import grouped
from engine.deciding.errors import PolicyError
from engine.deciding.evidence import Describer
from engine.deciding.policy import Policy
from engine.deciding.transform import CASE_FACT, CASE_KEY, UnsupportedForBatch, per_case
from facts import Case, anatomy, case_atoms
from facts.terms import SPINAL_LEVELS, Item
from facts.vocabulary import SIGNATURES as CASE_SIGNATURES

MAX_ALTERNATIVES = 24  # optimal assumption sets reported per target
MAX_ROUNDS = 6  # searches for findings the record contradicts, per target

_LEVEL_ORDER = {lv: i for i, lv in enumerate(SPINAL_LEVELS)}
_ITEM_ORDER = {it.value: i for i, it in enumerate(Item)} | {"inpatient_setting": len(Item)}


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
            backend.add_external(lit, clingo.TruthValue.False_)
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
        """The optimal models (one, for the plain solve); ``extra`` are solver assumptions."""
        externals = list(externals)
        for sym, value in externals:
            self.ctl.assign_external(sym, value)
        found: list[tuple[Symbol, ...]] = []
        best: list[int] | None = None
        with self.ctl.solve(yield_=True, assumptions=list(extra)) as handle:
            for model in handle:
                cost = list(model.cost)
                if best is None or cost < best:
                    best, found = cost, []
                if model.optimality_proven or not cost:
                    found.append(tuple(model.symbols(shown=True)))
                if len(found) >= MAX_ALTERNATIVES:
                    break
        for sym, _ in externals:
            self.ctl.assign_external(sym, False)
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


def _scope_text(sym: Symbol) -> str:
    if sym.type == SymbolType.String:
        return sym.string
    if sym.type == SymbolType.Function and sym.name == "item":
        item, where = sym.arguments
        return item.name if where.type == SymbolType.Function else f"{item.name}@{where.string}"
    return str(sym)


def _scope_symbol(scope: str) -> Symbol:
    """The inverse of ``_scope_text``."""
    if scope == "case":
        return Function("case")
    if scope in _LEVEL_ORDER:
        return String(scope)
    item, _, where = scope.partition("@")
    return Function("item", [Function(item), String(where) if where else Function("case")])


@lru_cache(maxsize=1)
def _anatomy() -> tuple[Symbol, ...]:
    return tuple(anatomy())


def _level_key(level: str) -> int:
    return _LEVEL_ORDER.get(level, len(_LEVEL_ORDER))


_MEMO_LIMIT = 200_000
_rows: dict[Symbol, tuple] = {}
#: The arity of each atom the engine shows (core.lp's #show), the only ones the reader decodes.
_SHOWN = {name: int(arity) for name, _, arity in (sig.rpartition("/") for sig in core_shown())}


def _foreign_read_past(decode):
    """An atom not of the engine's shape (a policy's own #show, a number, a criterion id
    that is not a string) is nothing the engine reports: it reads as ``("",)``."""
    @wraps(decode)
    def row(sym: Symbol) -> tuple:
        try:
            return decode(sym)
        except (RuntimeError, ValueError, IndexError):
            return ("",)
    return row


@_foreign_read_past
def _row(sym: Symbol) -> tuple:
    """A shown atom as (name, key...), decoded once per process: a batch sees the same atoms again and again."""
    row = _rows.get(sym)
    if row is not None:
        return row
    name, a = sym.name, sym.arguments
    if len(a) != _SHOWN.get(name, len(a)):
        raise ValueError(f"{name}/{len(a)} is not shown by the engine")
    if name == "determination":
        row = (name, a[0].string, a[1].name)
    elif name == "item_determination":
        row = (name, a[0].name, None if a[1].type == SymbolType.Function else a[1].string, a[2].name)
    elif name == "outcome":
        row = (name, a[0].name)
    elif name == "status":
        row = (name, a[0].string, _scope_text(a[1]), a[2].name)
    elif name in ("met", "not_met", "noted", "unsettled"):
        row = (name, a[0].string, _scope_text(a[1]), a[2])
    elif name == "superseded":
        row = (name, a[0].string, _scope_text(a[1]), a[2], a[3])
    elif name == "waived":
        row = (name, a[0].string, _scope_text(a[1]), a[2].string)
    elif name == "assumed_status":
        row = (name, a[0].string, _scope_text(a[1]), a[2].name)
    elif name == "report":
        subject = a[0]  # level(L) or item(I, W)
        key = subject.arguments[0].string if subject.name == "level" else _scope_text(subject)
        row = (name, key, a[1].string, _scope_text(a[2]))
    else:
        row = (name,)
    if len(_rows) >= _MEMO_LIMIT:
        _rows.clear()
    _rows[sym] = row
    return row


_texts: dict[Symbol, str] = {}


def _text(sym: Symbol) -> str:
    """``str(sym)``, remembered."""
    text = _texts.get(sym)
    if text is None:
        if len(_texts) >= _MEMO_LIMIT:
            _texts.clear()
        text = _texts[sym] = str(sym)
    return text


class _Reading:
    """The atoms of one plain model, indexed."""

    def __init__(self, symbols: Iterable[Symbol]):
        self.determination: dict[str, str] = {}
        self.items: dict[tuple[str, str | None], str] = {}
        self.outcome = ""
        self.status: dict[tuple[str, str], str] = {}
        self.evidence: dict[tuple[str, str, str], list[Symbol]] = defaultdict(list)
        self.reports: dict[str, set[tuple[str, str]]] = defaultdict(set)
        self.superseded: dict[tuple[str, str], list[tuple[Symbol, Symbol]]] = defaultdict(list)
        self.waived: dict[tuple[str, str], str] = {}
        for sym in symbols:
            row = _row(sym)
            name = row[0]
            if name == "determination":
                self.determination[row[1]] = row[2]
            elif name == "item_determination":
                self.items[(row[1], row[2])] = row[3]
            elif name == "outcome":
                self.outcome = row[1]
            elif name == "status":
                self.status[(row[1], row[2])] = row[3]
            elif name == "report":
                self.reports[row[1]].add((row[2], row[3]))
            elif name == "superseded":
                self.superseded[(row[1], row[2])].append((row[3], row[4]))
            elif name == "waived":
                self.waived[(row[1], row[2])] = row[3]
            elif name in ("met", "not_met", "noted", "unsettled"):
                self.evidence[row[:3]].append(row[3])


class Engine:
    """Decides cases under one policy."""

    def __init__(self, policy: Policy):
        self.policy = policy
        self._order = {c.id: i for i, c in enumerate(policy.criteria)}
        self._documentation: dict[str, str] = {}
        self._parts: dict[str, tuple[str, ...]] = {}
        self._waives: dict[str, str] = {}
        self._derived: frozenset[str] = frozenset()
        self._program: list[ast.AST] | None = None

    # -- public ---------------------------------------------------------------

    def decide(self, case: Case, *, explain: bool = True, would_change: bool = True) -> Decision:
        atoms = list(_anatomy()) + list(case_atoms(case))
        return self._decision(case, atoms, _Grounded.case(self.policy, atoms), explain, would_change)

    def _decision(self, case: Case, atoms: Sequence[Symbol], grounded: "_Grounded | _CaseView",
                  explain: bool, would_change: bool) -> Decision:
        models = grounded.solve([(Function("whatif"), False)])
        if len(models) != 1:
            raise PolicyError([f"{self.policy.folder}: the policy gives {len(models)} answers for one case, not one"])
        reading = _Reading(models[0])
        describe = Describer(atoms).describe
        if not self._documentation:
            self._documentation = self._read_documentation(grounded)

        levels = []
        for lv in sorted(case.request.levels, key=lambda r: _level_key(r.level)):
            requested = tuple(p for p, v in (("decompression", lv.decompression), ("fusion", lv.fusion)) if v is not None)
            det = reading.determination[lv.level]
            criteria = self._criteria(reading, lv.level, describe) if explain else ()
            changes = self._level_changes(grounded, lv.level, det, requested) if would_change else ()
            levels.append(LevelDecision(lv.level, requested, det, criteria, changes))

        items = []
        for (item, where), det in sorted(reading.items.items(), key=lambda kv: (_ITEM_ORDER.get(kv[0][0], 99), _level_key(kv[0][1] or ""))):
            key = item if where is None else f"{item}@{where}"
            criteria = self._criteria(reading, key, describe) if explain else ()
            changes = ()
            if would_change and det == "not_medically_necessary":
                target = Function("target_item", [Function(item), String(where) if where else Function("case")])
                changes = self._changes(grounded, [(1, target)], 0, lambda syms: 1,
                                        ("not_medically_necessary", "medically_necessary"))
            items.append(ItemDecision(item, where, det, criteria, changes))

        if explain and would_change:
            levels, items = self._document_what_lines_need(levels, items)
        h = self.policy.header
        return Decision(
            case=case.case,
            policy=PolicyRef(self.policy.id, self.policy.version, self.policy.effective, h.get("payer", ""), h.get("title", "")),
            outcome=reading.outcome,
            levels=tuple(levels),
            items=tuple(items),
            explained=explain,
            would_change_computed=would_change,
            statuses=tuple(sorted(
                ((cid, scope, st) for (cid, scope), st in reading.status.items()),
                key=lambda t: (self._order.get(t[0], len(self._order)), t[0], _level_key(t[1]), t[1]),
            )),
            notices=effective_period_notices(self.policy, case),
        )

    def _document_what_lines_need(self, levels: list[LevelDecision], items: list[ItemDecision]):
        """What the record must say, also for a criterion that is not met now but that a
        what-if line needs documented where the rest of the line holds: REF-X1 at S1-pelvis
        fails while fusion at L5-S1 is not justified, and once it is, needs the imbalance
        measured.  Without it, documentation to obtain would name a criterion and not say
        what to obtain."""
        wanted = {(a.criterion, a.scope) for s in (*levels, *items) for w in s.would_change
                  for a in (*w.requires, *w.one_of) if a.status == "not_documented"}

        def said(criteria: tuple[CriterionResult, ...]) -> tuple[CriterionResult, ...]:
            return tuple(replace(c, documentation=self._documentation[c.id])
                         if c.documentation is None and (c.id, c.scope) in wanted and c.id in self._documentation
                         else c for c in criteria)

        return ([replace(lv, criteria=said(lv.criteria)) for lv in levels],
                [replace(it, criteria=said(it.criteria)) for it in items])

    def decide_many(self, cases: Sequence[Case], *, explain: bool = True,
                    would_change: bool = False) -> list[Decision | PolicyError]:
        """The decisions for many cases, from one grounding of the policy.

        Equal to ``decide`` case by case (tests hold it to that).  When the
        policy cannot be keyed by case, or the cases together do not have
        exactly one answer, each case is decided alone, so that the one at
        fault gets its own error.
        """
        if not cases:
            return []
        atoms = [tuple(case_atoms(c)) for c in cases]
        program = self._batch_program()
        plains = None
        if program is not None:
            try:
                chunk = _Chunk(program, atoms)
                plains = chunk.plain()
            except PolicyError:
                plains = None
        if plains is None:
            return [self._decide_or_error(c, explain, would_change) for c in cases]
        out = []
        for case, own, plain in zip(cases, atoms, plains):
            every = [*_anatomy(), *own]
            out.append(self._decision(case, every, _CaseView(chunk, plain, self.policy, every), explain, would_change))
        return out

    def _decide_or_error(self, case: Case, explain: bool, would_change: bool) -> Decision | PolicyError:
        try:
            return self.decide(case, explain=explain, would_change=would_change)
        except PolicyError as exc:
            return exc

    def prepare_batch(self) -> None:
        """Key the policy by case now (``decide_many`` would do it on first use)."""
        self._batch_program()

    def _batch_program(self) -> list[ast.AST] | None:
        if self._program is None:
            # once per policy and process: a process may decide several batches under one policy
            found = _KEYED.get(id(self.policy))
            if found is None or found[0] is not self.policy:
                found = _KEYED[id(self.policy)] = (self.policy, _keyed_by_case(self.policy))
            self._program = found[1]
        return self._program or None

    def assuming(self, case: Case, assumptions: Iterable[Assumption]) -> tuple[dict[str, str], dict[tuple[str, str | None], str]]:
        """Level and item determinations with the given criteria assumed met.

        The what-if check behind ``would_change``: the same ground program,
        the listed ``assumed/2`` atoms forced true, every other assumption left
        to the minimiser (which adds none, having nothing to reach).
        """
        atoms = anatomy() + list(case_atoms(case))
        grounded = _Grounded.case(self.policy, atoms)
        assumptions = list(assumptions)
        forced = [(Function("assumed", [String(a.criterion), _scope_symbol(a.scope)]), True) for a in assumptions]
        for a, (sym, _) in zip(assumptions, forced):
            if sym not in grounded.ctl.symbolic_atoms:
                raise ValueError(f"{a.criterion} cannot be assumed at {a.scope}: only a leaf criterion "
                                 "(not a composite, waiver, provision or derived one) evaluated at that scope can")
        models = grounded.solve([(Function("whatif"), True)], extra=forced)
        if not models:
            raise ValueError("those assumptions cannot be made (a criterion's precondition fails)")
        reading = _Reading(models[0])
        return reading.determination, reading.items

    # -- reading --------------------------------------------------------------

    def _read_documentation(self, grounded: _Grounded) -> dict[str, str]:
        """The policy's declarations an explanation shows: what to document, parts, waivers."""
        docs: dict[str, str] = {}
        atoms = grounded.ctl.symbolic_atoms
        for cid, text in _declared(atoms, "documentation"):
            docs[cid] = text
        parts: dict[str, list[str]] = defaultdict(list)
        for part, whole in _declared(atoms, "part_of"):
            parts[whole].append(part)
        self._parts = {whole: tuple(sorted(ps, key=lambda c: self._order.get(c, len(self._order)))) for whole, ps in parts.items()}
        self._waives = dict(_declared(atoms, "waives"))
        self._derived = frozenset(sa.symbol.arguments[0].string for sa in atoms.by_signature("derived", 1)
                                  if sa.is_fact and sa.symbol.arguments[0].type == SymbolType.String)
        return docs

    def _criteria(self, reading: _Reading, subject: str, describe) -> tuple[CriterionResult, ...]:
        rows = []
        for cid, scope in reading.reports.get(subject, ()):
            status = reading.status.get((cid, scope), "not_documented")
            kind = "met" if status == "met" else "not_met"
            evidence = reading.evidence.get((kind, cid, scope), []) if status != "not_documented" else []
            unsettled = reading.evidence.get(("unsettled", cid, scope), []) if status == "not_documented" else []
            noted = reading.evidence.get(("noted", cid, scope), [])
            superseded = reading.superseded.get((cid, scope), [])
            c = self.policy.criterion(cid)
            rows.append(CriterionResult(
                id=cid, title=c.title, citation=c.citation, scope=scope, status=status,
                evidence=_evidence(evidence, describe),
                noted=_evidence(noted, describe),
                documentation=self._documentation.get(cid) if status == "not_documented" else None,
                superseded=tuple(sorted({
                    Evidence(_text(e), f"{describe(e)}, superseded by the later {describe(Function('study', [later]))}")
                    for e, later in superseded
                }, key=lambda e: e.atom)),
                unsettled=_evidence(unsettled, describe),
                waived_by=reading.waived.get((cid, scope)),
                parts=self._parts.get(cid, ()),
                waives=self._waives.get(cid),
                derived=cid in self._derived,
            ))
        rows.sort(key=lambda r: (self._order.get(r.id, len(self._order)), r.id, r.scope))
        return tuple(rows)

    # -- what would change ----------------------------------------------------

    def _level_changes(self, grounded: _Grounded, level: str, det: str, requested: tuple[str, ...]) -> tuple[WouldChange, ...]:
        if det == NOT_ADDRESSED:
            return ()
        want = DETERMINATIONS.index("fusion" if "fusion" in requested else "decompression_only")
        have = DETERMINATIONS.index(det)
        targets = [(tier, Function("target_level", [String(level), Function(DETERMINATIONS[tier])]))
                   for tier in range(have + 1, want + 1)]
        return self._changes(grounded, targets, have,
                             lambda syms: DETERMINATIONS.index(_determination_in(syms, level)), DETERMINATIONS)

    def _changes(self, grounded: _Grounded, targets: list[tuple[int, Symbol]], have: int,
                 tier_of, names: Sequence[str]) -> tuple[WouldChange, ...]:
        """What would change a subject: documentation to obtain, then findings the record contradicts.

        For each target tier above ``have``, the smallest sets of criteria not
        documented whose documentation reaches it; then, apart, the smallest
        sets that need some criterion a documented finding refutes.  No set
        holds a met criterion (the core forbids assuming one), and every
        contradicted set is checked to need each of its criteria.
        """
        found: dict[tuple, WouldChange] = {}
        reaching: list[tuple[int, frozenset[Symbol]]] = []  # every set found, with the tier it reaches
        for kind in CHANGE_KINDS:
            reached = have
            for tier, target in targets:
                # A smallest set for a lower target that already reaches this tier is
                # as small as any set for this tier can be: those are found already.
                if tier <= reached:
                    continue
                blocked = [members for t, members in reaching if t >= tier]
                for atoms, assumed, got in self._search(grounded, target, kind, blocked, tier_of):
                    reaching.append((got, atoms))
                    reached = max(reached, got)
                    change = WouldChange(names[got], assumed, kind=kind)
                    found.setdefault((kind, change.determination, assumed), change)
        return grouped(list(found.values()), self._assumption_key)

    def _search(self, grounded: _Grounded, target: Symbol, kind: str, blocked: list[frozenset[Symbol]],
                tier_of) -> list[tuple[frozenset[Symbol], tuple[Assumption, ...], int]]:
        mode = Function("documentation_only" if kind == DOCUMENTATION else "contradicted_only")
        base = [(Function("whatif"), True), (target, True), (mode, True)]
        if kind == DOCUMENTATION:
            return [self._read_set(m, tier_of) for m in grounded.solve(base)]
        out: list[tuple[frozenset[Symbol], tuple[Assumption, ...], int]] = []
        seen: set[frozenset[Symbol]] = set()
        size = None
        for _ in range(MAX_ROUNDS):
            guard = grounded.block(blocked) if blocked else None
            models = grounded.solve(base + ([(guard, True)] if guard is not None else []))
            if not models:
                break
            atoms = [frozenset(_assumed_atoms(m)) for m in models]
            if size is not None and len(atoms[0]) > size:
                break
            for members in atoms:
                needed, model = self._needed(grounded, target, members)
                blocked.append(needed)
                if needed in seen or model is None:
                    continue
                seen.add(needed)
                read = self._read_set(model, tier_of)
                if any(a.status == "not_met" for a in read[1]):
                    out.append(read)
                    size = len(needed) if size is None else min(size, len(needed))
        return out

    def _needed(self, grounded: _Grounded, target: Symbol, members: frozenset[Symbol]) -> tuple[frozenset[Symbol], tuple | None]:
        """``members`` with every criterion dropped that the target does not need, and the model
        that assumes exactly what is left."""
        keep = set(members)
        model = self._exactly(grounded, target, keep)
        for sym in sorted(members):
            trial = self._exactly(grounded, target, keep - {sym})
            if trial is not None:
                keep.discard(sym)
                model = trial
        return frozenset(keep), model

    def _exactly(self, grounded: _Grounded, target: Symbol, members: set[Symbol]):
        """A model reaching ``target`` with exactly ``members`` assumed, or None."""
        forced = [(sym, sym in members) for sym in grounded.leaf_atoms]
        models = grounded.solve([(Function("whatif"), True), (target, True)], extra=forced)
        return models[0] if models else None

    def _read_set(self, model, tier_of) -> tuple[frozenset[Symbol], tuple[Assumption, ...], int]:
        assumed = tuple(sorted(
            (Assumption(*row[1:]) for row in map(_row, model) if row[0] == "assumed_status"),
            key=self._assumption_key,
        ))
        return frozenset(_assumed_atoms(model)), assumed, tier_of(model)

    def _assumption_key(self, a: Assumption) -> tuple:
        return (self._order.get(a.criterion, 999), _level_key(a.scope), a.scope)


#: Each policy's program keyed by case (``per_case``), with the policy it was made from.
_KEYED: dict[int, tuple[Policy, list[ast.AST]]] = {}


def _keyed_by_case(policy: Policy) -> list[ast.AST]:
    """The core and the policy keyed by case for ``decide_many``; empty when they cannot be."""
    static = {f"{a.name}/{len(a.arguments)}" for a in _anatomy()}
    try:
        program = per_case((*core_statements(), *policy.statements), CASE_SIGNATURES - static)
    except UnsupportedForBatch:
        return []
    # The plain solve has every external false: left undeclared, gringo
    # drops the what-if rules instead of grounding them.
    return [s for s in program if s.ast_type != ast.ASTType.External]


def _declared(atoms: clingo.SymbolicAtoms, name: str) -> list[tuple[str, str]]:
    """The policy's ``name(A, B)`` facts whose arguments are both strings."""
    out = []
    for sa in atoms.by_signature(name, 2):
        a, b = sa.symbol.arguments
        if sa.is_fact and a.type == SymbolType.String and b.type == SymbolType.String:
            out.append((a.string, b.string))
    return sorted(out)


def _assumed_atoms(model: Iterable[Symbol]) -> list[Symbol]:
    return [Function("assumed", s.arguments[:2]) for s in model if _row(s)[0] == "assumed_status"]


def _evidence(atoms: Iterable[Symbol], describe) -> tuple[Evidence, ...]:
    return tuple(sorted({Evidence(_text(e), describe(e)) for e in atoms}, key=lambda e: e.atom))


def effective_period_notices(policy: Policy, case: Case) -> tuple[Notice, ...]:
    """A request dated before the policy took effect, or undated, is flagged (never decided on)."""
    start = _iso_date(policy.effective)
    if start is None:
        return ()
    name = f"{policy.id} {policy.version}"
    date = case.request.date
    if date is None:
        return (Notice("request_undated", f"the request is undated: whether {name} (effective "
                       f"{policy.effective}) applies to it cannot be checked"),)
    first, last = date.span
    if last < start:
        return (Notice("outside_effective_period", f"the request is dated {date}, before {name} took effect "
                       f"({policy.effective}): check which version of the policy applies"),)
    if first < start:
        return (Notice("outside_effective_period", f"the request is dated {date}, which may fall before {name} "
                       f"took effect ({policy.effective}): the exact date would settle which version applies"),)
    return ()


def _iso_date(text: str):
    import datetime as dt

    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        return None


def _determination_in(symbols: Iterable[Symbol], level: str) -> str:
    for s in symbols:
        row = _row(s)
        if row[0] == "determination" and row[1] == level:
            return row[2]
    return "none"


def decide(policy: Policy, case: Case, **kwargs) -> Decision:
    return Engine(policy).decide(case, **kwargs)


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
