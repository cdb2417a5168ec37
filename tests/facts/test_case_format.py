"""What a radiology report or a surgeon's request says can be written as it is said.

Issue 11, defect 8: stenosis with no zone could not be written; Cobb end
vertebrae (T12 to L4) had to be turned into motion segments by hand; "no
instability on flexion-extension films" had no field; `fusion: TLIF` was
refused with "Input should be an object"; an unknown key got no did-you-mean.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from casebuilder import baseline, case_from, decide, merge
from engine.cli import main
from facts import CaseFileError, case_atoms


def atoms(data: dict) -> set[str]:
    return {str(a) for a in case_atoms(case_from(data))}


def test_stenosis_without_a_zone():
    data = merge(baseline(), {"imaging": [{"study": "mri", "date": "2025-10-01",
                                           "levels": [{"level": "L4-L5", "stenosis": [{"grade": "severe"}]}]}]})
    assert 'stenosis("L4-L5",unspecified,unspecified,severe,1)' in atoms(data)
    decision = decide(data)
    d1 = next(c for c in decision.level("L4-L5").criteria if c.id == "REF-D1")
    assert d1.status == "met" and [e.text for e in d1.evidence] == ["L4-L5 severe stenosis (MRI 2025-10-01)"]


def test_a_curve_given_by_its_end_vertebrae():
    curve = {"angle_deg": 34, "upper_vertebra": "T12", "lower_vertebra": "L4"}
    data = merge(baseline(), {
        "request": {"levels": [{"level": "L3-L4", "fusion": True}, {"level": "L4-L5", "fusion": True}]},
        "imaging": [baseline()["imaging"][0], {"study": "standing_full_length", "date": "2025-10-01",
                                                "alignment": {"cobb": [curve]}}],
    })
    inside = {a for a in atoms(data) if a.startswith("cobb_curve_level(")}
    assert inside == {f'cobb_curve_level(1,"{lv}")' for lv in ("T12-L1", "L1-L2", "L2-L3", "L3-L4")}
    decision = decide(data)
    f5 = {lv.level: next(c.status for c in lv.criteria if c.id == "REF-F5") for lv in decision.levels}
    assert f5 == {"L3-L4": "met", "L4-L5": "not_met"}  # L4-L5 lies below the curve's lower end vertebra


@pytest.mark.parametrize("curve,message", [
    ({"angle_deg": 34, "upper_vertebra": "T12"}, "give both upper_vertebra and lower_vertebra"),
    ({"angle_deg": 34, "upper_vertebra": "L4", "lower_vertebra": "T12"}, "swap them"),
    ({"angle_deg": 34, "upper_vertebra": "T12", "lower_vertebra": "L4", "upper_level": "T12-L1"}, "not both"),
    ({"angle_deg": 34}, "give the curve's extent"),
    ({"angle_deg": 34, "upper_vertebra": "Q7", "lower_vertebra": "L4"}, "unknown vertebra 'Q7'"),
])
def test_a_curve_without_a_clear_extent_is_refused_with_the_fix(curve, message):
    data = merge(baseline(), {"imaging": [{"study": "standing_full_length", "alignment": {"cobb": [curve]}}]})
    with pytest.raises(CaseFileError) as err:
        case_from(data)
    assert message in err.value.render()


def test_no_instability_on_flexion_extension_films():
    data = merge(baseline(), {"imaging": [baseline()["imaging"][0], {
        "study": "flexion_extension_xray", "date": "2025-10-02",
        "levels": [{"level": "L4-L5", "dynamic_instability": False}]}]})
    assert 'level_finding("L4-L5",dynamic_instability,no,2)' in atoms(data)
    f2 = next(c for c in decide(data).level("L4-L5").criteria if c.id == "REF-F2")
    assert f2.status == "not_met"
    assert [e.text for e in f2.evidence] == [
        "L4-L5 no instability on films in two positions (flexion-extension x-ray 2025-10-02)"]


@pytest.mark.parametrize("fusion,approaches", [
    ("TLIF", {"tlif"}), (["XLIF", "posterolateral"], {"llif", "posterolateral"}), ("alif", {"alif"}),
])
def test_fusion_written_as_its_approach(fusion, approaches):
    data = merge(baseline(), {"request": {"levels": [{"level": "L4-L5", "decompression": True, "fusion": fusion}]}})
    got = {a.split(",")[1].rstrip(")") for a in atoms(data) if a.startswith("fusion_approach(")}
    assert got == approaches


def test_an_unknown_approach_names_the_closest(tmp_path):
    data = merge(baseline(), {"request": {"levels": [{"level": "L4-L5", "fusion": "TLIFF"}]}})
    with pytest.raises(CaseFileError) as err:
        case_from(data)
    assert "did you mean 'tlif'?" in err.value.render()


@pytest.mark.parametrize("where,key,suggestion", [
    ("imaging.0.levels.0", "spondylolisthsis", "spondylolisthesis"),
    ("clinical", "radiculopaty", "radiculopathy"),
    ("request", "setings", "setting"),
])
def test_an_unknown_key_gets_a_did_you_mean(tmp_path, where, key, suggestion):
    data = baseline()
    node = data
    for part in where.split("."):
        node = node[int(part)] if part.isdigit() else node[part]
    node[key] = True
    path = tmp_path / "case.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = CliRunner().invoke(main, ["explain", str(path)])
    assert result.exit_code == 2
    assert f"'{key}' is not a field here: did you mean '{suggestion}'?" in result.stderr
    assert "Traceback" not in result.output


def test_empty_care_with_a_stated_total_is_refused():
    data = merge(baseline(), {"conservative_care": {"episodes": [], "total_weeks": 12}})
    with pytest.raises(CaseFileError) as err:
        case_from(data)
    assert "episodes: [] says no nonoperative care was given" in err.value.render()


@pytest.mark.parametrize("where", ["case", "imaging.0.alignment.descriptions.0", "request.levels.0.note"])
def test_a_record_built_without_the_reader_holds_no_control_character(where):
    # a FHIR bundle or any caller of the model gets the same refusal as a case file
    from pydantic import ValidationError

    from facts.model import Case

    data = merge(baseline(), {"imaging": [{"study": "xray", "alignment": {"descriptions": ["fine"]}}]})
    node, *path = where.split(".")
    parent, key = data, node
    for part in path:
        parent = parent[key] if not isinstance(key, int) else parent[key]
        key = int(part) if part.isdigit() else part
    parent[key] = "walk\u0000ing"
    with pytest.raises(ValidationError) as err:
        Case.model_validate(data)
    assert "U+0000 (a control character) is not allowed in text" in str(err.value)
