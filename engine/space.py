"""The bounded case space searched by ``diff`` and ``check``, and its witnesses.

engine/space.lp generates case atoms by choice; this module supplies the
numbers (one value on each side of every figure the policies compare),
writes a chosen set of atoms back as a case file, and checks the round trip:
the case file, emitted by facts/emit.py, must give exactly the atoms the
solver chose.  A witness that fails the round trip is reported as an engine
bug, never shown as a finding.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from decimal import Decimal
from pathlib import Path
from typing import Any

import clingo
from clingo import Function, Number, String, Symbol, ast

from engine.policy import Policy
from engine.transform import thresholds
from facts.emit import EPOCH, day_number
from facts.terms import SPINAL_LEVELS
from facts.vocabulary import SIGNATURES as CASE_SIGNATURES

SPACE_FILE = Path(__file__).with_name("space.lp")
REQUEST_DATE = dt.date(2026, 1, 1)
DEFAULT_LEVELS = ("L4-L5",)

# slot: (case predicate argument it fills, lowest value, highest value, a neutral value)
SLOTS: dict[str, tuple[tuple[str, int], int, int, int]] = {
    "facet_resection": (("planned_facet_resection/3", 2), 0, 1000, 0),
    "corpectomy": (("planned_corpectomy/2", 1), 0, 1000, 0),
    "translation": (("dynamic_translation/3", 1), 0, 3000, 0),
    "angulation": (("dynamic_angulation/3", 1), 0, 1800, 0),
    "cobb": (("cobb_curve/3", 1), 0, 1800, 0),
    "sva": (("sagittal_vertical_axis/2", 0), -3000, 3000, 0),
    "pi_ll": (("pi_ll_mismatch/2", 0), -900, 900, 0),
    "coronal": (("coronal_imbalance/2", 0), 0, 3000, 0),
    "pain": (("pain_score/2", 1), 0, 100, 0),
    "odi": (("oswestry_disability_index/1", 0), 0, 1000, 0),
    "care_days": (("care_days/3", 1), 1, 3640, 7),
    "nicotine_free": (("nicotine_free_days/1", 0), 1, 3640, 7),
    "cotinine": (("cotinine/1", 0), 0, 100000, 0),
    "hba1c": (("hba1c/1", 0), 30, 200, 55),
    "t_score": (("dexa_t_score/1", 0), -100, 100, 0),
    "block_relief": (("si_diagnostic_block/2", 1), 0, 1000, 0),
}
# Dates: the offsets before the request that matter are figures compared in
# rules resting on these predicates (recency windows, spans of care).
_DATED = ("care_end/3", "care_start/3", "imaging_date/3", "request_date/2", "calendar_date/4")


_UNITS = {
    "facet_resection": ("%", 10), "corpectomy": ("%", 10), "translation": ("mm", 10), "angulation": ("degrees", 10),
    "cobb": ("degrees", 10), "sva": ("mm", 10), "pi_ll": ("degrees", 10), "coronal": ("mm", 10),
    "pain": ("/10", 10), "odi": ("%", 10), "care_days": ("days", 1), "nicotine_free": ("days", 1),
    "cotinine": ("ng/mL", 10), "hba1c": ("%", 10), "t_score": ("SD", 10), "block_relief": ("%", 10),
}


@lru_cache(maxsize=1)
def space_statements() -> tuple[ast.AST, ...]:
    """engine/space.lp, parsed once."""
    out: list[ast.AST] = []
    ast.parse_string(SPACE_FILE.read_text(encoding="utf-8"), out.append)
    return tuple(out)


@dataclass(frozen=True)
class Bounds:
    levels: tuple[str, ...]
    candidates: dict[str, tuple[int, ...]]
    days_before_request: tuple[int, ...]
    approaches_per_level: int = 1

    def describe(self) -> list[str]:
        lines = [f"levels requested: {', '.join(self.levels)} (decompression and/or fusion each)",
                 f"request date {REQUEST_DATE}; other dates {', '.join(map(str, self.days_before_request))} days before it"]
        for slot, values in self.candidates.items():
            unit, scale = _UNITS.get(slot, ("", 1))
            shown = ", ".join(f"{Decimal(v) / scale:g}" for v in values)
            lines.append(f"{slot.replace('_', ' ')}: {shown}{(' ' + unit) if unit else ''}")
        lines.append("findings, history and items: documented true, documented false, or not documented")
        lines.append(f"fusion approaches per level: up to {self.approaches_per_level}")
        lines.append("conservative care: up to 3 episodes; one prior lumbar laminectomy; one Cobb curve; two SI blocks")
        return lines


def bounds(policies: Iterable[Policy], levels: Iterable[str] = DEFAULT_LEVELS, *,
           calendar_windows: bool = False) -> Bounds:
    """One value on each side of every figure either policy compares a slot with."""
    per_arg: dict[tuple[str, int], set[int]] = defaultdict(set)
    by_case: dict[str, set[int]] = defaultdict(set)
    for policy in policies:
        direct, derived = thresholds(policy.statements)
        for key, values in direct.items():
            per_arg[key] |= values
        for key, values in derived.items():
            by_case[key] |= values
    candidates: dict[str, tuple[int, ...]] = {}
    for slot, (place, lo, hi, neutral) in SLOTS.items():
        figures = per_arg.get(place, set()) | by_case.get(place[0], set())
        values = {neutral}
        for f in figures:
            values |= {f - 1, f, f + 1}
        candidates[slot] = tuple(sorted(v for v in values if lo <= v <= hi))
    day_figures = set().union(*(by_case.get(sig, set()) for sig in _DATED))
    offsets = {0}
    if calendar_windows:
        # windows written as calendar months compare dates, not day counts, so
        # no figure shows them: keep both sides of 6 and 12 months.  Each offset
        # multiplies the dates of every care episode, so only `check` asks.
        offsets |= {181, 182, 183, 184, 364, 365, 366, 367}
    for f in day_figures:
        if 7 <= f <= 800:
            offsets |= {f - 1, f, f + 1}
    # two approaches at a level (anterior with posterior fixation) only where
    # asked: it multiplies every fusion request the search considers
    return Bounds(tuple(levels), candidates, tuple(sorted(offsets)), 2 if calendar_windows else 1)


def space_facts(b: Bounds) -> list[Symbol]:
    """The facts that parameterise engine/space.lp."""
    out = [Function("space_level", [String(lv)]) for lv in b.levels]
    out.append(Function("approaches_per_level", [Number(b.approaches_per_level)]))
    for slot, values in b.candidates.items():
        out += [Function("candidate", [Function(slot), Number(v)]) for v in values]
    r = day_number(REQUEST_DATE)
    out.append(Function("request_day", [Number(r)]))
    days = {r - o for o in b.days_before_request}
    out += [Function("candidate_day", [Number(d)]) for d in sorted(days) if d != r]
    # every day a chosen fact can name, for calendar_date/4
    every = set(days) | {r}
    for end in list(days):
        for length in b.candidates["care_days"]:
            every.add(end - length)
    for number in sorted(every):
        date = EPOCH + dt.timedelta(days=number)
        out.append(Function("calendar_date", [Number(number), Number(date.year), Number(date.month), Number(date.day)]))
    return out


# --------------------------------------------------------------------------
# witnesses back to case files
# --------------------------------------------------------------------------


def _date(number: int) -> str:
    return (EPOCH + dt.timedelta(days=number)).isoformat()


def _decimal(tenths: int) -> float | int:
    value = Decimal(tenths) / 10
    return int(value) if value == value.to_integral() else float(value)


def _weeks(days: int) -> float | int:
    weeks = round(days / 7, 1)
    return int(weeks) if weeks == int(weeks) else weeks


def to_case(case_id: str, symbols: Iterable[Symbol]) -> dict[str, Any]:
    """The case file whose emission is the chosen atoms (engine/space.lp's shapes only)."""
    by: dict[str, list[tuple]] = defaultdict(list)
    for s in symbols:
        if f"{s.name}/{len(s.arguments)}" in CASE_SIGNATURES:
            by[s.name].append(tuple(_value(a) for a in s.arguments))
    get = lambda name: sorted(by.get(name, []), key=repr)  # noqa: E731

    def one(name: str, *prefix: Any) -> tuple | None:
        rows = [r for r in get(name) if r[: len(prefix)] == prefix]
        return rows[0] if rows else None

    requested = defaultdict(set)
    for level, what in get("requested"):
        requested[level].add(what)
    levels = []
    for level in sorted(requested, key=SPINAL_LEVELS.index):
        entry: dict[str, Any] = {"level": level}
        if "decompression" in requested[level]:
            dec: dict[str, Any] = {}
            sides = {side: _decimal(p) for lv, side, p in get("planned_facet_resection") if lv == level}
            if sides:
                dec["facet_resection_pct"] = sides
            if (row := one("planned_pars_resection", level)):
                dec["pars_resection"] = row[1] == "yes"
            if (row := one("planned_corpectomy", level)):
                dec["corpectomy_pct"] = _decimal(row[1])
            entry["decompression"] = dec or True
        if "fusion" in requested[level]:
            approaches = [a for lv, a in get("fusion_approach") if lv == level]
            entry["fusion"] = {"approaches": approaches} if approaches else True
        levels.append(entry)
    request: dict[str, Any] = {"date": _date(get("request_date")[0][0]), "levels": levels}
    if get("requested_setting"):
        request["setting"] = get("requested_setting")[0][0]
    items = []
    for item, where in get("requested_item"):
        entry = {"item": item}
        if where != "case":
            entry["level"] = where
        if (row := one("requested_item_side", item)):
            entry["side"] = row[1]
        if (row := one("requested_item_source", item)):
            entry["source"] = row[1]
        items.append(entry)
    if items:
        request["items"] = items

    case: dict[str, Any] = {"case": case_id, "request": request}
    studies = {sid: kind for sid, kind in get("imaging_study")}
    if studies:
        imaging = []
        for sid in sorted(studies):
            study: dict[str, Any] = {"study": studies[sid]}
            if (row := one("imaging_date", sid)):
                study["date"] = _date(row[1])
            per_level: dict[str, dict[str, Any]] = defaultdict(dict)
            for level, zone, side, grade, st in get("stenosis"):
                if st == sid:
                    entry = {"zone": zone, "grade": grade}
                    if side != "unspecified":
                        entry["side"] = side
                    per_level[level].setdefault("stenosis", []).append(entry)
            for level, finding, state, st in get("level_finding"):
                if st == sid and finding == "spondylolisthesis":
                    listhesis: dict[str, Any] = {"present": state == "yes"}
                    if (row := one("spondylolisthesis_grade", level)):
                        listhesis["meyerding_grade"] = row[1]
                    if (row := one("spondylolisthesis_type", level)):
                        listhesis["type"] = row[1]
                    per_level[level]["spondylolisthesis"] = listhesis
            for level, value, st in get("dynamic_translation"):
                if st == sid:
                    per_level[level]["translation_mm"] = _decimal(value)
            for level, value, st in get("dynamic_angulation"):
                if st == sid:
                    per_level[level]["angulation_deg"] = _decimal(value)
            if per_level:
                study["levels"] = [{"level": lv, **per_level[lv]} for lv in sorted(per_level, key=SPINAL_LEVELS.index)]
            alignment: dict[str, Any] = {}
            for _cid, angle, st in get("cobb_curve"):
                if st == sid:
                    curve_levels = sorted({lv for _c, lv in get("cobb_curve_level")}, key=SPINAL_LEVELS.index)
                    alignment["cobb"] = [{"angle_deg": _decimal(angle), "upper_level": curve_levels[0],
                                          "lower_level": curve_levels[-1]}]
            for name, key in (("sagittal_vertical_axis", "sva_mm"), ("pi_ll_mismatch", "pi_ll_mismatch_deg"),
                              ("coronal_imbalance", "coronal_imbalance_mm")):
                for value, st in get(name):
                    if st == sid:
                        alignment[key] = _decimal(value)
            if alignment:
                study["alignment"] = alignment
            imaging.append(study)
        case["imaging"] = imaging

    clinical: dict[str, Any] = {}
    findings = {name: state == "yes" for name, state in get("finding")}
    for name in ("radiculopathy", "motor_weakness"):
        if name in findings:
            clinical[name] = {"present": findings[name]}
    if (row := one("motor_weakness_mrc")):
        clinical["motor_weakness"]["mrc"] = f"{row[0]}{'-' if row[1] == 'minus' else ''}"
    if (row := one("motor_weakness_course")):
        clinical["motor_weakness"]["course"] = row[0]
    for name in ("neurogenic_claudication", "sensory_deficit", "reflex_change", "myelopathy", "cauda_equina_syndrome",
                 "tumor", "adl_limitation", "discogenic_pain"):
        if name in findings:
            clinical[name] = findings[name]
    if get("pain_score"):
        clinical["pain_scores"] = [{"scale": sc, "score": _decimal(v)} for sc, v in get("pain_score")]
    if (row := one("oswestry_disability_index")):
        clinical["odi_pct"] = _decimal(row[0])
    documented = {row[0] for row in get("documented") if isinstance(row[0], str)}
    if "limited_activities" in documented:
        clinical["limited_activities"] = [a for (a,) in get("limited_activity")]
    if "concordant_levels" in documented:
        clinical["concordant_levels"] = sorted((lv for (lv,) in get("concordant_level")), key=SPINAL_LEVELS.index)
    if clinical:
        case["clinical"] = clinical

    care: dict[str, Any] = {}
    if (row := one("conservative_care_total_days")):
        care["total_weeks"] = _weeks(row[0])
    if get("care_episode"):
        episodes = []
        for eid, modality in get("care_episode"):
            ep: dict[str, Any] = {"modality": modality}
            if (row := one("care_delivery", eid)):
                ep["delivery"] = row[1]
            if (row := one("care_start", eid)):
                ep["start"] = _date(row[1])
            if (row := one("care_end", eid)):
                ep["end"] = _date(row[1])
            if (row := one("care_outcome", eid)):
                ep["outcome"] = row[1]
            if (row := one("care_source", eid)):
                ep["source"] = row[1]
            episodes.append(ep)
        care["episodes"] = episodes
    if care:
        case["conservative_care"] = care

    history: dict[str, Any] = {}
    if "prior_surgeries" in documented:
        surgeries = []
        for sid, kind, region in get("prior_surgery"):
            entry = {"type": kind, "region": region}
            if (row := one("prior_surgery_level", sid)):
                entry["level"] = row[1]
            surgeries.append(entry)
        history["prior_surgeries"] = surgeries
    if (row := one("smoking_status")):
        smoking: dict[str, Any] = {"status": row[0]}
        if (r := one("nicotine_free_days")):
            smoking["nicotine_free_weeks"] = _weeks(r[0])
        if (r := one("cotinine")):
            smoking["cotinine_ng_ml"] = _decimal(r[0])
        history["smoking"] = smoking
    if "diabetes" in findings:
        history["diabetes"] = {"present": findings["diabetes"]}
        if (row := one("hba1c")):
            history["diabetes"]["hba1c_pct"] = _decimal(row[0])
    bone: dict[str, Any] = {}
    if (row := one("dexa_t_score")):
        bone["dexa_t_score"] = _decimal(row[0])
    if "osteoporosis" in findings:
        bone["osteoporosis"] = findings["osteoporosis"]
    if bone:
        history["bone_density"] = bone
    if (row := one("inflammatory_arthropathy")):
        history["inflammatory_arthropathy"] = {"kind": row[0], "status": row[1]}
    si: dict[str, Any] = {}
    if (row := one("si_provocative_tests")):
        si["provocative_tests_positive"], si["provocative_tests_performed"] = row
    if "sacroiliitis_on_imaging" in findings:
        si["sacroiliitis_on_imaging"] = findings["sacroiliitis_on_imaging"]
    if "si_diagnostic_blocks" in documented:
        si["diagnostic_blocks"] = [{"relief_pct": _decimal(r)} for _b, r in get("si_diagnostic_block")]
    if si:
        history["si_joint"] = si
    if history:
        case["history"] = history
    return case


def _value(sym: Symbol) -> Any:
    if sym.type == clingo.SymbolType.Number:
        return sym.number
    if sym.type == clingo.SymbolType.String:
        return sym.string
    if sym.arguments:
        return str(sym)
    return sym.name


# where the study id sits in each imaging predicate (argument index)
_STUDY_ARG = {
    "imaging_study": 0, "imaging_date": 0, "alignment_description": 0,
    "stenosis": 4, "level_finding": 3, "spondylolisthesis_grade": 2, "spondylolisthesis_slip": 2,
    "spondylolisthesis_type": 2, "spondylolisthesis_direction": 2, "modic_type": 2,
    "dynamic_translation": 2, "dynamic_angulation": 2, "cobb_curve": 2,
    "sagittal_vertical_axis": 1, "pi_ll_mismatch": 1, "coronal_imbalance": 1,
}


def _renumber(atom: Symbol, order: dict[int, int]) -> Symbol:
    args = list(atom.arguments)
    if atom.name in _STUDY_ARG:
        i = _STUDY_ARG[atom.name]
        args[i] = Number(order[args[i].number])
    elif atom.name == "documented" and args[0].type == clingo.SymbolType.Function and args[0].arguments:
        inner = args[0]
        inner_args = list(inner.arguments)
        inner_args[-1] = Number(order[inner_args[-1].number])
        args[0] = Function(inner.name, inner_args)
    return Function(atom.name, args)


def round_trip_mismatch(chosen: Iterable[Symbol], emitted: Iterable[Symbol]) -> set[str]:
    """Case atoms on one side only, with study ids compared by order and calendar facts ignored."""
    def canon(atoms: Iterable[Symbol]) -> set[str]:
        atoms = [a for a in atoms if f"{a.name}/{len(a.arguments)}" in CASE_SIGNATURES and a.name != "calendar_date"]
        studies = sorted({a.arguments[0].number for a in atoms if a.name == "imaging_study"})
        order = {sid: i + 1 for i, sid in enumerate(studies)}
        return {str(_renumber(a, order)) for a in atoms}
    return canon(chosen) ^ canon(emitted)
