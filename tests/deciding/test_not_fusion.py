"""What does NOT justify fusion (shared/criteria/reference.md, Fusion at a level).

"Stenosis alone at any grade, multilevel stenosis, facet arthropathy, Modic
change, disc height loss, disc bulge, prior surgery at a different level, and
instability at another level.  Each level is judged on its own findings."

Every scenario requests decompression and fusion at L4-L5 on a record that
meets every case-level criterion (casebuilder.baseline) and documents
moderate-or-worse stenosis there, so decompression is justified; the finding
under test must leave L4-L5 at ``decompression_only``, with no fusion criterion
(REF-F1 to REF-F5) met there.  Where another level carries its own fusion
finding and is requested too, it is fused: the finding does count, only not
across levels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from casebuilder import baseline, decide, merge, status

FUSION_CRITERIA = ("REF-F1", "REF-F2", "REF-F3", "REF-F4", "REF-F5")
TESTED = "L4-L5"
BOTH = {"decompression": "laminectomy", "fusion": {"approaches": ["tlif"]}}
MODERATE = [{"zone": "central", "grade": "moderate"}]
SEVERE = [{"zone": "central", "grade": "severe"}]


@dataclass(frozen=True)
class Scenario:
    name: str
    data: dict[str, Any]
    #: Determinations expected at other requested levels (L4-L5 is always decompression_only).
    others: dict[str, str] = field(default_factory=dict)


def scenarios(*rows: Scenario) -> list[Any]:
    return [pytest.param(s, id=s.name) for s in rows]


def record(*scan_levels: dict[str, Any], requested: tuple[str, ...] = (TESTED,), scan: str = "mri",
           studies: tuple[dict[str, Any], ...] = (), prior: tuple[dict[str, Any], ...] = (),
           levels: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The baseline with this scan (MRI unless given), extra studies, prior surgeries and requested levels."""
    data = merge(baseline(), {"request": {"levels": levels or [{"level": lv, **BOTH} for lv in requested]}})
    data["imaging"] = [{"study": scan, "date": "2025-10-01", "levels": list(scan_levels)}, *studies]
    data["history"] = {"prior_surgeries": list(prior)}
    return data


def at(level: str, stenosis: list[dict[str, Any]] | None = None, **findings: Any) -> dict[str, Any]:
    return {"level": level, "stenosis": MODERATE if stenosis is None else stenosis, **findings}


def films(*levels: dict[str, Any]) -> dict[str, Any]:
    return {"study": "flexion_extension_xray", "date": "2025-10-15", "levels": list(levels)}


def check(scenario: Scenario) -> None:
    decision = decide(scenario.data)
    expected = {TESTED: "decompression_only", **scenario.others}
    actual = {lv: decision.level(lv).determination for lv in expected}
    fusion_status = {}
    for cid in FUSION_CRITERIA:
        try:
            fusion_status[cid] = status(decision, cid, TESTED)
        except KeyError:
            fusion_status[cid] = "not reported"
    met_at_tested = [cid for cid, st in fusion_status.items() if st == "met"]
    assert actual == expected and not met_at_tested, (
        f"case {scenario.name!r}\n  expected: {expected}, no fusion criterion met at {TESTED}\n"
        f"  actual:   {actual}\n  fusion criteria at {TESTED}: "
        + ", ".join(f"{k}={v}" for k, v in fusion_status.items())
    )


# ---------------------------------------------------------------------------
# Stenosis alone, at any grade, in any zone; and stenosis at many levels
# ---------------------------------------------------------------------------

GRADES = ("moderate", "moderate_to_severe", "severe")
ZONES = ({"zone": "central"}, {"zone": "lateral_recess", "side": "bilateral"}, {"zone": "foraminal", "side": "left"})

STENOSIS_ALONE = scenarios(
    *(Scenario(f"{grade}-{zone['zone']}", record(at(TESTED, [{**zone, "grade": grade}])))
      for grade in GRADES for zone in ZONES),
    Scenario("severe-in-every-zone", record(at(TESTED, [{**z, "grade": "severe"} for z in ZONES]))),
    Scenario("severe-on-ct-myelogram", record(at(TESTED, SEVERE), scan="ct_myelogram")),
)

MULTILEVEL = ("L2-L3", "L3-L4", "L4-L5", "L5-S1")
MULTILEVEL_STENOSIS = scenarios(
    Scenario("severe-at-four-levels-all-requested",
             record(*(at(lv, SEVERE) for lv in MULTILEVEL), requested=MULTILEVEL),
             others={lv: "decompression_only" for lv in MULTILEVEL if lv != TESTED}),
    Scenario("severe-at-four-levels-one-requested", record(*(at(lv, SEVERE) for lv in MULTILEVEL))),
    Scenario("tandem-moderate-to-severe-two-levels",
             record(at("L3-L4", [{"zone": "central", "grade": "moderate_to_severe"}]),
                    at(TESTED, [{"zone": "central", "grade": "moderate_to_severe"}]), requested=("L3-L4", TESTED)),
             others={"L3-L4": "decompression_only"}),
)


@pytest.mark.parametrize("scenario", STENOSIS_ALONE)
def test_stenosis_alone_does_not_justify_fusion(scenario: Scenario) -> None:
    check(scenario)


@pytest.mark.parametrize("scenario", MULTILEVEL_STENOSIS)
def test_multilevel_stenosis_does_not_justify_fusion(scenario: Scenario) -> None:
    check(scenario)


# ---------------------------------------------------------------------------
# Degenerative findings at the level
# ---------------------------------------------------------------------------

DEGENERATIVE = scenarios(
    Scenario("facet-arthropathy", record(at(TESTED, facet_arthropathy=True))),
    Scenario("modic-type-1", record(at(TESTED, modic_change={"present": True, "type": 1}))),
    Scenario("modic-type-2", record(at(TESTED, modic_change={"present": True, "type": 2}))),
    Scenario("modic-type-3", record(at(TESTED, modic_change={"present": True, "type": 3}))),
    Scenario("modic-untyped", record(at(TESTED, modic_change={"present": True}))),
    Scenario("disc-height-loss", record(at(TESTED, disc_height_loss=True))),
    Scenario("disc-bulge", record(at(TESTED, disc_bulge=True))),
    Scenario("all-of-them-with-severe-stenosis",
             record(at(TESTED, SEVERE, facet_arthropathy=True, modic_change={"present": True, "type": 1},
                       disc_height_loss=True, disc_bulge=True))),
)


@pytest.mark.parametrize("scenario", DEGENERATIVE)
def test_degenerative_findings_do_not_justify_fusion(scenario: Scenario) -> None:
    check(scenario)


# ---------------------------------------------------------------------------
# Prior surgery at a different level
# ---------------------------------------------------------------------------

PRIOR_SURGERY = scenarios(
    Scenario("prior-laminectomy-one-level-up",
             record(at("L3-L4"), at(TESTED), prior=({"type": "laminectomy", "level": "L3-L4", "date": "2019-05"},))),
    Scenario("prior-fusion-one-level-down",
             record(at(TESTED), at("L5-S1", [{"zone": "central", "grade": "none"}]),
                    prior=({"type": "fusion", "level": "L5-S1"},))),
    Scenario("prior-cervical-fusion", record(at(TESTED), prior=({"type": "fusion", "region": "cervical"},))),
    Scenario("revision-fused-next-door",
             record(at("L3-L4"), at(TESTED), requested=("L3-L4", TESTED),
                    prior=({"type": "laminectomy", "level": "L3-L4"},)),
             others={"L3-L4": "fusion"}),
)


@pytest.mark.parametrize("scenario", PRIOR_SURGERY)
def test_prior_surgery_at_another_level_does_not_justify_fusion(scenario: Scenario) -> None:
    check(scenario)


# ---------------------------------------------------------------------------
# Instability (and deformity) at another level
# ---------------------------------------------------------------------------

INSTABILITY_ELSEWHERE = scenarios(
    Scenario("translation-5mm-one-level-up", record(at(TESTED), studies=(films({"level": "L3-L4", "translation_mm": 5.0}),))),
    Scenario("angulation-15deg-one-level-down",
             record(at(TESTED), studies=(films({"level": "L5-S1", "angulation_deg": 15.0}),))),
    Scenario("translation-5mm-elsewhere-stable-here",
             record(at(TESTED), studies=(films({"level": "L3-L4", "translation_mm": 5.0},
                                               {"level": TESTED, "translation_mm": 1.0, "angulation_deg": 3.0}),))),
    Scenario("spondylolisthesis-one-level-down",
             record(at(TESTED), at("L5-S1", spondylolisthesis={"present": True, "type": "isthmic"}))),
    Scenario("spondylolisthesis-next-door-fused",
             record(at(TESTED), at("L5-S1", spondylolisthesis={"present": True}), requested=(TESTED, "L5-S1")),
             others={"L5-S1": "fusion"}),
    Scenario("translation-5mm-next-door-fused",
             record(at("L3-L4"), at(TESTED), requested=("L3-L4", TESTED),
                    studies=(films({"level": "L3-L4", "translation_mm": 5.0}),)),
             others={"L3-L4": "fusion"}),
    Scenario("pars-resection-planned-next-door",
             record(at("L3-L4"), at(TESTED), levels=[
                 {"level": "L3-L4", "decompression": {"technique": "laminectomy", "pars_resection": True},
                  "fusion": {"approaches": ["tlif"]}},
                 {"level": TESTED, **BOTH}]),
             others={"L3-L4": "fusion"}),
    Scenario("cobb-40-curve-ending-above",
             record(at(TESTED), studies=({"study": "standing_full_length", "alignment": {
                 "cobb": [{"angle_deg": 40, "upper_level": "T12-L1", "lower_level": "L3-L4"}]}},))),
)


@pytest.mark.parametrize("scenario", INSTABILITY_ELSEWHERE)
def test_instability_at_another_level_does_not_justify_fusion(scenario: Scenario) -> None:
    check(scenario)
