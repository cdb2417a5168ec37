"""Plausible records only (issue 20, point 6): a study carries only what its kind of study can show, and a
prior operation lies in the region its level belongs to.  The tables are facts/plausible.py's; every
refusal names the field, its line, and how to fix it (exit 2, no traceback)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from casebuilder import baseline, case_from, merge
from engine.cli import main
from facts import CaseFileError
from facts.model import Alignment, LevelFindings
from facts.plausible import LEVEL_REGIONS, MEASURES, plausibility
from facts.terms import SPINAL_LEVELS, Region, StudyType

ROOT = Path(__file__).resolve().parents[2]

#: A value each restricted field may take.
VALUES = {
    "stenosis": [{"zone": "central", "grade": "moderate"}], "disc_herniation": True, "disc_bulge": False,
    "modic_change": {"present": True, "type": 1}, "translation_mm": 4, "angulation_deg": 12,
    "dynamic_instability": False, "cobb": [{"angle_deg": 35, "upper_level": "L2-L3", "lower_level": "L4-L5"}],
    "sva_mm": 50, "pi_ll_mismatch_deg": 12, "coronal_imbalance_mm": 30,
}


def _with_study(kind: str, section: str, field: str) -> dict:
    study: dict = {"study": kind, "date": "2025-10-01"}
    if section == "levels":
        study["levels"] = [{"level": "L4-L5", field: VALUES[field]}]
    else:
        study["alignment"] = {field: VALUES[field]}
    return merge(baseline(), {"imaging": [baseline()["imaging"][0], study]})


def test_sva_measured_on_mri_is_refused_at_its_field(tmp_path: Path):
    """The reproduction: "SVA 50 mm on MRI" was accepted, and REF-F5 met on it."""
    path = tmp_path / "sva-on-mri.yaml"
    path.write_text("case: sva-on-mri\nrequest:\n  levels:\n    - {level: L4-L5, fusion: true}\n"
                    "imaging:\n  - study: mri\n    alignment:\n      sva_mm: 50\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["explain", str(path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert (f"{path}:8: imaging[0].alignment.sva_mm: a sagittal vertical axis cannot be read on mri: it is read on "
            "xray or standing_full_length; give it under the study it was read on, or correct the study type"
            ) in result.output


@pytest.mark.parametrize("measure", MEASURES, ids=lambda m: m.field)
def test_each_measurement_is_refused_on_a_study_that_cannot_show_it_and_read_on_one_that_can(measure):
    fields = LevelFindings.model_fields if measure.section == "levels" else Alignment.model_fields
    assert measure.field in fields
    for kind in StudyType:
        data = _with_study(kind.value, measure.section, measure.field)
        if kind in measure.studies:
            case_from(data)
            continue
        with pytest.raises(CaseFileError) as refused:
            case_from(data)
        where = "levels[0]." if measure.section == "levels" else "alignment."
        assert [p.path for p in refused.value.problems] == [f"imaging[1].{where}{measure.field}"]
        assert f"cannot be read on {kind.value}" in refused.value.problems[0].message


def test_a_thoracic_laminectomy_at_l4_l5_is_refused():
    """The reproduction: the case model took it, and REF-A2 read it as a prior laminectomy at L4-L5."""
    data = merge(baseline(), {"history": {"prior_surgeries": [
        {"type": "laminectomy", "region": "thoracic", "level": "L4-L5"}]}})
    with pytest.raises(CaseFileError) as refused:
        case_from(data)
    [problem] = refused.value.problems
    assert problem.path == "history.prior_surgeries[0].level"
    assert problem.message.startswith("L4-L5 lies in the lumbar spine, not the thoracic: correct the region or the level")


@pytest.mark.parametrize("level", SPINAL_LEVELS)
def test_every_level_takes_an_operation_of_its_own_regions_only(level):
    for region in Region:
        data = merge(baseline(), {"history": {"prior_surgeries": [
            {"type": "laminectomy", "region": region.value, "level": level}]}})
        if region in LEVEL_REGIONS[level]:
            case_from(data)
        else:
            with pytest.raises(CaseFileError):
                case_from(data)


def test_the_tables_cover_the_vocabulary_and_reach_the_space_as_facts():
    assert tuple(LEVEL_REGIONS) == SPINAL_LEVELS
    assert all(not any(r is Region.cervical for r in rs) for rs in LEVEL_REGIONS.values())
    facts = {str(f) for f in plausibility()}
    assert "measured_on(sva_mm,standing_full_length)" in facts and "measured_on(sva_mm,mri)" not in facts
    assert 'level_region("T12-L1",thoracic)' in facts and 'level_region("L4-L5",thoracic)' not in facts


def _records() -> list[tuple[str, dict]]:
    out = []
    for path in sorted([*ROOT.glob("examples/*.yaml"), *ROOT.glob("policies/*/tests/*.yaml"),
                        *ROOT.glob("tests/data/*.yaml"), *ROOT.glob("tests/data/*/tests/*.yaml")]):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        out.append((str(path.relative_to(ROOT)), data.get("record", data)))
    return out


def test_every_example_golden_and_test_record_is_plausible():
    for name, record in _records():
        case_from(json.loads(json.dumps(record, default=str)))  # raises, naming the record's field


def test_the_generated_library_is_plausible():
    import sys

    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import generate
    finally:
        sys.path.remove(str(ROOT / "bench"))
    generate.validate(generate.case_records(2000, 2026))
