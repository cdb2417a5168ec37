"""The bounded case space searched by ``diff`` and ``check``, and its witnesses.

engine/analysing/space.lp generates case atoms by choice, in the shapes of the case
model.  This module derives what the choices range over from the programs
searched (engine/analysing/reads.py): one constant per class the policies tell apart,
the values on each side of every comparison they make, the dates their windows
and spans need.  It writes a chosen set of atoms back as a case file, and
checks the round trip: the case file, emitted by facts/emit.py, must give
exactly the atoms the solver chose.  A witness that fails the round trip is
reported as an engine bug, never shown as a finding.
"""

from __future__ import annotations

import calendar
import datetime as dt
import typing
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import Any

import annotated_types
from clingo import Function, Number, String, Symbol, ast
from pydantic import BaseModel

from engine.analysing.figures import Figures
from engine.analysing.reads import Program
from engine.deciding.predicates import uses_in
from facts.emit import EPOCH, case_atoms, day_number
from facts.plausible import LEVEL_REGIONS, MEASURES, can_show, plausibility
from facts.schema import walk
from facts.terms import (
    SPINAL_LEVELS, Acuity, Approach, ArthropathyStatus, Basis, CareOutcome, CareSource, Course, Decompression,
    GraftSource, Item, ListhesisDirection, ListhesisType, Modality, MrcModifier, PainScale, Region, Setting, Side,
    SmokingStatus, StenosisGrade, StenosisZone, StudyType, SurgeryType, TherapyDelivery,
)
from facts.vocabulary import BY_NAME, PREDICATES
from facts.vocabulary import SIGNATURES as CASE_SIGNATURES

SPACE_FILE = Path(__file__).with_name("space.lp")
REQUEST_DATE = dt.date(2026, 1, 1)
DEFAULT_LEVELS = ("L4-L5",)

#: The closed vocabularies space.lp draws constants from (``value(Domain, V)``).
ENUMS: dict[str, type[Enum]] = {
    "decompression_technique": Decompression, "approach": Approach, "item": Item, "side": Side,
    "graft_source": GraftSource, "setting": Setting, "study_type": StudyType, "stenosis_zone": StenosisZone,
    "stenosis_grade": StenosisGrade, "listhesis_type": ListhesisType, "listhesis_direction": ListhesisDirection,
    "mrc_modifier": MrcModifier, "course": Course, "basis": Basis, "acuity": Acuity, "pain_scale": PainScale,
    "modality": Modality, "delivery": TherapyDelivery, "care_source": CareSource, "care_outcome": CareOutcome,
    "surgery_type": SurgeryType, "region": Region, "smoking": SmokingStatus, "arthropathy_status": ArthropathyStatus,
}
#: What the emitter writes for a stenosis reported without a side: ``stenosis_side`` offers it too.
UNSPECIFIED = "unspecified"
#: Sample text for free-text arguments, beside any string a policy compares them with.
SAMPLE_TEXT: dict[str, tuple[str, ...]] = {
    "limited_activity": ("walking", "standing", "sitting"),
    "alignment_description": ("curve described on standing films",),
    "radiculopathy_root": ("L5", "S1"),
}
#: A name for an inflammatory arthropathy no policy mentions.
SAMPLE_ARTHROPATHY = "ankylosing_spondylitis"

#: How many entries each list of a record may hold in the space.
LIST_BOUNDS = {"care_episodes": 3, "prior_surgeries": 2, "si_diagnostic_blocks": 2, "stenosis": 2,
               "pain_scores": 1, "limited_activities": 2}
#: The list whose entries a count of a case place counts (``#count { E : care_episode(E, _) }``).
LIST_OF = {"care_episode/2": "care_episodes", "prior_surgery/3": "prior_surgeries",
           "si_diagnostic_block/2": "si_diagnostic_blocks", "stenosis/5": "stenosis", "pain_score/2": "pain_scores",
           "limited_activity/1": "limited_activities"}
#: The longest a list may grow for a count a policy compares; a count beyond it is not proved.
MAX_LIST = 4
STUDIES_PER_TYPE = 1
NUMERIC_KINDS = ("integer", "tenths", "percent", "days")
#: every argument that holds a date (a day number)
DAY_PLACES = frozenset((p.signature, i) for p in PREDICATES for i, a in enumerate(p.args) if a.kind == "day")
MAX_OFFSET = 3650  # dates reach ten years before the request


@lru_cache(maxsize=1)
def space_statements() -> tuple[ast.AST, ...]:
    """engine/analysing/space.lp, parsed once."""
    out: list[ast.AST] = []
    ast.parse_string(SPACE_FILE.read_text(encoding="utf-8"), out.append)
    return tuple(out)


@lru_cache(maxsize=1)
def domain_users() -> dict[str, frozenset[str]]:
    """Domain -> the case predicates space.lp draws from it (``value(Domain, V)`` in their rules)."""
    users: dict[str, set[str]] = defaultdict(set)
    for stm in space_statements():
        found = uses_in(stm)
        heads = {u.signature.rpartition("/")[0] for u in found if u.head and u.signature in CASE_SIGNATURES}
        for u in found:
            if not u.head and u.signature == "value/2" and u.first_arg is not None:
                users[u.first_arg.name] |= heads
    for name in ("study_type",):  # study slots are facts of engine/analysing/space.py, for imaging_study/2
        users[name].add("imaging_study")
    return {k: frozenset(v) for k, v in users.items()}


@lru_cache(maxsize=1)
def generated() -> frozenset[str]:
    """The case predicates space.lp can generate."""
    return frozenset(u.signature for stm in space_statements() for u in uses_in(stm)
                     if u.head and u.signature in CASE_SIGNATURES)


# --------------------------------------------------------------------------
# what the case model allows: derived from its fields
# --------------------------------------------------------------------------


def _bounds_of(annotation: Any) -> tuple[float | None, float | None, str]:
    lo = hi = None
    unit = ""
    stack = [annotation]
    while stack:
        t = stack.pop()
        for arg in typing.get_args(t):
            stack.append(arg)
        if isinstance(t, type) and issubclass(t, BaseModel) and t.__name__ not in ("CaseDate",):
            # a value written as an object (an MRC grade): its first bounded field
            for info in t.model_fields.values():
                stack.append(typing.Annotated[info.annotation, info] if info.metadata else info.annotation)
                break
        for meta in getattr(t, "__metadata__", ()):
            items = [meta] + list(getattr(meta, "metadata", []))
            for m in items:
                if isinstance(m, annotated_types.Ge):
                    lo = m.ge
                elif isinstance(m, annotated_types.Le):
                    hi = m.le
            unit = getattr(meta, "description", None) or unit
    return lo, hi, unit


@lru_cache(maxsize=1)
def ranges() -> dict[tuple[str, int], tuple[int, int, str]]:
    """Per numeric case argument: the lowest and highest value the case model allows, in atom units, and the unit."""
    fields: dict[str, list[tuple[float | None, float | None, str]]] = defaultdict(list)
    for _path, annotation, emits in walk():
        lo, hi, unit = _bounds_of(annotation)
        if lo is None and hi is None:
            continue
        for pred in emits or ():
            fields[pred].append((lo, hi, unit))
    out: dict[tuple[str, int], tuple[int, int, str]] = {}
    for p in PREDICATES:
        numeric = [i for i, a in enumerate(p.args) if a.kind in NUMERIC_KINDS]
        found = fields.get(p.name, [])
        for n, i in enumerate(numeric):
            kind = p.args[i].kind
            spans = [found[n]] if len(found) == len(numeric) else found
            los = [s[0] for s in spans if s[0] is not None]
            his = [s[1] for s in spans if s[1] is not None]
            unit = next((s[2] for s in spans if s[2]), "")
            scale = 10 if kind in ("tenths", "percent") else (7 if unit == "weeks" else 1)
            lo = int(Decimal(str(min(los))) * scale) if los else 0
            hi = int(Decimal(str(max(his))) * scale) if his else 100_000
            out[(p.signature, i)] = (lo, hi, "days" if kind == "days" else unit)
    return out


def _minimal_case(extra: dict[str, Any]) -> dict[str, Any]:
    case = {"case": "probe", "request": {"levels": [{"level": "L4-L5", "fusion": True}]}}
    for key, value in extra.items():
        if key == "request":
            case["request"] = {**case["request"], **value}
        else:
            case[key] = value
    return case


def _nested(path: Sequence[str], value: Any) -> dict[str, Any]:
    out: Any = value
    for key in reversed(path):
        out = {key: out}
    return out


def _is_flag(annotation: Any) -> bool:
    stack = [annotation]
    while stack:
        t = stack.pop()
        if t is bool:
            return True
        stack.extend(typing.get_args(t))
    return False


@lru_cache(maxsize=1)
def finding_paths() -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """Where each yes/no finding sits in a case file, found by emitting probes.

    (``finding/2`` name -> path from the record's root, ``level_finding/4``
    name -> path inside an imaging study's level entry).
    """
    from facts.load import parse_case
    import json

    base = set(case_atoms(parse_case(json.dumps(_minimal_case({})), "probe", fmt="json")))
    findings: dict[str, tuple[str, ...]] = {}
    level: dict[str, tuple[str, ...]] = {}
    for path, annotation, emits in walk():
        if not emits or not ({"finding", "level_finding"} & set(emits)) or not _is_flag(annotation):
            continue
        if path.startswith("imaging[].levels[]."):
            rel = tuple(path.removeprefix("imaging[].levels[].").split("."))
            entry = {"level": "L4-L5", **_nested(rel, True)}
            study = next(t.value for t in StudyType if can_show(t, rel[0]))  # one that can carry it
            extra = {"imaging": [{"study": study, "levels": [entry]}]}
        elif "[]" in path:
            continue
        else:
            parts = path.split(".")
            extra = _nested(parts, True)
            rel = tuple(parts)
        atoms = set(case_atoms(parse_case(json.dumps(_minimal_case(extra)), "probe", fmt="json"))) - base
        for atom in atoms:
            if atom.name == "finding" and not path.startswith("imaging"):
                findings[atom.arguments[0].name] = rel
            elif atom.name == "level_finding":
                level[atom.arguments[1].name] = rel
    return findings, level


# --------------------------------------------------------------------------
# bounds
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Domain:
    """The constants a domain offers the search: one per class, with the class it stands for."""

    name: str
    classes: tuple[tuple[str, ...], ...]

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(c[0] for c in self.classes)


@dataclass(frozen=True)
class Bounds:
    levels: tuple[str, ...]
    other_level: str | None
    domains: dict[str, Domain]
    numbers: dict[tuple[str, int], tuple[int, ...]]  # (signature, argument) -> values
    texts: dict[str, tuple[str, ...]]
    days_before_request: tuple[int, ...]  # negative: after it
    lists: dict[str, int]
    approaches_per_level: int
    wanted: frozenset[str]  # case predicates generated
    study_types: tuple[str, ...] = ()
    #: the days (before REQUEST_DATE; negative: after) a request may be dated: a policy may compare the
    #: request date with a figure of its own (a day, a month, a year)
    request_days: tuple[int, ...] = (0,)
    #: lists a count compares beyond what the space holds (MAX_LIST): not proved
    overflows: tuple[str, ...] = ()

    def describe(self) -> list[str]:
        lines = [f"levels requested: any non-empty set of {', '.join(self.levels)} (decompression and/or fusion each)"]
        if self.other_level:
            lines.append(f"a level outside the request (prior operations, curves, concordance): {self.other_level}")
        offsets = ", ".join(str(o) if o >= 0 else f"{-o} after" for o in self.days_before_request)
        requests = ", ".join(_date_of(o) for o in self.request_days)
        lines.append(f"request date {requests}; other dates {offsets} days before {REQUEST_DATE}")
        for (sig, i), values in sorted(self.numbers.items()):
            name = sig.rpartition("/")[0]
            if name not in self.wanted:
                continue
            lo, hi, unit = ranges().get((sig, i), (0, 0, ""))
            kind = BY_NAME[name].args[i].kind
            scale = 10 if kind in ("tenths", "percent") else 1
            shown = ", ".join(f"{Decimal(v) / scale:g}" for v in values)
            what = BY_NAME[name].args[i].name
            lines.append(f"{name} {what}: {shown}{' ' + _unit(kind, unit) if _unit(kind, unit) else ''}")
        users = domain_users()
        for name, domain in sorted(self.domains.items()):
            if not users.get(name, frozenset()) & self.wanted:
                continue
            merged = [c for c in domain.classes if len(c) > 1]
            if merged:
                lines.append(f"{name.replace('_', ' ')}: " + "; ".join(
                    f"{c[0]} (for {', '.join(c)})" for c in merged) + "; the rest as themselves")
        lines.append("every finding, item and measurement: documented true, documented false, or not documented")
        lines.append(f"lists: up to {', '.join(f'{n} {k.replace(chr(95), chr(32))}' for k, n in sorted(self.lists.items()))}; "
                     f"{STUDIES_PER_TYPE} study of each type ({', '.join(self.study_types)}), "
                     f"one Cobb curve per study, {self.approaches_per_level} fusion approach(es) per level")
        return lines


def _unit(kind: str, unit: str) -> str:
    if kind == "days":
        return "days"
    if kind == "percent":
        return "%"
    return {"millimetres": "mm", "degrees": "degrees", "percent": "%", "standard deviations": "SD"}.get(unit, unit)


def _other_level(levels: Sequence[str]) -> str | None:
    """The level outside the searched ones nearest to them: an operation or a curve elsewhere."""
    index = [SPINAL_LEVELS.index(lv) for lv in levels]
    candidates = [lv for lv in SPINAL_LEVELS if lv not in levels and lv != "S1-pelvis"]
    if not candidates:
        return None
    return min(candidates, key=lambda lv: (min(abs(SPINAL_LEVELS.index(lv) - i) for i in index),
                                           SPINAL_LEVELS.index(lv)))


def _date_of(offset: int) -> str:
    return (REQUEST_DATE - dt.timedelta(days=offset)).isoformat()


def _offset(date: dt.date) -> int:
    return (REQUEST_DATE - date).days


def _calendar_offsets(place: int, figure: int) -> set[int]:
    """Days (before the request) that fall on a calendar figure and either side of it: a year, a month, a day."""
    year = REQUEST_DATE.year - 1
    out: set[dt.date] = set()
    if place == 1 and 1900 <= figure <= 2200:
        for y in (figure - 1, figure, figure + 1):
            out |= {dt.date(y, 1, 1), dt.date(y, 12, 31)}
    elif place == 2 and 1 <= figure <= 12:
        for m in (figure - 1, figure, figure + 1):
            if 1 <= m <= 12:
                out |= {dt.date(year, m, 1), dt.date(year, m, calendar.monthrange(year, m)[1])}
    elif place == 3 and 1 <= figure <= 31:
        out |= {dt.date(year, 12, d) for d in (figure - 1, figure, figure + 1) if 1 <= d <= 31}
    return {_offset(d) for d in out}


def _months_before(months: int) -> int:
    year, month = divmod(REQUEST_DATE.year * 12 + REQUEST_DATE.month - 1 - months, 12)
    day = min(REQUEST_DATE.day, calendar.monthrange(year, month + 1)[1])
    return (REQUEST_DATE - dt.date(year, month + 1, day)).days


def bounds(program: Program, figures: Figures, read: frozenset[str], levels: Iterable[str] = DEFAULT_LEVELS,
           *, approaches: int = 1) -> Bounds:
    """The values the space offers, derived from a program (core and policies) and what it reads."""
    levels = tuple(levels)
    findings, level_findings = finding_paths()
    domains: dict[str, Domain] = {}

    # constants a policy compares by order (``M < physical_therapy``) are told apart by their spelling
    ordered = {sig.rpartition("/")[0] for sig, i in figures.ordered
               if sig.rpartition("/")[0] in BY_NAME and i < len(BY_NAME[sig.rpartition("/")[0]].args)
               and BY_NAME[sig.rpartition("/")[0]].args[i].kind in ("constant", "state")}

    def domain(name: str, members: Sequence[str]) -> None:
        if domain_users().get(name, frozenset()) & ordered or (name == "finding" and "finding" in ordered):
            domains[name] = Domain(name, tuple((m,) for m in members))
            return
        domains[name] = Domain(name, tuple(tuple(c) for c in program.classes(list(members))))

    for name, enum in ENUMS.items():
        domain(name, [m.value for m in enum])
    domain("stenosis_side", [m.value for m in Side] + [UNSPECIFIED])
    domain("stenosis_zone", [m.value for m in StenosisZone] + [UNSPECIFIED])
    domain("finding", list(findings))
    domain("level_finding", list(level_findings))
    kinds = {k for place in (("inflammatory_arthropathy/2", 0), ("inflammatory_arthropathy_si_joint/2", 0))
             for k in figures.constants.get(place, ())}
    domain("arthropathy_kind", sorted(kinds) + [SAMPLE_ARTHROPATHY] if SAMPLE_ARTHROPATHY not in kinds else sorted(kinds))

    numbers: dict[tuple[str, int], tuple[int, ...]] = {}
    for p in PREDICATES:
        for i, arg in enumerate(p.args):
            if arg.kind not in NUMERIC_KINDS or p.group == "anatomy":
                continue
            lo, hi, _unit_name = ranges().get((p.signature, i), (0, 100_000, ""))
            # each side of every comparison the value reaches (engine/analysing/forms.py, ``sides``)
            values = figures.offered((p.signature, i))
            if not values:
                values = {0 if lo <= 0 <= hi else lo}
            numbers[(p.signature, i)] = tuple(sorted(v for v in values if lo <= v <= hi))
    # the case model asks for positive <= performed provocative tests
    tests = ("si_provocative_tests/2", 0), ("si_provocative_tests/2", 1)
    numbers[tests[1]] = tuple(sorted(set(numbers[tests[0]]) | set(numbers[tests[1]])))

    offsets = {0}
    for place in DAY_PLACES:
        for f in figures.of(place):
            if 0 < f <= MAX_OFFSET:
                offsets |= {f - 1, f, f + 1}
    # calendar windows: so many months, or years, before the request
    for f in figures.of(("calendar_date/4", 2)):
        if 0 < f <= 120:
            offsets |= {d + s for d in (_months_before(f),) for s in (-1, 0, 1)}
    for f in figures.of(("calendar_date/4", 1)):
        if 0 < f <= 10:
            offsets |= {d + s for d in (_months_before(12 * f),) for s in (-1, 0, 1)}
    if any(p[0] == "request_date/2" and q in DAY_PLACES and q[0] != p[0] for p, q in figures.related):
        offsets.add(-1)  # care after the request: a policy compares dates with the request date
    # a date, or its calendar reading, compared with a figure of its own: the request may fall either side
    requests = {0}
    for place, figs in sorted(figures.absolute.items()):
        found: set[int] = set()
        for f in figs:
            if place in DAY_PLACES:
                found |= {day_number(REQUEST_DATE) - f + s for s in (-1, 0, 1)}
            elif place[0] == "calendar_date/4":
                found |= _calendar_offsets(place[1], f)
        found = {o for o in found if -366 <= o <= MAX_OFFSET}
        offsets |= found
        if place[0] in ("request_date/2", "calendar_date/4"):
            requests |= found
    lists = dict(LIST_BOUNDS)
    overflows: list[str] = []
    for counted, figs in sorted(figures.counts.items()):
        name = LIST_OF.get(counted.partition("@")[0])
        if name is None or not figs:
            continue
        needed = max(figs) + 1
        if needed > MAX_LIST:
            overflows.append(f"a count of {name.replace('_', ' ')} compared with {max(figs)} (the space holds {MAX_LIST})")
        lists[name] = max(lists[name], min(needed, MAX_LIST))

    texts: dict[str, tuple[str, ...]] = {}
    for name, samples in SAMPLE_TEXT.items():
        place = next(((s, i) for s in [BY_NAME[name].signature] for i, a in enumerate(BY_NAME[name].args)
                      if a.kind == "string"), None)
        mentioned = sorted(figures.strings.get(place, ())) if place else []
        if place in figures.ordered:  # compared by order: a string just before and just after each
            mentioned = sorted({x for s in mentioned for x in (s, s + "a", _before(s)) if x})
        texts[name] = tuple(dict.fromkeys([*mentioned, *samples]))

    wanted = frozenset(s.rpartition("/")[0] for s in read)
    _plausible_classes(domains, wanted, (*levels, *([_other_level(levels)] if _other_level(levels) else [])))
    study_types = domains["study_type"].values
    return Bounds(levels, _other_level(levels), domains, numbers, texts, tuple(sorted(offsets)),
                  lists, approaches, wanted, study_types, tuple(sorted(requests)), tuple(overflows))


def _plausible_classes(domains: dict[str, Domain], wanted: frozenset[str], any_level: Sequence[str]) -> None:
    """Each class's value one that can carry whatever its members can (facts/plausible.py), the class split
    where none can.

    A policy that cannot tell a CT from an MRI lets the MRI stand for both: it can carry all a CT can.  A
    plain film and supine-standing films carry different things (alignment; translation), so a class
    holding both offers each.  Only what the policies read counts, and only the levels the space has.
    """
    emitted: dict[str, set[str]] = defaultdict(set)
    for path, _annotation, emits in walk():
        for m in MEASURES:
            if path == f"imaging[].{m.where}" or path.startswith(f"imaging[].{m.where}."):
                emitted[m.field] |= set(emits or ())
    read = {m.field for m in MEASURES if emitted[m.field] & wanted}
    kinds = {t: frozenset(f for f in read if can_show(t, f)) for t in StudyType}
    domains["study_type"] = _refined(domains["study_type"], lambda t: kinds[StudyType(t)])
    slots = domains["study_type"].values
    domains["level_finding"] = _refined(domains["level_finding"], lambda f: frozenset(t for t in slots if can_show(t, f)))
    placed = "prior_surgery_level" in wanted
    domains["region"] = _refined(domains["region"], lambda r: frozenset(
        lv for lv in any_level if placed and Region(r) in LEVEL_REGIONS[lv]))


def _refined(domain: Domain, can: Any) -> Domain:
    """``domain`` with each class headed by a member whose ``can`` holds every other's, split where no one does."""
    out: list[tuple[str, ...]] = []
    for cls in domain.classes:
        heads: list[str] = []  # one member for each greatest set of abilities
        for c in cls:
            if not any(can(c) < can(d) for d in cls) and not any(can(c) == can(h) for h in heads):
                heads.append(c)
        groups: dict[str, list[str]] = {h: [h] for h in heads}
        for c in cls:
            if c not in heads:
                groups[next(h for h in heads if can(c) <= can(h))].append(c)
        out += [tuple(groups[h]) for h in heads]
    return Domain(domain.name, tuple(out))


def _before(text: str) -> str:
    """A string that sorts just before ``text`` (clingo compares strings byte by byte)."""
    if not text:
        return ""
    last = text[-1]
    return text[:-1] + (chr(ord(last) - 1) + "z" if ord(last) > ord(" ") else "")


def calendar_fact(number: int) -> Symbol:
    date = EPOCH + dt.timedelta(days=number)
    return Function("calendar", [Number(number), Number(date.year), Number(date.month), Number(date.day)])


def space_facts(b: Bounds) -> list[Symbol]:
    """The facts that parameterise engine/analysing/space.lp."""
    out = [Function("space_level", [String(lv)]) for lv in b.levels] + plausibility()
    if b.other_level:
        out.append(Function("other_level", [String(b.other_level)]))
    out += [Function("wanted", [Function(name)]) for name in sorted(b.wanted)]
    for name, domain in sorted(b.domains.items()):
        out += [Function("value", [Function(name), Function(v)]) for v in domain.values]
    for (sig, i), values in sorted(b.numbers.items()):
        name = sig.rpartition("/")[0]
        out += [Function("number", [Function(name), Number(i), Number(v)]) for v in values]
    for name, values in sorted(b.texts.items()):
        out += [Function("text", [Function(name), String(v)]) for v in values]
    for name, n in sorted(b.lists.items()):
        out.append(Function("bound", [Function(name), Number(n)]))
    out.append(Function("bound", [Function("approaches"), Number(b.approaches_per_level)]))
    slot = 0
    for kind in b.study_types:
        for _ in range(STUDIES_PER_TYPE):
            slot += 1
            out.append(Function("study_slot", [Number(slot), Function(kind)]))
    r = day_number(REQUEST_DATE)
    out += [Function("request_day", [Number(r - o)]) for o in b.request_days]
    days = sorted({r - o for o in b.days_before_request} | {r - o for o in b.request_days})
    every: set[int] = set()
    for d in days:
        first, last = _month(d)
        out.append(Function("date", [Number(d), Number(d)]))
        out.append(Function("date", [Number(first), Number(last)]))
        every |= {d, first, last}
    out += [calendar_fact(d) for d in sorted(every)]
    return sorted(set(out))


def _month(number: int) -> tuple[int, int]:
    """The first and last day of the month a day number falls in."""
    date = EPOCH + dt.timedelta(days=number)
    last = calendar.monthrange(date.year, date.month)[1]
    return day_number(date.replace(day=1)), day_number(date.replace(day=last))


def minimised_facts() -> str:
    """Rules naming each documented fact and each requested thing, for the search to count."""
    lines = []
    for p in PREDICATES:
        if p.group in ("anatomy",) or p.name == "request_date":
            continue
        args = ", ".join(f"X{i}" for i in range(len(p.args)))
        atom = f"{p.name}({args})" if args else p.name
        kind = "request_fact" if p.group == "request" else "documentation_fact"
        lines.append(f"{kind}({atom}) :- {atom}.")
    # a witness needs the fewest documented facts; what the surgeon asks for counts
    # too, but less: requests are part of the question, documentation of the answer
    lines.append("#minimize { 1@1, F : documentation_fact(F) ; 1@0, F : request_fact(F) }.")
    return "\n".join(lines)
