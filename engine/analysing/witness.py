"""A witness back to a case file: the record whose emission is the atoms the search chose, and the round trip."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import clingo
from clingo import Function, Number, Symbol

from engine.analysing.space import UNSPECIFIED, finding_paths
from facts.emit import EPOCH
from facts.terms import SPINAL_LEVELS, Approach, Item
from facts.vocabulary import SIGNATURES as CASE_SIGNATURES


def _date(number: int, last: int | None = None) -> str:
    """A date as the case file writes it: the day, or the month when ``number`` to ``last`` is one."""
    first = EPOCH + dt.timedelta(days=number)
    if last is None or last == number:
        return first.isoformat()
    return f"{first.year:04d}-{first.month:02d}"


def _decimal(tenths: int) -> float | int:
    value = Decimal(tenths) / 10
    return int(value) if value == value.to_integral() else float(value)


def _weeks(days: int) -> float | int:
    weeks = round(days / 7, 1)
    return int(weeks) if weeks == int(weeks) else weeks


def _value(sym: Symbol) -> Any:
    if sym.type == clingo.SymbolType.Number:
        return sym.number
    if sym.type == clingo.SymbolType.String:
        return sym.string
    if sym.arguments:
        return str(sym)
    return sym.name


def _put(target: dict[str, Any], path: Sequence[str], value: Any) -> None:
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value


def _level_key(level: str) -> int:
    return SPINAL_LEVELS.index(level)


def to_case(case_id: str, symbols: Iterable[Symbol]) -> dict[str, Any]:
    """The case file whose emission is the chosen atoms (engine/analysing/space.lp's shapes only)."""
    by: dict[str, list[tuple]] = defaultdict(list)
    for s in symbols:
        if f"{s.name}/{len(s.arguments)}" in CASE_SIGNATURES:
            by[s.name].append(tuple(_value(a) for a in s.arguments))
    findings_at, level_findings_at = finding_paths()

    def get(name: str) -> list[tuple]:
        return sorted(by.get(name, []), key=repr)

    def one(name: str, *prefix: Any) -> tuple | None:
        rows = [r for r in get(name) if r[: len(prefix)] == prefix]
        return rows[0] if rows else None

    documented = {row[0] for row in get("documented")}
    case: dict[str, Any] = {"case": case_id}

    # request
    requested = defaultdict(set)
    for level, what in get("requested"):
        requested[level].add(what)
    levels = []
    for level in sorted(requested, key=_level_key):
        entry: dict[str, Any] = {"level": level}
        if "decompression" in requested[level]:
            dec: dict[str, Any] = {}
            if (row := one("decompression_technique", level)):
                dec["technique"] = row[1]
            sides = {side: _decimal(p) for lv, side, p in get("planned_facet_resection") if lv == level}
            if sides:
                dec["facet_resection_pct"] = dict(sorted(sides.items()))
            if (row := one("planned_pars_resection", level)):
                dec["pars_resection"] = row[1] == "yes"
            if (row := one("planned_corpectomy", level)):
                dec["corpectomy_pct"] = _decimal(row[1])
            entry["decompression"] = dec or True
        if "fusion" in requested[level]:
            fusion: dict[str, Any] = {}
            approaches = [a for lv, a in get("fusion_approach") if lv == level]
            if approaches:
                fusion["approaches"] = sorted(approaches, key=[m.value for m in Approach].index)
            if (row := one("fusion_instrumentation", level)):
                fusion["instrumentation"] = row[1] == "yes"
            entry["fusion"] = fusion or True
        levels.append(entry)
    request: dict[str, Any] = {"levels": levels}
    if get("request_date"):
        request = {"date": _date(*get("request_date")[0]), **request}
    if get("requested_setting"):
        request["setting"] = get("requested_setting")[0][0]
    items = []
    for item, where in sorted(get("requested_item"), key=lambda r: ([m.value for m in Item].index(r[0]),
                                                                     -1 if r[1] == "case" else _level_key(r[1]))):
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
    case["request"] = request

    # imaging
    studies = {sid: kind for sid, kind in get("imaging_study")}
    if "imaging" in documented:
        imaging = []
        for sid in sorted(studies):
            study: dict[str, Any] = {"study": studies[sid]}
            if (row := one("imaging_date", sid)):
                study["date"] = _date(row[1], row[2])
            per_level: dict[str, dict[str, Any]] = defaultdict(dict)
            for term in documented:
                if term.startswith("stenosis(") and term.endswith(f",{sid})"):
                    per_level[term[len('stenosis("'):].split('"')[0]].setdefault("stenosis", [])
            for level, zone, side, grade, st in get("stenosis"):
                if st == sid:
                    entry = {"zone": zone, "grade": grade}
                    if zone == UNSPECIFIED:
                        del entry["zone"]
                    if side != UNSPECIFIED:
                        entry["side"] = side
                    per_level[level].setdefault("stenosis", []).append(entry)
            for level, finding, state, st in get("level_finding"):
                if st == sid:
                    path = level_findings_at.get(finding, (finding,))
                    _put(per_level[level], path, state == "yes")
            for name, key in (("spondylolisthesis_grade", "meyerding_grade"), ("spondylolisthesis_slip", "slip_mm"),
                              ("spondylolisthesis_type", "type"), ("spondylolisthesis_direction", "direction")):
                for level, value, st in get(name):
                    if st == sid:
                        per_level[level]["spondylolisthesis"][key] = _decimal(value) if name.endswith("slip") else value
            for level, value, st in get("modic_type"):
                if st == sid:
                    per_level[level]["modic_change"]["type"] = value
            for level, value, st in get("dynamic_translation"):
                if st == sid:
                    per_level[level]["translation_mm"] = _decimal(value)
            for level, value, st in get("dynamic_angulation"):
                if st == sid:
                    per_level[level]["angulation_deg"] = _decimal(value)
            if per_level:
                study["levels"] = [{"level": lv, **per_level[lv]} for lv in sorted(per_level, key=_level_key)]
            alignment: dict[str, Any] = {}
            if f"cobb_curves({sid})" in documented:
                curves = []
                for cid, angle, st in get("cobb_curve"):
                    if st == sid:
                        inside = sorted({lv for c, lv in get("cobb_curve_level") if c == cid}, key=_level_key)
                        curves.append({"angle_deg": _decimal(angle), "upper_level": inside[0], "lower_level": inside[-1]})
                alignment["cobb"] = curves
            for name, key in (("sagittal_vertical_axis", "sva_mm"), ("pi_ll_mismatch", "pi_ll_mismatch_deg"),
                              ("coronal_imbalance", "coronal_imbalance_mm")):
                for value, st in get(name):
                    if st == sid:
                        alignment[key] = _decimal(value)
            descriptions = [text for st, text in get("alignment_description") if st == sid]
            if descriptions:
                alignment["descriptions"] = descriptions
            if alignment:
                study["alignment"] = alignment
            imaging.append(study)
        case["imaging"] = imaging

    # yes/no findings, wherever they sit
    for name, state in get("finding"):
        _put(case, findings_at[name], state == "yes")
    clinical: dict[str, Any] = case.setdefault("clinical", {})
    if (row := one("motor_weakness_mrc")):
        clinical["motor_weakness"]["mrc"] = f"{row[0]}{ {'minus': '-', 'plain': '', 'plus': '+'}[row[1]] }"
    for name, key in (("motor_weakness_side", "side"), ("motor_weakness_course", "course")):
        if (row := one(name)):
            clinical["motor_weakness"][key] = row[0]
    for name, key in (("radiculopathy_side", "side"), ("radiculopathy_root", "root"),
                      ("radiculopathy_basis", "basis"), ("radiculopathy_acuity", "acuity")):
        if (row := one(name)):
            clinical["radiculopathy"][key] = row[0]
    if "pain_scores" in documented:
        clinical["pain_scores"] = [{"scale": sc, "score": _decimal(v)} for sc, v in get("pain_score")]
    if (row := one("oswestry_disability_index")):
        clinical["odi_pct"] = _decimal(row[0])
    if "limited_activities" in documented:
        clinical["limited_activities"] = [a for (a,) in get("limited_activity")]
    if "concordant_levels" in documented:
        clinical["concordant_levels"] = sorted((lv for (lv,) in get("concordant_level")), key=_level_key)
    if not clinical:
        del case["clinical"]

    # conservative care
    care: dict[str, Any] = {}
    if (row := one("conservative_care_total_days")):
        care["total_weeks"] = _weeks(row[0])
    if "care_episodes" in documented:
        episodes = []
        for eid, modality in get("care_episode"):
            ep: dict[str, Any] = {"modality": modality}
            if (row := one("care_delivery", eid)):
                ep["delivery"] = row[1]
            start, end, days = one("care_start", eid), one("care_end", eid), one("care_days", eid)
            if start:
                ep["start"] = _date(start[1], start[2])
            if end:
                ep["end"] = _date(end[1], end[2])
            from_dates = (max(0, end[1] - start[2]), end[2] - start[1]) if start and end else None
            if days and (days[1], days[2]) != from_dates:
                ep["weeks"] = _weeks(days[1])
            if (row := one("care_sessions", eid)):
                ep["sessions"] = row[1]
            if (row := one("care_outcome", eid)):
                ep["outcome"] = row[1]
            if (row := one("care_source", eid)):
                ep["source"] = row[1]
            episodes.append(ep)
        care["episodes"] = episodes
    if care:
        case["conservative_care"] = care

    # history
    history: dict[str, Any] = case.setdefault("history", {})
    if "prior_surgeries" in documented:
        surgeries = []
        for sid, kind, region in get("prior_surgery"):
            entry = {"type": kind, "region": region}
            if (row := one("prior_surgery_level", sid)):
                entry["level"] = row[1]
            if (row := one("prior_surgery_date", sid)):
                entry["date"] = _date(row[1], row[2])
            surgeries.append(entry)
        history["prior_surgeries"] = surgeries
    if (row := one("smoking_status")):
        smoking: dict[str, Any] = {"status": row[0]}
        if (r := one("nicotine_free_days")):
            smoking["nicotine_free_weeks"] = _weeks(r[0])
        if (r := one("cotinine")):
            smoking["cotinine_ng_ml"] = _decimal(r[0])
        history["smoking"] = smoking
    if (row := one("hba1c")):
        history["diabetes"]["hba1c_pct"] = _decimal(row[0])
    if (row := one("body_mass_index")):
        history["bmi"] = _decimal(row[0])
    if (row := one("dexa_t_score")):
        history.setdefault("bone_density", {})["dexa_t_score"] = _decimal(row[0])
    if (row := one("inflammatory_arthropathy")):
        arthropathy: dict[str, Any] = {"kind": row[0], "status": row[1]}
        if (r := one("inflammatory_arthropathy_si_joint", row[0])):
            arthropathy["involves_si_joint"] = r[1] == "yes"
        history["inflammatory_arthropathy"] = arthropathy
    if (row := one("si_provocative_tests")):
        si = history.setdefault("si_joint", {})
        si["provocative_tests_positive"], si["provocative_tests_performed"] = row
    if "si_diagnostic_blocks" in documented:
        history.setdefault("si_joint", {})["diagnostic_blocks"] = [
            {"relief_pct": _decimal(r)} for _b, r in get("si_diagnostic_block")]
    if not history:
        del case["history"]
    return case


# where the study id sits in each imaging predicate (argument index)
_STUDY_ARG = {
    "imaging_study": 0, "imaging_date": 0, "alignment_description": 0,
    "stenosis": 4, "level_finding": 3, "spondylolisthesis_grade": 2, "spondylolisthesis_slip": 2,
    "spondylolisthesis_type": 2, "spondylolisthesis_direction": 2, "modic_type": 2,
    "dynamic_translation": 2, "dynamic_angulation": 2, "cobb_curve": 2,
    "sagittal_vertical_axis": 1, "pi_ll_mismatch": 1, "coronal_imbalance": 1,
}
_CURVE_ARG = {"cobb_curve": 0, "cobb_curve_level": 0}


def _renumber(atom: Symbol, studies: dict[int, int], curves: dict[int, int]) -> Symbol:
    args = list(atom.arguments)
    if atom.name in _STUDY_ARG:
        i = _STUDY_ARG[atom.name]
        args[i] = Number(studies[args[i].number])
    if atom.name in _CURVE_ARG:
        i = _CURVE_ARG[atom.name]
        args[i] = Number(curves[args[i].number])
    if atom.name == "documented" and args[0].type == clingo.SymbolType.Function and args[0].arguments:
        inner = args[0]
        inner_args = list(inner.arguments)
        inner_args[-1] = Number(studies[inner_args[-1].number])
        args[0] = Function(inner.name, inner_args)
    return Function(atom.name, args)


def round_trip_mismatch(chosen: Iterable[Symbol], emitted: Iterable[Symbol]) -> set[str]:
    """Case atoms on one side only, with study and curve ids compared by their order."""
    def canon(atoms: Iterable[Symbol]) -> set[str]:
        atoms = [a for a in atoms if f"{a.name}/{len(a.arguments)}" in CASE_SIGNATURES]
        studies = sorted({a.arguments[0].number for a in atoms if a.name == "imaging_study"})
        curves = sorted({a.arguments[0].number for a in atoms if a.name == "cobb_curve"})
        order = {sid: i + 1 for i, sid in enumerate(studies)}
        curve_order = {cid: i + 1 for i, cid in enumerate(curves)}
        return {str(_renumber(a, order, curve_order)) for a in atoms}
    return canon(chosen) ^ canon(emitted)
