"""Deciding a case: ``Engine.decide`` (one case) and ``Engine.decide_many`` (a chunk of cases).

A case is decided in one grounding: the engine's core rules, the policy, and
the case's atoms (added through the backend, never as text) are grounded
once; the plain solve reads determinations, statuses and evidence; then, for
each requested level or item that falls short, the same ground program is
solved again with ``whatif`` and one target switched on, and the solver
minimises the number of criteria it must assume met.  Python reads the models
back and sorts them; it decides nothing.  The ground program and its
``clingo.Control`` are in grounding.py, the reading of a model in reading.py;
the searches of ``check`` and ``diff`` over a ground program in search.py.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace

import clingo
from clingo import Function, String, Symbol, SymbolType
from clingo import ast

from engine.deciding.core import CORE  # noqa: F401  (tests read core.lp's path from here)
from engine.deciding.core import statements as core_statements
from engine.deciding.decision import (
    SEARCHED_KINDS,
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
    Tree,
    WouldChange,
    change_kind,
)
from engine.deciding.alternatives import grouped
from engine.deciding.errors import PolicyError
from engine.deciding.evidence import Describer
from engine.deciding import lacking as lacking_words
from engine.deciding.policy import Policy
from engine.deciding.transform import UnsupportedForBatch, per_case
from engine.deciding.trees import Declared, n_of_pools
from engine.deciding.grounding import MAX_ALTERNATIVES, _CaseView, _Chunk, _Grounded  # noqa: F401  (tests read these here)
from engine.deciding.reading import _ITEM_ORDER, _anatomy, _level_key, _Reading, _row, _scope_symbol, _text
from engine.deciding.search import Search  # noqa: F401  (imported from here before the split)
from facts import Case, anatomy, case_atoms
from facts.vocabulary import SIGNATURES as CASE_SIGNATURES

MAX_ROUNDS = 6  # searches for findings the record contradicts, per target


class Engine:
    """Decides cases under one policy."""

    def __init__(self, policy: Policy):
        self.policy = policy
        self._order = {c.id: i for i, c in enumerate(policy.criteria)}
        self._documentation: dict[str, str] = {}
        self._parts: dict[str, tuple[str, ...]] = {}
        self._waives: dict[str, str] = {}
        self._derived: frozenset[str] = frozenset()
        self._formulas: dict[str, Symbol] = {}
        self._declared: Declared | None = None
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
            tree = self._tree(reading, lv.level, det, requested, describe) if explain or would_change else None
            changes = self._level_changes(grounded, lv.level, det, requested, tree) if would_change else ()
            levels.append(LevelDecision(lv.level, requested, det, criteria, changes, tree))

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
        waivers: dict[str, list[str]] = defaultdict(list)
        for waiver, criterion in _declared(atoms, "waives"):
            waivers[criterion].append(waiver)
        never_gate = frozenset(sa.symbol.arguments[0].string for name in ("provision", "advisory")
                               for sa in atoms.by_signature(name, 1)
                               if sa.is_fact and sa.symbol.arguments[0].type == SymbolType.String)
        self._declared = Declared(atoms, self._parts, {c: tuple(sorted(ws, key=lambda w: self._order.get(w, len(self._order))))
                                                      for c, ws in waivers.items()}, never_gate)
        self._derived = frozenset(sa.symbol.arguments[0].string for sa in atoms.by_signature("derived", 1)
                                  if sa.is_fact and sa.symbol.arguments[0].type == SymbolType.String)
        self._formulas = {sa.symbol.arguments[0].string: sa.symbol.arguments[1]
                          for sa in atoms.by_signature("formula", 2)
                          if sa.is_fact and sa.symbol.arguments[0].type == SymbolType.String}
        return docs

    def _criteria(self, reading: _Reading, subject: str, describe) -> tuple[CriterionResult, ...]:
        rows = [self._result(reading, cid, scope, describe) for cid, scope in reading.reports.get(subject, ())]
        rows.sort(key=lambda r: (self._order.get(r.id, len(self._order)), r.id, r.scope))
        return tuple(rows)

    def _result(self, reading: _Reading, cid: str, scope: str, describe) -> CriterionResult:
        """One criterion's result at one scope, as the model gives it."""
        status = reading.status.get((cid, scope), "not_documented")
        kind = "met" if status == "met" else "not_met"
        evidence = reading.evidence.get((kind, cid, scope), []) if status != "not_documented" else []
        unsettled = reading.evidence.get(("unsettled", cid, scope), []) if status == "not_documented" else []
        noted = reading.evidence.get(("noted", cid, scope), [])
        superseded = reading.superseded.get((cid, scope), [])
        c = self.policy.criterion(cid)
        return CriterionResult(
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
            lacking=_lacking(reading.lacking.get((cid, scope)), self._formulas.get(cid), scope)
            if status == "not_documented" else (),
        )

    def _tree(self, reading: _Reading, level: str, det: str, requested: tuple[str, ...], describe) -> Tree | None:
        """The policy's declared tree for what the level asked, where it alone decides the level."""
        if self._declared is None or det == NOT_ADDRESSED:
            return None
        asked = "fusion" if "fusion" in requested else "decompression_only"
        reaches = DETERMINATIONS.index(det) >= DETERMINATIONS.index(asked)

        def result(cid: str, scope: str) -> CriterionResult | None:
            return self._result(reading, cid, scope, describe) if (cid, scope) in reading.status else None

        def condition(term: Symbol) -> tuple[str, tuple[Evidence, ...]]:
            value = reading.conditions.get((level, term))
            return ({"t": "met", "f": "not_met"}.get(value, "not_documented"),
                    _evidence(reading.condition_evidence.get((level, term), []), describe))

        return self._declared.at_level(level, asked, reaches, reading.reports.get(level, set()), result, condition)

    # -- what would change ----------------------------------------------------

    def _level_changes(self, grounded: _Grounded, level: str, det: str, requested: tuple[str, ...],
                       tree: Tree | None = None) -> tuple[WouldChange, ...]:
        if det == NOT_ADDRESSED:
            return ()
        want = DETERMINATIONS.index("fusion" if "fusion" in requested else "decompression_only")
        have = DETERMINATIONS.index(det)
        targets = [(tier, Function("target_level", [String(level), Function(DETERMINATIONS[tier])]))
                   for tier in range(have + 1, want + 1)]
        return self._changes(grounded, targets, have,
                             lambda syms: DETERMINATIONS.index(_determination_in(syms, level)), DETERMINATIONS,
                             n_of_pools(tree))

    def _changes(self, grounded: _Grounded, targets: list[tuple[int, Symbol]], have: int,
                 tier_of, names: Sequence[str], pools=()) -> tuple[WouldChange, ...]:
        """What would change a subject: documentation to obtain, then findings the record contradicts.

        For each target tier above ``have``, the smallest sets of criteria not
        documented whose documentation reaches it; then, apart, the smallest
        sets that need some criterion a documented finding refutes.  No set
        holds a met criterion (the core forbids assuming one), and every
        contradicted set is checked to need each of its criteria.
        """
        found: dict[tuple, WouldChange] = {}
        reaching: list[tuple[int, frozenset[Symbol]]] = []  # every set found, with the tier it reaches
        for kind in SEARCHED_KINDS:
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
                    change = WouldChange(names[got], assumed, kind=change_kind(assumed))
                    found.setdefault((change.kind, change.determination, assumed), change)
        return grouped(list(found.values()), self._assumption_key, pools)

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
    if not atoms:
        return ()  # most criteria of a case: no evidence of a kind (asked three times per criterion)
    return tuple(sorted({Evidence(_text(e), describe(e)) for e in atoms}, key=lambda e: e.atom))


def _lacking(leaves: list[Symbol] | None, formula: Symbol | None, scope: str) -> tuple[Evidence, ...]:
    """What the record is silent on that a formula-defined criterion reads, in the formula's order."""
    if not leaves:
        return ()
    said: dict[str, Evidence] = {}  # two leaves in the same words (is(smoking_status, _) twice) said once
    for leaf in lacking_words.in_formula_order(leaves, formula):
        text = lacking_words.words(leaf, scope)
        said.setdefault(text, Evidence(_text(leaf), text))
    return tuple(said.values())


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
