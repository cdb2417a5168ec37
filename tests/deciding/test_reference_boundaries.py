"""Every numeric threshold of the reference policy, one value on each side.

reference.md's figures are exact, and its wording decides which side the
threshold itself falls on: "greater than 3 mm" excludes 3.0, "at least 30
degrees" includes 30.  Each row states the value, the status expected of the
criterion that reads it, and the determination that follows; values are
written as a case file would give them (tenths of a unit at most).
"""

from __future__ import annotations

from typing import Any

import pytest

from casebuilder import Expectation as Edge
from casebuilder import baseline, check, decide, determination_of, merge, reported, status  # noqa: F401




def edges(*rows: Edge) -> list[Any]:
    return [pytest.param(r, id=r.name.replace(" ", "-")) for r in rows]


# ---------------------------------------------------------------------------
# Builders
# ---------------------------------------------------------------------------


def plus_study(study: dict[str, Any], data: dict[str, Any] | None = None) -> dict[str, Any]:
    out = merge(data or baseline(), {})
    out["imaging"] = list(out["imaging"]) + [study]
    return out


def films(**findings: Any) -> dict[str, Any]:
    return plus_study({"study": "flexion_extension_xray", "levels": [{"level": "L4-L5", **findings}]})


def standing(data: dict[str, Any] | None = None, **alignment: Any) -> dict[str, Any]:
    return plus_study({"study": "standing_full_length", "alignment": alignment}, data)


def care(*episodes: dict[str, Any], **extra: Any) -> dict[str, Any]:
    out = baseline()
    out["conservative_care"] = {"episodes": list(episodes), **extra}
    return out


def pt(start: str | None, end: str | None, **fields: Any) -> dict[str, Any]:
    episode = {"modality": "physical_therapy", "delivery": "supervised_in_person", "outcome": "failed", **fields}
    if start:
        episode["start"] = start
    if end:
        episode["end"] = end
    return episode


def nsaids(start: str | None = "2025-05-01", end: str | None = "2025-09-01") -> dict[str, Any]:
    episode: dict[str, Any] = {"modality": "nsaids", "outcome": "failed"}
    if start:
        episode["start"] = start
    if end:
        episode["end"] = end
    return episode


def cobb(angle: float, upper: str, lower: str) -> dict[str, Any]:
    return standing(cobb=[{"angle_deg": angle, "upper_level": upper, "lower_level": lower}])


def pelvic(**alignment: Any) -> dict[str, Any]:
    """L5-S1 fused by moderate stenosis and spondylolisthesis; S1-pelvis fixation requested."""
    data = merge(baseline(), {"request": {"levels": [
        {"level": "L5-S1", "decompression": "laminectomy", "fusion": {"approaches": ["tlif"]}},
        {"level": "S1-pelvis", "fusion": {"approaches": ["posterolateral"]}},
    ]}})
    data["imaging"] = [
        {"study": "mri", "levels": [{"level": "L5-S1", "stenosis": [{"zone": "central", "grade": "moderate"}],
                                     "spondylolisthesis": {"present": True}}]},
        {"study": "standing_full_length", "alignment": alignment},
    ]
    return data


def facets(**pct: float) -> dict[str, Any]:
    return merge(baseline(), {"request": {"levels": [
        {"level": "L4-L5", "decompression": {"technique": "laminectomy", "facet_resection_pct": pct},
         "fusion": {"approaches": ["tlif"]}}]}})


#: Fusion at L4-L5 justified (moderate stenosis and spondylolisthesis), for the items that need one.
FUSED = merge(baseline(), {"imaging": [{"study": "mri", "levels": [
    {"level": "L4-L5", "stenosis": [{"zone": "central", "grade": "moderate"}], "spondylolisthesis": {"present": True}}]}]})


def t_score(value: float) -> dict[str, Any]:
    return merge(FUSED, {"request": {"items": [{"item": "cement_augmentation"}]},
                         "history": {"bone_density": {"dexa_t_score": value}}})


def si_block(relief: float) -> dict[str, Any]:
    return merge(baseline(), {"request": {"items": [{"item": "si_joint_fusion"}]},
                              "history": {"si_joint": {"sacroiliitis_on_imaging": True,
                                                       "diagnostic_blocks": [{"relief_pct": relief}]}}})


def mrc(grade: str) -> dict[str, Any]:
    """Motor weakness graded ``grade`` and every other sign of neural compression documented absent."""
    out = baseline()
    out["clinical"] = {
        "radiculopathy": {"present": False}, "neurogenic_claudication": False, "sensory_deficit": False,
        "reflex_change": False, "cauda_equina_syndrome": False, "adl_limitation": True,
        "motor_weakness": {"present": True, "mrc": grade},
    }
    return out


REQUEST = "2025-12-01"  # casebuilder.REQUEST_DATE


# ---------------------------------------------------------------------------
# REF-F2: translation greater than 3 mm, angulation greater than 10 degrees
# ---------------------------------------------------------------------------

F2 = edges(
    Edge("translation 2.9 mm", films(translation_mm=2.9), "REF-F2", "L4-L5", "not_met", "decompression_only"),
    Edge("translation 3.0 mm", films(translation_mm=3.0), "REF-F2", "L4-L5", "not_met", "decompression_only"),
    Edge("translation 3.1 mm", films(translation_mm=3.1), "REF-F2", "L4-L5", "met", "fusion"),
    Edge("angulation 9.9 deg", films(angulation_deg=9.9), "REF-F2", "L4-L5", "not_met", "decompression_only"),
    Edge("angulation 10.0 deg", films(angulation_deg=10.0), "REF-F2", "L4-L5", "not_met", "decompression_only"),
    Edge("angulation 10.1 deg", films(angulation_deg=10.1), "REF-F2", "L4-L5", "met", "fusion"),
)


@pytest.mark.parametrize("edge", F2)
def test_f2_dynamic_instability_thresholds(edge: Edge) -> None:
    check(edge)


# ---------------------------------------------------------------------------
# REF-D4a/b/c: 6 weeks of supervised PT, 12 weeks of care, PT within 12 months
# ---------------------------------------------------------------------------

D4 = edges(
    # 2025-06-01 plus 41 and 42 days.
    Edge("pt 41 days", care(pt("2025-06-01", "2025-07-12"), nsaids()), "REF-D4a", "L4-L5", "not_met", "none"),
    Edge("pt 42 days", care(pt("2025-06-01", "2025-07-13"), nsaids()), "REF-D4a", "L4-L5", "met", "decompression_only"),
    Edge("pt 5.9 weeks", care(pt(None, "2025-08-01", weeks=5.9), nsaids()), "REF-D4a", "L4-L5", "not_met", "none"),
    Edge("pt 6 weeks", care(pt(None, "2025-08-01", weeks=6), nsaids()), "REF-D4a", "L4-L5", "met", "decompression_only"),
    # First start to last end: 2025-06-01 plus 83 and 84 days; PT alone is 60 days.
    Edge("care span 83 days", care(pt("2025-06-01", "2025-07-31"), nsaids("2025-06-01", "2025-08-23")),
         "REF-D4b", "L4-L5", "not_met", "none"),
    Edge("care span 84 days", care(pt("2025-06-01", "2025-07-31"), nsaids("2025-06-01", "2025-08-24")),
         "REF-D4b", "L4-L5", "met", "decompression_only"),
    Edge("stated total 11.9 weeks", care(pt("2025-06-01", "2025-08-01"), nsaids(None, None), total_weeks=11.9),
         "REF-D4b", "L4-L5", "not_met", "none"),
    Edge("stated total 12 weeks", care(pt("2025-06-01", "2025-08-01"), nsaids(None, None), total_weeks=12),
         "REF-D4b", "L4-L5", "met", "decompression_only"),
    # Request 2025-12-01: PT ending 2024-12-01 ended exactly one calendar year before.
    Edge("pt ended 2024-12-01", care(pt("2024-10-01", "2024-12-01"), nsaids("2024-09-01", "2025-09-01")),
         "REF-D4c", "L4-L5", "met", "decompression_only"),
    Edge("pt ended 2024-11-30", care(pt("2024-09-30", "2024-11-30"), nsaids("2024-09-01", "2025-09-01")),
         "REF-D4c", "L4-L5", "not_met", "none"),
)


@pytest.mark.parametrize("edge", D4)
def test_d4_conservative_care_thresholds(edge: Edge) -> None:
    assert edge.data["request"]["date"] == REQUEST, f"case {edge.name!r}: request date moved from {REQUEST}"
    check(edge)


# ---------------------------------------------------------------------------
# REF-F5: Cobb at least 30 degrees across the level, SVA at least 50 mm
# ---------------------------------------------------------------------------

F5 = edges(
    Edge("cobb 29.9 deg inside", cobb(29.9, "L2-L3", "L4-L5"), "REF-F5", "L4-L5", "not_met", "decompression_only"),
    Edge("cobb 30 deg inside at lower end", cobb(30, "L2-L3", "L4-L5"), "REF-F5", "L4-L5", "met", "fusion"),
    Edge("cobb 30 deg inside at upper end", cobb(30, "L4-L5", "L5-S1"), "REF-F5", "L4-L5", "met", "fusion"),
    Edge("cobb 30 deg one level above", cobb(30, "L1-L2", "L3-L4"), "REF-F5", "L4-L5", "not_met", "decompression_only"),
    Edge("cobb 45 deg one level below", cobb(45, "L5-S1", "L5-S1"), "REF-F5", "L4-L5", "not_met", "decompression_only"),
    Edge("sva 49.9 mm", standing(sva_mm=49.9), "REF-F5", "L4-L5", "not_met", "decompression_only"),
    Edge("sva 50 mm", standing(sva_mm=50), "REF-F5", "L4-L5", "met", "fusion"),
)


@pytest.mark.parametrize("edge", F5)
def test_f5_deformity_thresholds(edge: Edge) -> None:
    check(edge)


# ---------------------------------------------------------------------------
# REF-X1: SVA greater than 25 mm, coronal imbalance greater than 50 mm
# ---------------------------------------------------------------------------

X1 = edges(
    Edge("sva 25.0 mm", pelvic(sva_mm=25.0), "REF-X1", "S1-pelvis", "not_met", "none"),
    Edge("sva 25.1 mm", pelvic(sva_mm=25.1), "REF-X1", "S1-pelvis", "met", "fusion"),
    Edge("coronal 50.0 mm", pelvic(coronal_imbalance_mm=50.0), "REF-X1", "S1-pelvis", "not_met", "none"),
    Edge("coronal 50.1 mm", pelvic(coronal_imbalance_mm=50.1), "REF-X1", "S1-pelvis", "met", "fusion"),
)


@pytest.mark.parametrize("edge", X1)
def test_x1_imbalance_thresholds(edge: Edge) -> None:
    check(edge)


# ---------------------------------------------------------------------------
# REF-F3: facets more than 50% both sides, or at least 75% of one
# ---------------------------------------------------------------------------

F3 = edges(
    Edge("facets 50/50", facets(left=50, right=50), "REF-F3", "L4-L5", "not_met", "decompression_only"),
    Edge("facets 51/51", facets(left=51, right=51), "REF-F3", "L4-L5", "met", "fusion"),
    Edge("facets 51/50", facets(left=51, right=50), "REF-F3", "L4-L5", "not_met", "decompression_only"),
    Edge("one facet 74", facets(left=74), "REF-F3", "L4-L5", "not_met", "decompression_only"),
    Edge("one facet 75", facets(right=75), "REF-F3", "L4-L5", "met", "fusion"),
    Edge("facets 74/30", facets(left=74, right=30), "REF-F3", "L4-L5", "not_met", "decompression_only"),
    Edge("facets 75/30", facets(left=75, right=30), "REF-F3", "L4-L5", "met", "fusion"),
)


@pytest.mark.parametrize("edge", F3)
def test_f3_facet_resection_thresholds(edge: Edge) -> None:
    check(edge)


# ---------------------------------------------------------------------------
# REF-A5: T-score at or below -2.5; REF-A6: SI block relief at least 75%
# ---------------------------------------------------------------------------

ITEMS = edges(
    Edge("t-score -2.4", t_score(-2.4), "REF-A5", "cement_augmentation", "not_met", "not_medically_necessary"),
    Edge("t-score -2.5", t_score(-2.5), "REF-A5", "cement_augmentation", "met", "medically_necessary"),
    Edge("t-score -2.6", t_score(-2.6), "REF-A5", "cement_augmentation", "met", "medically_necessary"),
    Edge("si block 74%", si_block(74), "REF-A6", "si_joint_fusion", "not_met", "not_medically_necessary"),
    Edge("si block 75%", si_block(75), "REF-A6", "si_joint_fusion", "met", "medically_necessary"),
)


@pytest.mark.parametrize("edge", ITEMS)
def test_item_thresholds(edge: Edge) -> None:
    check(edge)


# ---------------------------------------------------------------------------
# REF-D2: objective motor weakness, MRC 4/5 or worse
# ---------------------------------------------------------------------------

MRC = edges(
    Edge("mrc 3/5", mrc("3/5"), "REF-D2", "L4-L5", "met", "decompression_only"),
    Edge("mrc 4-/5", mrc("4-/5"), "REF-D2", "L4-L5", "met", "decompression_only"),
    Edge("mrc 4/5", mrc("4/5"), "REF-D2", "L4-L5", "met", "decompression_only"),
    Edge("mrc 4+/5", mrc("4+/5"), "REF-D2", "L4-L5", "met", "decompression_only"),
    Edge("mrc 5-/5", mrc("5-/5"), "REF-D2", "L4-L5", "not_met", "none"),
    Edge("mrc 5/5", mrc("5/5"), "REF-D2", "L4-L5", "not_met", "none"),
)


@pytest.mark.parametrize("edge", MRC)
def test_d2_motor_grade_threshold(edge: Edge) -> None:
    check(edge)
