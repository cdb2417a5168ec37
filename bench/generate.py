"""Seeded random case records of the kind a payer receives for lumbar surgery.

Each record is a plain dict in the case-file format (docs/case-format.md),
JSON-serialisable with dates as ISO strings, and validates against the case
model.  The proportions follow what lumbar requests look like: one to three
mostly contiguous levels around L4-L5, decompression with or without fusion,
an MRI nearly always, flexion-extension films now and then, and every optional
part sometimes not documented, sometimes documented false, sometimes documented
true.  A record's documentation is more or less thorough as a whole (a practice
that dates its physical therapy tends to state the request date and the
limitation of daily activities too), which gives the library a mix of
approved, partially approved and denied cases.

The same seed gives the same records: only ``random.Random(seed)`` draws.

Usage: python bench/generate.py N [--seed S] [--jsonl FILE]
(JSON Lines, one record per line, to FILE or standard output.)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from facts.load import CaseFileError, parse_case  # noqa: E402

EARLIEST = dt.date(2025, 1, 1)  # no date in a generated record lies outside 2025-01-01 ..
LATEST = dt.date(2026, 11, 1)  # .. 2026-11-01, and the request comes after everything else
FIRST_REQUEST = dt.date(2025, 6, 1)  # leaves room for half a year of care before the request

#: Lumbar motion segments, cranial to caudal; a request is a run of these.
LUMBAR = ("L1-L2", "L2-L3", "L3-L4", "L4-L5", "L5-S1")
#: How often a run of levels ends (caudally) at each segment.
LOWEST_LEVEL_WEIGHTS = {"L5-S1": 40, "L4-L5": 42, "L3-L4": 12, "L2-L3": 5, "L1-L2": 1}
#: Nerve root usually compressed at each segment (for radiculopathy.root).
ROOT_AT = {"L1-L2": "L2", "L2-L3": "L3", "L3-L4": "L4", "L4-L5": "L5", "L5-S1": "S1"}

STENOSIS_GRADES = {  # at a requested level: the reason for surgery, so mostly moderate or worse
    "severe": 16, "moderate_to_severe": 26, "moderate": 30, "mild_to_moderate": 10, "mild": 8, "ungraded": 10,
}
INCIDENTAL_GRADES = {"mild": 40, "mild_to_moderate": 20, "moderate": 15, "ungraded": 20, "none": 5}
CARE_OUTCOMES = {"failed": 62, "partial_relief": 20, "not_tolerated": 5, "ongoing": 5, "resolved": 3, None: 5}
OTHER_MODALITIES = {
    "nsaids": 30, "epidural_steroid_injection": 24, "neuropathic_agents": 12, "muscle_relaxants": 12,
    "activity_modification": 10, "opioids": 8, "oral_steroids": 6, "pain_management": 6, "chiropractic": 5,
    "facet_injection": 4, "si_joint_injection": 2,
}
INJECTIONS = ("epidural_steroid_injection", "facet_injection", "si_joint_injection")


def _pick(rng: random.Random, weights: dict):
    """One key of ``weights``, drawn in proportion to its weight."""
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _tri(rng: random.Random, absent: float, false: float) -> bool | None:
    """Not documented (None) with probability ``absent``, False with ``false``, else True."""
    draw = rng.random()
    return None if draw < absent else False if draw < absent + false else True


def _iso(day: dt.date, month_only: bool = False) -> str:
    return day.strftime("%Y-%m") if month_only else day.isoformat()


def _tenths(rng: random.Random, lo: float, hi: float) -> float:
    """A measurement between ``lo`` and ``hi`` with one decimal place."""
    return rng.randint(round(lo * 10), round(hi * 10)) / 10


def _before(rng: random.Random, anchor: dt.date, lo_days: int, hi_days: int) -> dt.date:
    """A day ``lo_days`` to ``hi_days`` before ``anchor``, never before EARLIEST."""
    return max(EARLIEST, anchor - dt.timedelta(days=rng.randint(lo_days, hi_days)))


def _sample(rng: random.Random, weights: dict, k: int) -> list:
    """``k`` distinct keys of ``weights``, each drawn in proportion to its weight."""
    pool = dict(weights)
    drawn = []
    for _ in range(k):
        drawn.append(_pick(rng, pool))
        del pool[drawn[-1]]
    return drawn


def _put(mapping: dict, key: str, value) -> None:
    """Set ``key`` unless ``value`` is None (not documented: the key stays absent)."""
    if value is not None:
        mapping[key] = value


@dataclass
class _Case:
    """What the parts of one record are drawn from, so they agree with each other."""

    rng: random.Random
    request_day: dt.date  # every other date lies before it, stated in the record or not
    request_date: str | None  # request.date as the record states it (to the day or the month), or None
    levels: list[str]  # requested levels, cranial to caudal
    fusion: bool  # a fusion construct (as opposed to decompression alone)
    thorough: bool  # the practice documents the record well
    revision_level: str | None  # a level operated on before
    osteoporotic: bool

    @property
    def motion_levels(self) -> list[str]:
        return [lv for lv in self.levels if lv != "S1-pelvis"]


# ---------------------------------------------------------------------------
# request
# ---------------------------------------------------------------------------


def _levels(rng: random.Random) -> list[str]:
    """One to three levels, usually contiguous, rarely with T12-L1 or S1-pelvis added."""
    count = _pick(rng, {1: 52, 2: 32, 3: 16})
    if count > 1 and rng.random() < 0.08:  # skip levels, e.g. L3-L4 and L5-S1
        levels = sorted(rng.sample(LUMBAR[1:], count), key=LUMBAR.index)
    else:
        lowest = LUMBAR.index(_pick(rng, LOWEST_LEVEL_WEIGHTS))
        top = max(0, lowest - count + 1)
        levels = list(LUMBAR[top:top + count])
    if levels[0] == "L1-L2" and rng.random() < 0.4:  # a construct crossing the thoracolumbar junction
        levels.insert(0, "T12-L1")
    if levels[-1] == "L5-S1" and rng.random() < 0.04:
        levels.append("S1-pelvis")
    return levels


def _decompression(c: _Case):
    """``true``, a technique, or the mapping with planned resections."""
    rng = c.rng
    technique = _pick(rng, {"laminectomy": 60, "laminotomy": 25, "foraminotomy": 15})
    form = _pick(rng, {"flag": 15, "technique": 65, "mapping": 20})
    if form == "flag":
        return True
    if form == "technique":
        return technique
    spec: dict = {"technique": technique}
    if rng.random() < 0.7:
        facets = {}
        for side in ("left", "right"):
            if rng.random() < 0.85:
                facets[side] = rng.choice(range(20, 95, 5))
        if facets:
            spec["facet_resection_pct"] = facets
    _put(spec, "pars_resection", _tri(rng, 0.5, 0.4))
    return spec


def _fusion(c: _Case, level: str):
    """``true`` or the mapping with approaches and instrumentation."""
    rng = c.rng
    if rng.random() < 0.25:
        return True
    if level in ("T12-L1", "S1-pelvis"):
        approaches = ["posterolateral"]
    else:
        approaches = [_pick(rng, {"tlif": 45, "posterolateral": 20, "alif": 15, "plif": 10, "llif": 10})]
        if approaches[0] in ("alif", "llif") and rng.random() < 0.6:
            approaches.append("posterolateral")  # combined anterior/lateral and posterior
    spec: dict = {"approaches": approaches}
    _put(spec, "instrumentation", _tri(rng, 0.3, 0.05))
    return spec


def _items(c: _Case, request: dict) -> list[dict]:
    rng = c.rng
    items: list[dict] = []
    interbody = [
        lv["level"] for lv in request["levels"]
        if isinstance(lv.get("fusion"), dict) and set(lv["fusion"]["approaches"]) - {"posterolateral"}
    ]
    if c.fusion:
        items += [{"item": "interbody_device", "level": lv} for lv in interbody if rng.random() < 0.75]
        # A cage comes with bone graft, though the request does not always list it.
        allograft = rng.random() < (0.85 if items else 0.5)
        if allograft:
            items.append({"item": "allograft"})
        if rng.random() < (0.15 if allograft else 0.4):
            graft = {"item": "autograft"}
            _put(graft, "source", rng.choice([None, "iliac_crest", "local_bone"]))
            items.append(graft)
        for item, chance in (("rhbmp2", 0.35 if c.revision_level else 0.06), ("bone_marrow_aspirate", 0.08),
                             ("cellular_bone_matrix", 0.05), ("cement_augmentation", 0.5 if c.osteoporotic else 0.03)):
            if rng.random() < chance:
                items.append({"item": item})
    elif rng.random() < 0.04:
        items.append({"item": "interspinous_device", "level": rng.choice(c.motion_levels)})
    if rng.random() < 0.02:
        items.append({"item": "si_joint_fusion", "side": _pick(rng, {"left": 2, "right": 2, "bilateral": 1})})
    return items


def _request(c: _Case) -> dict:
    rng = c.rng
    levels = []
    for level in c.levels:
        entry: dict = {"level": level}
        if level == "S1-pelvis":  # a fixation segment: fusion only
            entry["fusion"] = _fusion(c, level)
        elif not c.fusion:
            entry["decompression"] = _decompression(c)
        else:
            shape = "fusion" if level == "T12-L1" else _pick(rng, {"both": 75, "fusion": 18, "decompression": 7})
            if shape in ("both", "decompression"):
                entry["decompression"] = _decompression(c)
            if shape in ("both", "fusion"):
                entry["fusion"] = _fusion(c, level)
        if level == c.revision_level and rng.random() < 0.6:
            entry["note"] = "revision at the level of the prior decompression"
        levels.append(entry)
    if c.fusion and not any("fusion" in lv for lv in levels):
        levels[-1]["fusion"] = _fusion(c, levels[-1]["level"])  # a fusion construct fuses somewhere
    request: dict = {}
    _put(request, "date", c.request_date)
    setting = _pick(rng, {"inpatient": 50, "outpatient": 15, None: 35} if c.fusion
                    else {"inpatient": 8, "outpatient": 50, None: 42})
    _put(request, "setting", setting)
    request["levels"] = levels
    items = _items(c, request)
    if items:
        request["items"] = items
    if c.fusion and rng.random() < 0.03:
        request["autograft_unavailable"] = rng.random() < 0.7
    return request


# ---------------------------------------------------------------------------
# imaging
# ---------------------------------------------------------------------------


def _stenosis(rng: random.Random, grades: dict) -> list[dict]:
    entries = []
    for zone in rng.sample(["central", "lateral_recess", "foraminal"], _pick(rng, {1: 65, 2: 28, 3: 7})):
        entry: dict = {"zone": zone}
        if zone != "central" or rng.random() < 0.1:
            _put(entry, "side", rng.choice([None, "left", "right", "bilateral"]))
        grade = _pick(rng, grades)
        if grade != "ungraded" or rng.random() < 0.3:  # ungraded: usually the grade is just left out
            entry["grade"] = grade
        entries.append(entry)
    return entries


def _spondylolisthesis(c: _Case) -> dict | None:
    rng = c.rng
    present = _tri(rng, 0.3, 0.25) if c.fusion else _tri(rng, 0.5, 0.4)
    if present is None:
        return None
    if not present:
        return {"present": False}
    spec: dict = {"present": True}
    if rng.random() < 0.6:
        spec["meyerding_grade"] = _pick(rng, {1: 80, 2: 17, 3: 3})
    if rng.random() < 0.4:
        spec["slip_mm"] = _tenths(rng, 2, 12)
    _put(spec, "type", _pick(rng, {"degenerative": 60, "isthmic": 12, "iatrogenic": 3, None: 25}))
    _put(spec, "direction", _pick(rng, {"anterolisthesis": 70, "retrolisthesis": 10, None: 20}))
    return spec


def _cross_sectional(c: _Case, study_day: dt.date) -> dict:
    """An MRI (now and then CT or CT myelogram) with findings at the requested levels."""
    rng = c.rng
    study: dict = {"study": _pick(rng, {"mri": 90, "ct": 5, "ct_myelogram": 5})}
    if rng.random() < 0.8:
        study["date"] = _iso(study_day, month_only=rng.random() < 0.05)
    findings = []
    for level in c.motion_levels:
        if rng.random() < 0.04:  # the report says nothing about a requested level
            continue
        entry: dict = {"level": level}
        draw, reported = rng.random(), 0.97 if c.thorough else 0.9
        if draw < 0.04:
            entry["stenosis"] = []  # the report says there is none
        elif draw < reported:
            entry["stenosis"] = _stenosis(rng, STENOSIS_GRADES)
        _put(entry, "spondylolisthesis", _spondylolisthesis(c))
        for finding, chance in (("disc_bulge", 0.35), ("disc_height_loss", 0.2), ("facet_arthropathy", 0.35),
                                ("disc_herniation", 0.15)):
            if rng.random() < chance:
                entry[finding] = rng.random() < 0.85
        if rng.random() < 0.1:
            modic: dict = {"present": rng.random() < 0.8}
            if modic["present"] and rng.random() < 0.6:
                modic["type"] = _pick(rng, {1: 30, 2: 60, 3: 10})
            if study["study"] == "mri":  # a Modic change is read on MRI only (facts/plausible.py); drawn
                entry["modic_change"] = modic  # all the same, so that the draws after it stay as they were
        findings.append(entry)
    # A finding at a neighbouring level that is not requested.
    neighbours = [lv for lv in LUMBAR if lv not in c.levels]
    if neighbours and rng.random() < 0.3:
        findings.append({"level": rng.choice(neighbours), "stenosis": _stenosis(rng, INCIDENTAL_GRADES)})
    study["levels"] = findings
    if rng.random() < 0.05:
        study["note"] = "no flexion-extension films"
    return study


def _flexion_extension(c: _Case, study_day: dt.date) -> dict:
    rng = c.rng
    findings = []
    for level in c.motion_levels:
        entry: dict = {"level": level}
        if rng.random() < 0.85:
            entry["translation_mm"] = _tenths(rng, 0, _pick(rng, {2.5: 45, 4: 35, 7: 20}))
        if rng.random() < 0.6:
            entry["angulation_deg"] = _tenths(rng, 1, _pick(rng, {8: 50, 12: 35, 18: 15}))
        findings.append(entry)
    study: dict = {"study": "flexion_extension_xray", "levels": findings}
    if rng.random() < 0.7:
        study["date"] = _iso(study_day)
    return study


def _standing(c: _Case, study_day: dt.date) -> dict:
    """Standing films: alignment measured, or only described."""
    rng = c.rng
    alignment: dict = {}
    if rng.random() < 0.7:
        if rng.random() < 0.5:
            upper = rng.choice(["T10-T11", "T11-T12", "T12-L1", "L1-L2"])
            lower = rng.choice(["L3-L4", "L4-L5", "L5-S1"])
            alignment["cobb"] = [{"angle_deg": _tenths(rng, 8, 45), "upper_level": upper, "lower_level": lower}]
        elif rng.random() < 0.2:
            alignment["cobb"] = []
        if rng.random() < 0.7:
            alignment["sva_mm"] = _tenths(rng, -20, 110)
        if rng.random() < 0.5:
            alignment["pi_ll_mismatch_deg"] = _tenths(rng, -10, 35)
        if rng.random() < 0.4:
            alignment["coronal_imbalance_mm"] = _tenths(rng, 0, 70)
    if not alignment or rng.random() < 0.3:
        alignment["descriptions"] = [rng.choice(["straightening of normal lumbar lordosis", "mild flatback",
                                                 "subtle dextroscoliotic curvature", "loss of lumbar lordosis"])]
    study: dict = {"study": _pick(rng, {"standing_full_length": 70, "xray": 30}), "alignment": alignment}
    if rng.random() < 0.6:
        study["date"] = _iso(study_day)
    return study


def _imaging(c: _Case) -> list[dict] | None:
    rng = c.rng
    draw = rng.random()
    if draw < 0.03:
        return None
    if draw < 0.045:
        return []
    mri_day = _before(rng, c.request_day, 7, 160)
    studies = [_cross_sectional(c, mri_day)]
    if rng.random() < (0.4 if c.fusion else 0.1):
        studies.append(_flexion_extension(c, _before(rng, c.request_day, 7, 120)))
    long_construct = len(c.levels) >= 3 or "T12-L1" in c.levels or "S1-pelvis" in c.levels
    if rng.random() < (0.5 if long_construct else 0.08 if c.fusion else 0.02):
        studies.append(_standing(c, _before(rng, c.request_day, 7, 120)))
    return studies


# ---------------------------------------------------------------------------
# clinical
# ---------------------------------------------------------------------------


def _clinical(c: _Case) -> dict | None:
    rng = c.rng
    if rng.random() < 0.03:
        return None
    sides = {"left": 40, "right": 35, "bilateral": 25}
    clinical: dict = {}
    present = _tri(rng, 0.08, 0.08)
    if present is not None:
        radic: dict = {"present": present}
        if present:
            if rng.random() < 0.6:
                radic["side"] = _pick(rng, sides)
            if rng.random() < 0.35:
                radic["root"] = ROOT_AT[c.motion_levels[-1]]
            _put(radic, "basis", _pick(rng, {"clinical": 40, "emg": 15, None: 45}))
            _put(radic, "acuity", _pick(rng, {"acute": 10, "chronic": 30, None: 60}))
        clinical["radiculopathy"] = radic
    _put(clinical, "neurogenic_claudication", _tri(rng, 0.5, 0.15))
    present = _tri(rng, 0.5, 0.2)
    if present is not None:
        weakness: dict = {"present": present}
        if present:
            if rng.random() < 0.6:
                weakness["mrc"] = _pick(rng, {"4/5": 35, "4-/5": 15, "4+/5": 25, "3/5": 10, "5-/5": 10, "5/5": 5})
            if rng.random() < 0.5:
                weakness["side"] = _pick(rng, sides)
            _put(weakness, "course", _pick(rng, {"progressive": 12, "stable": 30, "improving": 3, None: 55}))
        clinical["motor_weakness"] = weakness
    for finding, absent, false in (("sensory_deficit", 0.55, 0.2), ("reflex_change", 0.6, 0.25),
                                   ("myelopathy", 0.9, 0.095), ("bowel_bladder_dysfunction", 0.8, 0.17),
                                   ("cauda_equina_syndrome", 0.7, 0.285), ("tumor", 0.92, 0.078),
                                   ("infection", 0.92, 0.078), ("fracture", 0.92, 0.078)):
        _put(clinical, finding, _tri(rng, absent, false))
    _put(clinical, "adl_limitation", _tri(rng, 0.06 if c.thorough else 0.25, 0.04))
    if clinical.get("adl_limitation") and rng.random() < 0.3:
        clinical["limited_activities"] = rng.sample(
            ["walking", "standing", "sitting", "driving", "work", "sleep", "housework"], rng.randint(1, 3))
    if rng.random() < 0.04:
        clinical["discogenic_pain"] = rng.random() < 0.5
    if rng.random() < 0.1:
        clinical["concordant_levels"] = c.motion_levels[:rng.randint(1, len(c.motion_levels))]
    draw = rng.random()
    if draw < 0.05:
        clinical["pain_scores"] = []
    elif draw < 0.5:
        clinical["pain_scores"] = [{"scale": _pick(rng, {"nrs": 60, "vas": 40}), "score": _tenths(rng, 3, 10)}]
    if rng.random() < 0.25:
        clinical["odi_pct"] = float(rng.randint(14, 80))
    return clinical


# ---------------------------------------------------------------------------
# conservative care
# ---------------------------------------------------------------------------


def _physical_therapy(c: _Case) -> dict:
    """A PT course: how it was given, how long, when, and how it ended."""
    rng = c.rng
    episode: dict = {"modality": "physical_therapy"}
    _put(episode, "delivery", _pick(rng, {"supervised_in_person": 90, "home_program": 5, "virtual": 1, None: 4}
                                    if c.thorough else
                                    {"supervised_in_person": 40, "home_program": 20, "virtual": 8, None: 32}))
    weeks = _pick(rng, {4: 4, 6: 30, 8: 28, 10: 13, 12: 15, 16: 10} if c.thorough
                  else {3: 10, 4: 15, 6: 30, 8: 20, 10: 10, 12: 10, 16: 5})
    # Ended a little before the request; now and then more than a year before it.
    stale = c.request_day - dt.timedelta(days=430) >= EARLIEST and rng.random() < 0.08
    end = _before(rng, c.request_day, 380, 430) if stale else _before(rng, c.request_day, 3, 75)
    days = weeks * 7 + rng.randint(-2, 4)
    # A course that would start before EARLIEST ends later instead (still before
    # the request, which comes at least FIRST_REQUEST - EARLIEST days after EARLIEST).
    end = max(end, EARLIEST + dt.timedelta(days=days))
    start = end - dt.timedelta(days=days)
    form = _pick(rng, {"dates": 30, "both": 25, "weeks_end": 32, "weeks": 8, "none": 5} if c.thorough
                 else {"weeks": 30, "dates": 10, "both": 5, "weeks_end": 10, "none": 45})
    if form in ("weeks", "both", "weeks_end"):
        episode["weeks"] = weeks
    if form in ("dates", "both"):
        episode["start"], episode["end"] = _iso(start), _iso(end)
    elif form == "weeks_end":
        episode["end"] = _iso(end, month_only=rng.random() < 0.5)
    outcome = _pick(rng, CARE_OUTCOMES)
    if outcome == "ongoing":
        episode.pop("end", None)  # still going: no end date
    _put(episode, "outcome", outcome)
    if outcome == "not_tolerated" and rng.random() < 0.5:
        episode["sessions"] = 1  # stopped after the first session: there was no course to measure
        for key in ("weeks", "end"):
            episode.pop(key, None)
    elif rng.random() < 0.25:
        episode["sessions"] = max(2, weeks * rng.randint(1, 3))
    if rng.random() < 0.15:
        episode["source"] = _pick(rng, {"pt_notes": 50, "clinician_note": 30, "patient_report": 10, "claims": 10})
    return episode


def _other_care(c: _Case, modality: str) -> dict:
    """Medication, injections, chiropractic and the like: mostly an outcome only."""
    rng = c.rng
    episode: dict = {"modality": modality}
    if modality in INJECTIONS and rng.random() < 0.4:
        episode["start"] = _iso(_before(rng, c.request_day, 14, 200), month_only=rng.random() < 0.4)
    elif modality not in INJECTIONS and rng.random() < 0.15:
        episode["weeks"] = rng.randint(2, 26)
    _put(episode, "outcome", _pick(rng, CARE_OUTCOMES))
    if modality == "nsaids" and rng.random() < 0.2:
        episode["note"] = rng.choice(["ibuprofen", "naproxen", "diclofenac", "meloxicam"])
    return episode


def _care(c: _Case) -> dict | None:
    rng = c.rng
    if rng.random() < (0.01 if c.thorough else 0.1):
        return None
    care: dict = {}
    if rng.random() < (0.75 if c.thorough else 0.3):
        weeks = _pick(rng, {8: 5, 12: 30, 16: 25, 26: 25, 52: 15} if c.thorough
                      else {6: 15, 8: 15, 12: 25, 16: 15, 26: 15, 52: 15})
        care["total_weeks"] = min(weeks, (c.request_day - EARLIEST).days // 7)  # no longer than since EARLIEST
    draw = rng.random()
    if draw < (0.01 if c.thorough else 0.1):
        return care or None
    if draw < (0.02 if c.thorough else 0.15):
        # an empty list says no care was given: no span of care beside it
        return {"episodes": []}
    episodes = []
    if rng.random() < (0.96 if c.thorough else 0.65):
        episodes.append(_physical_therapy(c))
    others = _sample(rng, OTHER_MODALITIES, rng.randint(0 if episodes else 1, 4))
    episodes += [_other_care(c, m) for m in others]
    if rng.random() < 0.05:
        episodes.append({"modality": "physical_therapy", "delivery": "home_program", "weeks": rng.randint(2, 8),
                         "outcome": _pick(rng, {"failed": 60, "partial_relief": 40})})
    rng.shuffle(episodes)
    care["episodes"] = episodes
    return care


# ---------------------------------------------------------------------------
# history
# ---------------------------------------------------------------------------


def _prior_surgeries(c: _Case) -> list[dict] | None:
    rng = c.rng
    if c.revision_level is None:
        draw = rng.random()
        if draw < 0.4:
            return None
        if draw < 0.85:
            return []
    surgeries = []
    if c.revision_level is not None:
        surgery: dict = {"type": _pick(rng, {"laminectomy": 50, "laminotomy": 15, "discectomy": 30, "foraminotomy": 5})}
        if rng.random() < 0.9:
            surgery["level"] = c.revision_level
        latest = c.request_day - dt.timedelta(days=180)
        if latest >= EARLIEST and rng.random() < 0.3:
            surgery["date"] = _iso(EARLIEST + dt.timedelta(days=rng.randint(0, (latest - EARLIEST).days)))
        else:
            surgery["description"] = f"operated in {rng.randint(2010, 2024)}"
        surgeries.append(surgery)
    if not surgeries or rng.random() < 0.2:
        surgeries.append(rng.choice([  # an operation elsewhere, or one whose level is not given
            {"type": "fusion", "region": "cervical", "description": "C5-C6 ACDF"},
            {"type": "discectomy", "description": "lumbar microdiscectomy, level not given"},
            {"type": "other", "region": "thoracic", "description": "thoracic spine procedure"},
        ]))
    return surgeries


def _history(c: _Case) -> dict | None:
    rng = c.rng
    if rng.random() < 0.12:
        return None
    history: dict = {}
    _put(history, "prior_surgeries", _prior_surgeries(c))
    status = _pick(rng, {None: 40, "never": 30, "former": 20, "current": 10})
    if status is not None:
        smoking: dict = {"status": status}
        if status == "former" and rng.random() < 0.5:
            smoking["nicotine_free_weeks"] = _pick(rng, {4: 20, 6: 20, 12: 20, 26: 20, 104: 20})
        if status != "never" and rng.random() < 0.2:
            smoking["cotinine_ng_ml"] = float(rng.randint(0, 400))
        history["smoking"] = smoking
    present = _tri(rng, 0.5, 0.32)
    if present is not None:
        history["diabetes"] = {"present": present}
        if present and rng.random() < 0.5:
            history["diabetes"]["hba1c_pct"] = _tenths(rng, 5.8, 9.5)
    if rng.random() < 0.6:
        history["bmi"] = _tenths(rng, 19, 44)
    if c.osteoporotic or rng.random() < 0.2:
        density: dict = {}
        if rng.random() < 0.8:
            density["dexa_t_score"] = _tenths(rng, -3.8, -2.5) if c.osteoporotic else _tenths(rng, -2.4, 1)
        if not density or rng.random() < 0.5:
            density["osteoporosis"] = c.osteoporotic
        history["bone_density"] = density
    if rng.random() < 0.02:
        history["inflammatory_arthropathy"] = {
            "kind": _pick(rng, {"ankylosing_spondylitis": 70, "psoriatic_arthritis": 20, "rheumatoid_arthritis": 10}),
            "status": _pick(rng, {"suspected": 50, "confirmed": 35, "excluded": 15}),
        }
        _put(history["inflammatory_arthropathy"], "involves_si_joint", _tri(rng, 0.5, 0.2))
    if rng.random() < 0.03:
        history["si_joint"] = _si_joint(c)
    _put(history, "behavioural_health_screening", _tri(rng, 0.85, 0.03))
    _put(history, "alcohol_use_disorder", _tri(rng, 0.9, 0.08))
    return history


def _si_joint(c: _Case) -> dict:
    rng = c.rng
    si: dict = {}
    if rng.random() < 0.7:
        performed = rng.randint(3, 6)
        si["provocative_tests_performed"] = performed
        si["provocative_tests_positive"] = rng.randint(0, performed)
    _put(si, "sacroiliitis_on_imaging", _tri(rng, 0.5, 0.3))
    _put(si, "confirmed_diagnosis", _tri(rng, 0.5, 0.2))
    if rng.random() < 0.6:
        block: dict = {"relief_pct": float(rng.choice(range(30, 100, 5)))}
        if rng.random() < 0.5:
            block["date"] = _iso(_before(rng, c.request_day, 14, 120))
        si["diagnostic_blocks"] = [block]
    elif rng.random() < 0.3:
        si["diagnostic_blocks"] = []
    return si


# ---------------------------------------------------------------------------
# records
# ---------------------------------------------------------------------------


def case_record(rng: random.Random, number: int) -> dict:
    """One case record, ``gen-NNNNNN``, drawn from ``rng``."""
    thorough = rng.random() < 0.75
    span = (LATEST - FIRST_REQUEST).days
    request_day = FIRST_REQUEST + dt.timedelta(days=rng.randint(0, span))
    precision = _pick(rng, {"day": 90, "month": 5, None: 5} if thorough else {"day": 75, "month": 5, None: 20})
    if precision == "month":
        request_day = request_day.replace(day=1)  # the record's date is the 1st: nothing may come after it
    levels = _levels(rng)
    fusion = "S1-pelvis" in levels or rng.random() < 0.55
    revision = rng.random() < 0.12
    c = _Case(
        rng=rng,
        request_day=request_day,
        request_date=None if precision is None else _iso(request_day, month_only=precision == "month"),
        levels=levels,
        fusion=fusion,
        thorough=thorough,
        revision_level=rng.choice([lv for lv in levels if lv != "S1-pelvis"]) if revision else None,
        osteoporotic=rng.random() < 0.06,
    )
    record: dict = {"case": f"gen-{number:06d}", "request": _request(c)}
    for key, part in (("imaging", _imaging(c)), ("clinical", _clinical(c)),
                      ("conservative_care", _care(c)), ("history", _history(c))):
        _put(record, key, part)
    return record


def case_records(n: int, seed: int = 2026) -> list[dict]:
    """``n`` case records; the same ``seed`` gives the same records."""
    rng = random.Random(seed)
    return [case_record(rng, i) for i in range(n)]


def validate(records: list[dict]) -> None:
    """Check that every record is a valid case file; raise ValueError listing those that are not."""
    problems = []
    for i, record in enumerate(records):
        try:
            parse_case(json.dumps(record), f"gen:{i}", fmt="json")
        except CaseFileError as exc:
            problems.append(exc.render())
    if problems:
        raise ValueError(f"{len(problems)} of {len(records)} generated records are invalid:\n" + "\n".join(problems))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, help="how many records")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--jsonl", type=Path, help="write JSON Lines here (default: standard output)")
    args = parser.parse_args(argv)
    records = case_records(args.n, args.seed)
    validate(records)
    lines = "".join(json.dumps(rec, sort_keys=True) + "\n" for rec in records)
    if args.jsonl is None:
        sys.stdout.write(lines)
    else:
        args.jsonl.write_text(lines, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
