"""Hypothesis strategies for valid case records, and for pairs of records
where the second documents strictly more evidence than the first.

Every record drawn here passes the case model: the strategies respect its
rules (S1-pelvis requests fusion only, an episode's weeks never disagree with
its dates, Cobb curves run cranial to caudal, no level or item twice) rather
than filtering, so Hypothesis spends its examples on the policy.  Each
optional part is drawn in its three states where the model has them: absent
(not documented), documented false or empty, documented true.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from hypothesis import strategies as st

from facts.plausible import LEVEL_REGIONS, can_show
from facts.terms import (
    SACROPELVIC_LEVEL,
    SPINAL_LEVELS,
    Approach,
    CareOutcome,
    Course,
    Decompression,
    Item,
    ListhesisDirection,
    ListhesisType,
    Modality,
    Region,
    Setting,
    Side,
    StenosisGrade,
    StenosisZone,
    StudyType,
    SurgeryType,
    TherapyDelivery,
)

MOTION_SEGMENTS = tuple(lv for lv in SPINAL_LEVELS if lv != SACROPELVIC_LEVEL)
FLEXION_EXTENSION = StudyType.flexion_extension_xray.value
SUPERVISED = TherapyDelivery.supervised_in_person.value

Case = dict[str, Any]


def _values(enum: type) -> st.SearchStrategy[str]:
    return st.sampled_from([m.value for m in enum])


def tenths(lo: int, hi: int) -> st.SearchStrategy[float]:
    """A measurement with one decimal place, from lo/10 to hi/10."""
    return st.integers(lo, hi).map(lambda t: t / 10)


def tri_state() -> st.SearchStrategy[bool | None]:
    """Not documented (None), documented false, documented true."""
    return st.sampled_from([None, False, True])


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    """Leave ``key`` out when the value is not documented."""
    if value is not None:
        out[key] = value


_FIRST_DAY = dt.date(2023, 1, 1)


def day_dates(span_days: int = 3 * 365) -> st.SearchStrategy[dt.date]:
    return st.integers(0, span_days).map(lambda d: _FIRST_DAY + dt.timedelta(days=d))


@st.composite
def case_dates(draw: st.DrawFn) -> str:
    """A date to the day, or to the month when the record says no more."""
    day = draw(day_dates())
    return day.isoformat() if draw(st.booleans()) else day.strftime("%Y-%m")


# --------------------------------------------------------------------------
# Request
# --------------------------------------------------------------------------


@st.composite
def decompression_requests(draw: st.DrawFn) -> Any:
    form = draw(st.sampled_from(["flag", "technique", "full"]))
    if form == "flag":
        return True
    if form == "technique":
        return draw(_values(Decompression))
    out: dict[str, Any] = {}
    _put(out, "technique", draw(st.none() | _values(Decompression)))
    if draw(st.booleans()):
        facets: dict[str, Any] = {}
        _put(facets, "left", draw(st.none() | tenths(0, 1000)))
        _put(facets, "right", draw(st.none() | tenths(0, 1000)))
        out["facet_resection_pct"] = facets
    _put(out, "pars_resection", draw(tri_state()))
    return out


@st.composite
def fusion_requests(draw: st.DrawFn) -> Any:
    if draw(st.booleans()):
        return True
    out: dict[str, Any] = {"approaches": draw(st.lists(_values(Approach), max_size=2, unique=True))}
    _put(out, "instrumentation", draw(tri_state()))
    return out


@st.composite
def level_requests(draw: st.DrawFn, level: str) -> dict[str, Any]:
    if level == SACROPELVIC_LEVEL:
        return {"level": level, "fusion": draw(fusion_requests())}
    what = draw(st.sampled_from(["decompression", "fusion", "both"]))
    out: dict[str, Any] = {"level": level}
    if what in ("decompression", "both"):
        out["decompression"] = draw(decompression_requests())
    if what in ("fusion", "both"):
        out["fusion"] = draw(fusion_requests())
    return out


@st.composite
def item_requests(draw: st.DrawFn, levels: list[str]) -> list[dict[str, Any]]:
    keys = draw(st.lists(
        st.tuples(_values(Item), st.none() | st.sampled_from(levels)),
        max_size=3, unique=True,
    ))
    items = []
    for item, level in keys:
        out: dict[str, Any] = {"item": item}
        _put(out, "level", level)
        _put(out, "side", draw(st.none() | _values(Side)))
        items.append(out)
    return items


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    levels = draw(st.lists(st.sampled_from(SPINAL_LEVELS), min_size=1, max_size=4, unique=True))
    out: dict[str, Any] = {"levels": [draw(level_requests(lv)) for lv in levels]}
    _put(out, "date", draw(st.none() | case_dates()))
    _put(out, "setting", draw(st.none() | _values(Setting)))
    items = draw(item_requests(levels))
    if items:
        out["items"] = items
    return out


# --------------------------------------------------------------------------
# Imaging
# --------------------------------------------------------------------------


@st.composite
def stenoses(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {"zone": draw(_values(StenosisZone))}
    _put(out, "side", draw(st.none() | _values(Side)))
    _put(out, "grade", draw(st.none() | _values(StenosisGrade)))
    return out


@st.composite
def spondylolistheses(draw: st.DrawFn, present: bool | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"present": draw(st.booleans()) if present is None else present}
    if out["present"] and draw(st.booleans()):
        _put(out, "meyerding_grade", draw(st.none() | st.integers(1, 5)))
        _put(out, "type", draw(st.none() | _values(ListhesisType)))
        _put(out, "direction", draw(st.none() | _values(ListhesisDirection)))
    return out


@st.composite
def level_findings(draw: st.DrawFn, level: str, study: str) -> dict[str, Any]:
    out: dict[str, Any] = {"level": level}
    if can_show(study, "stenosis"):
        _put(out, "stenosis", draw(st.none() | st.lists(stenoses(), max_size=2)))
    # absent: not documented; present false: documented absent
    _put(out, "spondylolisthesis", draw(st.none() | spondylolistheses()))
    if study == FLEXION_EXTENSION:
        _put(out, "translation_mm", draw(st.none() | tenths(0, 120)))
        _put(out, "angulation_deg", draw(st.none() | tenths(0, 250)))
    for name in ("facet_arthropathy", "disc_bulge", "disc_height_loss"):
        if can_show(study, name):
            _put(out, name, draw(tri_state()))
    return out


@st.composite
def alignments(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if draw(st.booleans()):
        upper, lower = sorted(draw(st.lists(st.integers(0, len(SPINAL_LEVELS) - 1), min_size=2, max_size=2)))
        out["cobb"] = [{"angle_deg": draw(tenths(0, 600)),
                        "upper_level": SPINAL_LEVELS[upper], "lower_level": SPINAL_LEVELS[lower]}]
    _put(out, "sva_mm", draw(st.none() | tenths(-1000, 1200)))
    _put(out, "coronal_imbalance_mm", draw(st.none() | tenths(0, 1000)))
    if draw(st.booleans()):
        out["descriptions"] = ["scoliotic curvature (described, not measured)"]
    return out


@st.composite
def imaging_studies(draw: st.DrawFn, requested: list[str]) -> dict[str, Any]:
    study = draw(st.sampled_from(["mri", FLEXION_EXTENSION]) | _values(StudyType))
    # mostly the requested levels, sometimes a level that was not requested
    pool = st.sampled_from(requested) | st.sampled_from(SPINAL_LEVELS)
    levels = draw(st.lists(pool, max_size=3, unique=True))
    out: dict[str, Any] = {"study": study, "levels": [draw(level_findings(lv, study)) for lv in levels]}
    _put(out, "date", draw(st.none() | case_dates()))
    if study in ("xray", "standing_full_length") and draw(st.booleans()):
        out["alignment"] = draw(alignments())
    return out


# --------------------------------------------------------------------------
# Clinical, conservative care, history
# --------------------------------------------------------------------------


@st.composite
def clinicals(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if (present := draw(tri_state())) is not None:
        out["radiculopathy"] = {"present": present}
    if (present := draw(tri_state())) is not None:
        weakness: dict[str, Any] = {"present": present}
        _put(weakness, "mrc", draw(st.none() | st.sampled_from(["3/5", "4-", "4", "4+/5", "5/5"])))
        _put(weakness, "course", draw(st.none() | _values(Course)))
        out["motor_weakness"] = weakness
    for name in ("neurogenic_claudication", "sensory_deficit", "reflex_change", "adl_limitation",
                 "cauda_equina_syndrome", "bowel_bladder_dysfunction"):
        _put(out, name, draw(tri_state()))
    return out


@st.composite
def care_timings(draw: st.DrawFn) -> dict[str, Any]:
    """How long and when: never weeks that disagree with the dates."""
    form = draw(st.sampled_from(["none", "weeks", "weeks_end", "dates", "start", "end"]))
    if form == "none":
        return {}
    if form == "weeks":
        return {"weeks": draw(tenths(0, 400))}
    if form == "weeks_end":
        return {"weeks": draw(tenths(0, 400)), "end": draw(case_dates())}
    if form == "dates":
        start = draw(day_dates())
        end = start + dt.timedelta(days=draw(st.integers(0, 200)))
        return {"start": start.isoformat(), "end": end.isoformat()}
    return {form: draw(case_dates())}


@st.composite
def care_episodes(draw: st.DrawFn, modality: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"modality": modality or draw(_values(Modality))}
    if out["modality"] == Modality.physical_therapy.value:
        _put(out, "delivery", draw(st.none() | _values(TherapyDelivery)))
    out.update(draw(care_timings()))
    _put(out, "sessions", draw(st.none() | st.integers(0, 30)))
    _put(out, "outcome", draw(st.none() | _values(CareOutcome)))
    return out


@st.composite
def conservative_cares(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "total_weeks", draw(st.none() | tenths(0, 400)))
    # None: not documented; []: documented, none given
    _put(out, "episodes", draw(st.none() | st.lists(care_episodes(), max_size=4)))
    if out.get("episodes") == [] and out.get("total_weeks"):
        del out["total_weeks"]  # an empty list says no care was given: no span of care to state
    return out


@st.composite
def histories(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if draw(st.booleans()):
        surgeries = []
        for _ in range(draw(st.integers(0, 2))):
            surgery: dict[str, Any] = {"type": draw(_values(SurgeryType))}
            # the region defaults to lumbar: a lumbar level (facts/plausible.py)
            _put(surgery, "level", draw(st.none() | st.sampled_from(
                [lv for lv in MOTION_SEGMENTS if Region.lumbar in LEVEL_REGIONS[lv]])))
            surgeries.append(surgery)
        out["prior_surgeries"] = surgeries
    if draw(st.booleans()):
        out["bone_density"] = draw(st.sampled_from([{}, {"osteoporosis": True}, {"osteoporosis": False}])
                                   | tenths(-40, 20).map(lambda t: {"dexa_t_score": t}))
    if draw(st.booleans()):
        si: dict[str, Any] = {}
        _put(si, "sacroiliitis_on_imaging", draw(tri_state()))
        if draw(st.booleans()):
            si["diagnostic_blocks"] = [{"relief_pct": draw(tenths(0, 1000))}]
        out["si_joint"] = si
    return out


@st.composite
def graded_mri(draw: st.DrawFn, requested: list[str]) -> dict[str, Any]:
    """An MRI grading stenosis at every requested motion segment, mostly moderate or worse."""
    levels = []
    for level in requested:
        if level == SACROPELVIC_LEVEL:
            continue
        entry = draw(level_findings(level, "mri"))
        grade = draw(st.sampled_from(["moderate", "moderate_to_severe", "severe"]) | _values(StenosisGrade))
        entry["stenosis"] = [{"zone": draw(_values(StenosisZone)), "grade": grade}]
        levels.append(entry)
    return {"study": "mri", "levels": levels}


@st.composite
def near_gate(draw: st.DrawFn, request: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Clinical and care sections close to the reference policy's case-level gate.

    Neural compression and limited activities are documented; supervised PT
    of 0 to 12 weeks ended within the year before the request, and the care
    failed.  Whether REF-D4a and D4b hold is left to the draw, so the levels'
    own criteria and the PT threshold both get exercised.
    """
    clinical = draw(clinicals())
    clinical["radiculopathy"] = {"present": True}
    clinical["adl_limitation"] = True
    request_day = draw(day_dates(2 * 365)) + dt.timedelta(days=365)
    request["date"] = request_day.isoformat()
    end = request_day - dt.timedelta(days=draw(st.integers(1, 300)))
    pt: dict[str, Any] = {"modality": "physical_therapy", "delivery": SUPERVISED,
                          "weeks": draw(st.sampled_from([5.9, 6.0, 8.0]) | tenths(0, 120)),  # D4a: 6 weeks
                          "end": end.isoformat(), "outcome": "failed"}
    care = draw(conservative_cares())
    care["total_weeks"] = draw(st.sampled_from([11.9, 12.0, 26.0]) | tenths(60, 300))  # D4b: 12 weeks
    care["episodes"] = [pt] + care.get("episodes", [])
    return clinical, care


@st.composite
def cases(draw: st.DrawFn, near: bool | None = None) -> Case:
    """A valid case record as a plain dict, ready for ``casebuilder.case_from``.

    Half the records (all, with ``near=True``) are drawn near the reference
    policy's case-level gate (``near_gate``) with stenosis graded at the
    requested levels (``graded_mri``): fully random records almost never pass
    the gate, and a property about determinations says little when every
    level is none.
    """
    request = draw(requests())
    requested = [lv["level"] for lv in request["levels"]]
    out: Case = {"case": "generated", "request": request}
    _put(out, "imaging", draw(st.none() | st.lists(imaging_studies(requested), max_size=3)))
    if near or (near is None and draw(st.booleans())):
        out["clinical"], out["conservative_care"] = draw(near_gate(request))
        out["imaging"] = [draw(graded_mri(requested))] + out.get("imaging", [])
    else:
        out["clinical"] = draw(clinicals())
        out["conservative_care"] = draw(conservative_cares())
    out["history"] = draw(histories())
    _imaging_before_request(out)
    _care_before_request(out)
    return out


def _known(date: str) -> tuple[int, ...]:
    return tuple(int(part) for part in date.split("-"))


def _imaging_before_request(case: Case) -> None:
    """Move a study dated after the request to the request's date (the model refuses it otherwise)."""
    request = case["request"].get("date")
    if request is None:
        return
    for study in case.get("imaging") or ():
        date = study.get("date")
        if date is None:
            continue
        a, b = _known(date), _known(request)
        width = min(len(a), len(b))  # a month-precision date compares by its month
        if a[:width] > b[:width]:
            study["date"] = request


def _care_before_request(case: Case) -> None:
    """Leave out an episode's dates when one is after the request (the model refuses it otherwise)."""
    request = case["request"].get("date")
    if request is None:
        return
    for episode in (case.get("conservative_care") or {}).get("episodes") or ():
        dates = [episode.get(k) for k in ("start", "end") if episode.get(k) is not None]
        b = _known(request)
        if any(_known(d)[:min(len(_known(d)), len(b))] > b[:min(len(_known(d)), len(b))] for d in dates):
            episode.pop("start", None)
            episode.pop("end", None)


# --------------------------------------------------------------------------
# Pairs: (less evidence, more evidence), both valid
# --------------------------------------------------------------------------

def _bases() -> st.SearchStrategy[Case]:
    """Records the pairs start from: three in four near the gate, where added
    evidence can change a determination."""
    return cases(near=True) | cases()


@st.composite
def more_supervised_pt_weeks(draw: st.DrawFn, base: st.SearchStrategy[Case] | None = None) -> tuple[Case, Case]:
    """The second record documents more weeks of supervised in-person PT.

    Either an existing supervised episode whose length is not fixed by both
    dates gets more weeks (or its first stated weeks), or both records gain
    a supervised episode, the second one longer.  ``base`` gives the record
    to start from (default: ``_bases()``).
    """
    lo = copy.deepcopy(draw(_bases() if base is None else base))
    care = lo.setdefault("conservative_care", {})
    episodes = care.setdefault("episodes", [])
    eligible = [i for i, e in enumerate(episodes)
                if e.get("delivery") == SUPERVISED and not ("start" in e and "end" in e)]
    if eligible and draw(st.booleans()):
        index = draw(st.sampled_from(eligible))
    else:
        episode = draw(care_episodes(Modality.physical_therapy.value))
        episode["delivery"] = SUPERVISED
        episode.pop("start", None)  # the length is given in weeks below
        episodes.append(episode)
        index = len(episodes) - 1
        _care_before_request(lo)
        if draw(st.booleans()) or "end" not in episode:
            episode["weeks"] = draw(st.sampled_from([5.9, 6.0]) | tenths(0, 400))  # REF-D4a: 6 weeks
    hi = copy.deepcopy(lo)
    before = lo["conservative_care"]["episodes"][index].get("weeks", 0)
    step = draw(st.sampled_from([0.1, 2.0, 6.0]) | tenths(1, 200))
    hi["conservative_care"]["episodes"][index]["weeks"] = round(before + step, 1)
    return lo, hi


def _findings_at(study: dict[str, Any], level: str) -> dict[str, Any]:
    """The study's entry for ``level``, added empty if the study has none."""
    for entry in study.setdefault("levels", []):
        if entry["level"] == level:
            return entry
    entry = {"level": level}
    study["levels"].append(entry)
    return entry


@st.composite
def _target(draw: st.DrawFn, case: Case, study_type: str | None, prefer_fusion: bool = False) -> tuple[int, str]:
    """A study (of ``study_type``, new or existing) and a requested level in it.

    With ``prefer_fusion``, levels where fusion is requested are drawn more
    often, for evidence that only fusion criteria read.
    """
    requested = [lv["level"] for lv in case["request"]["levels"]]
    fusion = [lv["level"] for lv in case["request"]["levels"] if "fusion" in lv and lv["level"] != SACROPELVIC_LEVEL]
    choice = st.sampled_from(requested)
    level = draw(st.sampled_from(fusion) | choice if prefer_fusion and fusion else choice)
    studies = case.setdefault("imaging", [])
    fitting = [i for i, s in enumerate(studies) if study_type is None or s["study"] == study_type]
    if fitting and draw(st.booleans()):
        return draw(st.sampled_from(fitting)), level
    studies.append({"study": study_type or draw(_values(StudyType)), "levels": []})
    return len(studies) - 1, level


@st.composite
def with_spondylolisthesis(draw: st.DrawFn, base: st.SearchStrategy[Case] | None = None) -> tuple[Case, Case, str]:
    """The second record documents spondylolisthesis (present) at a requested level."""
    lo = copy.deepcopy(draw(_bases() if base is None else base))
    index, level = draw(_target(lo, None))
    hi = copy.deepcopy(lo)
    entry = _findings_at(hi["imaging"][index], level)
    listhesis = dict(entry.get("spondylolisthesis") or {})
    listhesis["present"] = True
    entry["spondylolisthesis"] = listhesis
    return lo, hi, level


@st.composite
def larger_translation(draw: st.DrawFn, base: st.SearchStrategy[Case] | None = None) -> tuple[Case, Case, str]:
    """The second record measures more translation on flexion-extension films."""
    lo = copy.deepcopy(draw(_bases() if base is None else base))
    index, level = draw(_target(lo, FLEXION_EXTENSION, prefer_fusion=True))
    entry = _findings_at(lo["imaging"][index], level)
    if "translation_mm" not in entry:
        # around REF-F2's "over 3 mm", the boundary itself included.  Always measured first: from "not
        # measured" to a small figure is not a larger translation; on a second undated study it contradicts
        # the first, and the policy rightly reads conflicting studies as not documented
        entry["translation_mm"] = draw(st.sampled_from([2.0, 3.0, 4.0]) | tenths(0, 80))
    hi = copy.deepcopy(lo)
    before = entry.get("translation_mm", 0)
    step = draw(st.sampled_from([0.1, 1.5, 3.5]) | tenths(1, 60))
    _findings_at(hi["imaging"][index], level)["translation_mm"] = round(before + step, 1)
    return lo, hi, level


def places(record: object) -> list[tuple[object, object]]:
    """Every (container, key) of a record, nested ones included: where one value may be damaged."""
    found: list[tuple[object, object]] = []
    stack = [record]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            found.extend((node, key) for key in node)
            stack.extend(reversed(list(node.values())))
        elif isinstance(node, list):
            found.extend((node, i) for i in range(len(node)))
            stack.extend(reversed(node))
    return found
