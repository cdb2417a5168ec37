"""What a formula-defined criterion reads, read from its formula (engine/deciding/core.lp, "formulas").

A criterion declared with ``formula(Id, F)`` has no rules of its own: the
engine's core evaluates ``F``.  What it reads of a case is therefore said by
the formula itself, not guessed through rule heads:

* ``finding(X)`` reads ``finding(X, yes)`` and ``finding(X, no)``;
* a figure, ``at_least(M, N)`` (``at_most``, ``over``, ``under``), reads the
  case argument the core measures ``M`` by (``measured/4`` in core.lp) and
  compares it with ``N`` exactly;
* ``is(M, V)`` reads the category ``M`` (``category/3`` in core.lp) and tells
  ``V`` apart from the rest;
* ``imaging(Q)`` reads what the policy's ``study_answer`` rules for question
  ``Q`` (``at(Q, L)`` at a level) read;
* ``imaged_within(Q, K)`` reads what ``imaging(Q)`` reads and the dates of
  the studies and the request, and compares them K months apart;
* ``concordant`` reads ``concordant_level/1`` and the documented list of them;
* ``approach(D)`` reads ``fusion_approach/2``, ``fused_level`` ``requested/2``;
* ``operated(T)`` reads the prior operations, their levels and the documented
  list of them, and tells type ``T`` apart; ``side(D)`` reads the requested
  item's side and tells ``D`` apart; ``planned(pars_resection)`` reads the
  planned pars resection (LOCAL below); the measurements of a level
  (``measured_at/5``) are read as ``measured/4`` is;
* the care blocks (``care_days(care(...))`` and ``care_span`` compared with a
  number of days, ``ended_within(care(...), K)``, ``outcome(Y, N)``) read the
  episodes of care, the list's documentation and the dates they compare: the
  days figure goes to the episodes' days (and, for the span, the stated total
  and every date), the months of a window to the calendar month, and the
  modality, delivery and outcomes named to their places.

``engine/analysing/reads.py`` adds these reads to ``case_reads`` and these
figures to ``figures``, so the case space of ``check`` and ``diff`` offers
every figure a formula compares.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from clingo import SymbolType, ast

from engine.deciding.blocks import FIGURES, care_measured, declarations, measures as _measures, name_of, parts, selection

Place = tuple[str, int]

#: Leaves that read case facts of their own: (what they read, fixed arguments), and the place their
#: argument is compared with.
LOCAL: dict[str, tuple[tuple[tuple[str, tuple[tuple[int, str], ...]], ...], Place | None]] = {
    "operated": ((("prior_surgery/3", ()), ("prior_surgery_level/2", ()),
                  ("documented/1", ((0, "prior_surgeries"),))), ("prior_surgery/3", 1)),
    "side": ((("requested_item_side/2", ()),), ("requested_item_side/2", 1)),
    "planned": ((("planned_pars_resection/2", ()),), None),
}


@dataclass
class Leaves:
    """The leaves of the formulas of a program, by criterion (None for a determination tree)."""

    findings: dict[str | None, set[str]] = field(default_factory=lambda: defaultdict(set))
    figures: dict[str | None, set[tuple[str, int]]] = field(default_factory=lambda: defaultdict(set))
    categories: dict[str | None, set[tuple[str, str]]] = field(default_factory=lambda: defaultdict(set))
    questions: dict[str | None, set[str]] = field(default_factory=lambda: defaultdict(set))
    concordant: set[str | None] = field(default_factory=set)
    #: case predicates a leaf reads whole: approach(D) the planned approaches, fused_level what was requested
    whole: dict[str | None, set[str]] = field(default_factory=lambda: defaultdict(set))
    local: dict[str | None, set[tuple[str, str]]] = field(default_factory=lambda: defaultdict(set))
    months: dict[str | None, set[int]] = field(default_factory=lambda: defaultdict(set))
    several: dict[str | None, set[tuple[str, int]]] = field(default_factory=lambda: defaultdict(set))
    #: every figure with its comparison: (measurement, or "care_days", block name, figure)
    compared: set[tuple[str, str, int]] = field(default_factory=set)
    #: the other leaves (prior_surgery, combined_approach, fusion_justified...), by name
    others: dict[str | None, set[str]] = field(default_factory=lambda: defaultdict(set))
    #: conservative care: ("days", selection, N), ("span", N), ("window", selection, K), ("outcome", Y, N),
    #: ("received", M)
    care: dict[str | None, set[tuple]] = field(default_factory=lambda: defaultdict(set))


def leaves(statements: Iterable[ast.AST]) -> Leaves:
    out = Leaves()
    for _, owner, formula in declarations(statements):
        pending = [formula]
        while pending:
            f = pending.pop()
            if f.type != SymbolType.Function:
                continue
            a = f.arguments
            pending.extend(parts(f))
            if f.name in FIGURES and len(a) == 2 and a[1].type == SymbolType.Number and name_of(a[0]):
                out.compared.add((name_of(a[0]), f.name, a[1].number))
            if f.name in FIGURES and len(a) == 2 and care_measured(a[0]) and a[1].type == SymbolType.Number:
                if a[0].name == "care_span":
                    out.care[owner].add(("span", a[1].number))
                elif selection(a[0].arguments[0]) is not None:
                    out.care[owner].add(("days", _fields(a[0].arguments[0]), a[1].number))
            elif f.name == "ended_within" and len(a) == 2 and selection(a[0]) is not None \
                    and a[1].type == SymbolType.Number:
                out.care[owner].add(("window", _fields(a[0]), a[1].number))
            elif f.name == "received" and len(a) == 1 and name_of(a[0]):
                out.care[owner].add(("received", name_of(a[0])))
            elif f.name == "outcome" and len(a) == 2 and name_of(a[0]) and name_of(a[1]):
                out.care[owner].add(("outcome", name_of(a[0]), name_of(a[1])))
            elif f.name in LEAF_READS:
                out.others[owner].add(f.name)
            elif f.name == "finding" and len(a) == 1 and name_of(a[0]):
                out.findings[owner].add(name_of(a[0]))
            elif f.name in FIGURES and len(a) == 2 and a[1].type == SymbolType.Number and name_of(a[0]):
                out.figures[owner].add((name_of(a[0]), a[1].number))
            elif f.name == "is" and len(a) == 2 and name_of(a[0]) and name_of(a[1]):
                out.categories[owner].add((name_of(a[0]), name_of(a[1])))
            elif (f.name == "several" and len(a) == 2 and a[0].type == SymbolType.Number
                  and a[1].type == SymbolType.Function and a[1].name in FIGURES and name_of(a[1].arguments[0])):
                out.several[owner].add((name_of(a[1].arguments[0]), a[0].number))
            elif f.name == "concordant" and not a:
                out.concordant.add(owner)
            elif f.name == "imaging" and len(a) in (1, 2) and name_of(a[0]):
                out.questions[owner].add(name_of(a[0]))
            elif f.name == "approach" and len(a) == 1:
                out.whole[owner].add("fusion_approach/2")
            elif f.name == "fused_level":
                out.whole[owner].add("requested/2")
            elif f.name == "imaged_within" and len(a) == 2 and name_of(a[0]) and a[1].type == SymbolType.Number:
                out.questions[owner].add(name_of(a[0]))
                out.months[owner].add(a[1].number)
            elif f.name in LOCAL and len(a) == 1 and name_of(a[0]):
                out.local[owner].add((f.name, name_of(a[0])))
    return out


def _fields(term) -> tuple[str, str, str | None, str | None]:
    """A care selection as (modality, delivery, outcome left out, sessions left out), ``any`` where it says any."""
    chosen = selection(term) or {}

    def left_out(value) -> str | None:
        if value is None or value.type != SymbolType.Function or value.name != "except" or len(value.arguments) != 1:
            return None
        return str(value.arguments[0])

    return (str(chosen["modality"]), str(chosen.get("delivery", "any")),
            left_out(chosen.get("outcome")), left_out(chosen.get("sessions")))


#: What a leaf that names no case fact reads of the case (the determinations it reads rest on the request).
LEAF_READS: dict[str, tuple[tuple[str, tuple[tuple[int, str], ...]], ...]] = {
    "prior_surgery": (("prior_surgery/3", ()), ("prior_surgery_level/2", ()), ("documented/1", ((0, "prior_surgeries"),))),
    "prior_decompression": (("prior_surgery/3", ()), ("prior_surgery_level/2", ()),
                            ("documented/1", ((0, "prior_surgeries"),))),
    "stenosis_reported": (("stenosis/5", ()),),
    "combined_approach": (("fusion_approach/2", ()),),
    "fusion_justified": (("requested/2", ()),),
    "fused_at": (("requested/2", ()),),
}

DATES: tuple[Place, ...] = (("care_start/3", 1), ("care_start/3", 2), ("care_end/3", 1), ("care_end/3", 2),
                            ("request_date/2", 0), ("request_date/2", 1))


def _care_reads(leaf: tuple) -> Iterator[tuple[str, tuple[tuple[int, str], ...]]]:
    """(case predicate, fixed arguments) for what one care block reads."""
    yield "care_episode/2", ()
    yield "documented/1", ((0, "care_episodes"),)
    yield "conservative_care_total_days/1", ()
    if leaf[0] == "received":
        yield "care_episode/2", ((1, leaf[1]),)
        return
    if leaf[0] == "outcome":
        yield "care_outcome/2", ((1, leaf[1]),)
        yield "care_outcome/2", ((1, leaf[2]),)
        return
    if leaf[0] in ("span", "window"):
        yield from (("care_start/3", ()), ("care_end/3", ()), ("request_date/2", ()), ("care_outcome/2", ((1, "ongoing"),)))
    if leaf[0] == "window":
        yield "calendar_date/4", ()
    if leaf[0] in ("days", "span"):
        yield "care_days/3", ()
    if leaf[0] in ("days", "window"):
        modality, delivery, outcome, sessions = leaf[1]
        if modality != "any":
            yield "care_episode/2", ((1, modality),)
        if delivery != "any":
            yield "care_delivery/2", ()
            yield "care_delivery/2", ((1, delivery),)
        if outcome is not None:
            yield "care_outcome/2", ((1, outcome),)
        if sessions is not None:
            yield "care_sessions/2", ((1, sessions),)
        yield from (("care_start/3", ()), ("care_end/3", ()))


def _care_figures(leaf: tuple) -> Iterator[tuple[Place, int | str]]:
    """(case place, number or constant) for what one care block compares."""
    if leaf[0] == "received":
        yield ("care_episode/2", 1), leaf[1]
        return
    if leaf[0] == "outcome":
        yield ("care_outcome/2", 1), leaf[1]
        yield ("care_outcome/2", 1), leaf[2]
        return
    if leaf[0] in ("span", "window"):
        yield ("care_outcome/2", 1), "ongoing"
    if leaf[0] == "span":
        for place in (("care_days/3", 1), ("care_days/3", 2), ("conservative_care_total_days/1", 0), *DATES):
            yield place, leaf[1]
        return
    modality, delivery, outcome, sessions = leaf[1]
    if leaf[0] == "days":
        yield ("care_days/3", 1), leaf[2]
        yield ("care_days/3", 2), leaf[2]
    else:  # a window of so many months before the request
        yield ("calendar_date/4", 2), leaf[2]
    for place, value in ((("care_episode/2", 1), modality), (("care_delivery/2", 1), delivery),
                         (("care_outcome/2", 1), outcome)):
        if value not in (None, "any"):
            yield place, value
    if sessions is not None and sessions.lstrip("-").isdigit():
        yield ("care_sessions/2", 1), int(sessions)


def measures() -> dict[tuple[str, str], tuple[Place, ...]]:
    """(``measured`` or ``category``, name) -> the case arguments core.lp reads the value from."""
    return {(kind, name): places for kind, table in _measures().items() for name, places in table.items()}


def reads(statements: Iterable[ast.AST]) -> Iterator[tuple[str | None, str, tuple[tuple[int, str], ...]]]:
    """(criterion, case predicate, fixed arguments) for every read a formula makes itself."""
    got = leaves(statements)
    for owner, names in got.findings.items():
        for x in sorted(names):
            yield owner, "finding/2", ((0, x), (1, "no"))
            yield owner, "finding/2", ((0, x), (1, "yes"))
    for owner, figs in got.figures.items():
        for m, _ in sorted(figs):
            for sig, _i in measures().get(("measured", m), ()) + measures().get(("counted", m), ()):
                yield owner, sig, ()
    for owner, cats in got.categories.items():
        for m, _ in sorted(cats):
            for sig, _i in measures().get(("category", m), ()):
                yield owner, sig, ()
    for owner, sigs in got.whole.items():
        for sig in sorted(sigs):
            yield owner, sig, ()
    for owner in got.concordant:
        yield owner, "concordant_level/1", ()
        yield owner, "documented/1", ((0, "concordant_levels"),)
    for owner in got.months:
        for sig in ("imaging_date/3", "request_date/2", "calendar_date/4"):
            yield owner, sig, ()
    for owner, used in got.local.items():
        for block in sorted({b for b, _ in used}):
            for sig, fixed in LOCAL[block][0]:
                yield owner, sig, fixed
    for owner, names in got.others.items():
        for name in sorted(names):
            for sig, fixed in LEAF_READS[name]:
                yield owner, sig, fixed
    for owner, care in got.care.items():
        for leaf in sorted(care, key=str):
            for sig, fixed in _care_reads(leaf):
                yield owner, sig, fixed


def answers(statements: Iterable[ast.AST]) -> dict[str | None, set[str]]:
    """The questions of imaging each criterion's formula asks (``imaging(Q)``)."""
    return leaves(statements).questions


def question_of(term: ast.AST) -> str | None:
    """The question a ``study_answer`` head's first argument names: ``Q`` of ``at(Q, L)``, or ``Q`` itself."""
    if term.ast_type == ast.ASTType.Function and term.name == "at" and len(term.arguments) == 2:
        term = term.arguments[0]
    if term.ast_type == ast.ASTType.SymbolicTerm:
        return name_of(term.symbol)
    if term.ast_type == ast.ASTType.Function and not term.arguments:
        return term.name
    return None


def figures(statements: Iterable[ast.AST]) -> tuple[dict[Place, set[int]], dict[Place, set[str]]]:
    """The figures and categories the formulas compare, by the case argument they are compared with."""
    got = leaves(statements)
    numbers: dict[Place, set[int]] = defaultdict(set)
    constants: dict[Place, set[str]] = defaultdict(set)
    for figs in got.figures.values():
        for m, n in figs:
            for place in measures().get(("measured", m), ()):
                numbers[place].add(n)
    for cats in got.categories.values():
        for m, v in cats:
            for place in measures().get(("category", m), ()):
                constants[place].add(v)
    for names in got.findings.values():
        constants[("finding/2", 0)] |= names
    for months in got.months.values():
        numbers[("calendar_date/4", 2)] |= months
    for used in got.local.values():
        for block, value in used:
            if LOCAL[block][1] is not None:
                constants[LOCAL[block][1]].add(value)
    for care in got.care.values():
        for leaf in care:
            for place, value in _care_figures(leaf):
                if isinstance(value, int):
                    numbers[place].add(value)
                else:
                    constants[place].add(value)
    return numbers, constants


def counts(statements: Iterable[ast.AST]) -> dict[str, set[int]]:
    """The numbers of entries the formulas compare, by the place counted (``"limited_activity/1@0"``): a counted
    measurement's figure (``at_least(limited_activities, 2)``), the count of ``several(K, Figure)``."""
    got = leaves(statements)
    found: dict[str, set[int]] = defaultdict(set)
    for figs in got.figures.values():
        for m, n in figs:
            for sig, i in measures().get(("counted", m), ()):
                found[f"{sig}@{i}"].add(n)
    for pairs in got.several.values():
        for m, k in pairs:
            for sig, _i in measures().get(("measured", m), ()):
                found[f"{sig}@0"].add(k)
    return found


#: The values either side of a figure, by comparison: 42 and 41 meet and miss at_least 42.
SIDES = {"at_least": (-1, 0), "under": (-1, 0), "at_most": (0, 1), "over": (0, 1)}


def offered(statements: Iterable[ast.AST]) -> tuple[dict[Place, set[int]], dict[Place, set[int]]]:
    """(sides, padded): the values that put each figure a formula compares with a measurement or with the
    days of care on either side, worked out from its comparison; and the numbers whose sides are not
    worked out (a span, a window, a number of sessions), to be offered with a step either side."""
    got = leaves(statements)
    sides: dict[Place, set[int]] = defaultdict(set)
    padded: dict[Place, set[int]] = defaultdict(set)
    for m, how, n in got.compared:
        places = (("care_days/3", 1), ("care_days/3", 2)) if m == "care_days" else measures().get(("measured", m), ())
        for place in places:
            sides[place].update(n + s for s in SIDES[how])
    for care in got.care.values():
        for leaf in care:
            for place, value in _care_figures(leaf):
                if isinstance(value, int) and (leaf[0] != "days" or place[0] != "care_days/3"):
                    padded[place].add(value)
    return sides, padded
