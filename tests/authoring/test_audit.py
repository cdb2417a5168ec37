"""`necessity audit-examples`: the examples' recorded assessments against the reference policy.

source-000 is the known difference: the assessment found the whole ALIF
construct indicated, while the reference policy finds no fusion criterion met
(REF-F1..F5) at L3-L4, L4-L5 and L5-S1, so the interbody devices and the
inpatient stay fall too.  The four others agree.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from engine.cli import main
from facts import CaseFileError, case_atoms, load_case, parse_case
from facts.schema import walk

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
KITCHEN_SINK = ROOT / "tests" / "data" / "kitchen-sink.yaml"
FUSION_LEVELS = ("L3-L4", "L4-L5", "L5-S1")
FUSION_CRITERIA = {"REF-F1", "REF-F2", "REF-F3", "REF-F4", "REF-F5"}


def run(*args: str):
    return CliRunner().invoke(main, ["audit-examples", *args])


@lru_cache(maxsize=None)
def audit_json(*args: str) -> dict:
    result = run(*args, "--format", "json")
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def entry(case: str) -> dict:
    return next(e for e in audit_json()["examples"] if e["case"] == case)


def compared(case: str) -> dict[str, dict]:
    return {c["subject"]: c for c in entry(case)["compared"]}


def alternatives(would_change: list[dict]) -> set[tuple[str, str, tuple[str, ...]]]:
    """Every set of criteria the JSON what-if lines stand for, as (kind, determination, ids)."""
    out = set()
    for w in would_change:
        base = [r["id"] for r in w["requires_at"]]
        for choice in w.get("one_of") or [None]:
            ids = base + ([choice["id"]] if choice else [])
            out.add((w["kind"], w["determination"], tuple(sorted(set(ids)))))
    return out


def example_with(tmp_path: Path, name: str, assessment: dict | None, **changes) -> Path:
    """An example's data with its assessment replaced (None: removed), written to tmp_path."""
    data = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text(encoding="utf-8"))
    data.pop("assessment", None)
    if assessment is not None:
        data["assessment"] = assessment
    data.update(changes)
    path = tmp_path / f"{data['case']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------
# The five examples
# ---------------------------------------------------------------------------


def test_every_example_records_an_assessment():
    cases = [load_case(p) for p in sorted(EXAMPLES.glob("*.yaml"))]
    assert len(cases) == 5
    for case in cases:
        assert case.assessment is not None, case.case
        assert case.assessment.source.startswith("shared/sources/")
        assert case.assessment.outcome is not None


@pytest.mark.parametrize("level", FUSION_LEVELS)
def test_source_000_fusion_levels_differ_for_want_of_a_fusion_criterion(level):
    c = compared("source-000")[level]
    assert (c["assessment"], c["engine"], c["agrees"], c["direction"]) == ("fusion", "decompression_only", False, "lower")
    statuses = {x["id"]: x["status"] for x in c["criteria"]}
    assert set(statuses) == FUSION_CRITERIA
    assert set(statuses.values()) <= {"not_met", "not_documented"}
    assert statuses["REF-F2"] == "not_documented"  # no flexion-extension films
    assert statuses["REF-F1"] == "not_met"  # spondylolisthesis documented absent
    for x in c["criteria"]:
        if x["status"] == "not_documented":
            assert x["documentation"]
        else:
            assert x["evidence"], x["id"]
    # documenting any one fusion criterion the record is silent on would give the assessment's fusion;
    # the ones a documented finding refutes are reported apart, never as documentation to obtain
    silent = {cid for cid, st in statuses.items() if st == "not_documented"}
    assert alternatives(c["would_change"]) == (
        {("documentation", "fusion", (cid,)) for cid in silent}
        | {("contradicted", "fusion", (cid,)) for cid in FUSION_CRITERIA - silent})


def test_source_000_items_and_outcome_differ_too():
    subjects = compared("source-000")
    assert subjects["L2-L3"]["agrees"] and subjects["L2-L3"]["engine"] == "decompression_only"
    for level in FUSION_LEVELS:
        device = subjects[f"interbody_device@{level}"]
        assert (device["assessment"], device["engine"], device["direction"]) == (
            "medically_necessary", "not_medically_necessary", "lower")
        assert [(x["id"], x["status"]) for x in device["criteria"]] == [("REF-A4", "not_met")]
        assert all({f"REF-F{i}" for i in range(1, 6)} & set(ids) for _, _, ids in alternatives(device["would_change"]))
    stay = subjects["inpatient_setting"]
    assert (stay["assessment"], stay["engine"], stay["direction"]) == ("medically_necessary", "not_medically_necessary", "lower")
    assert [(x["id"], x["status"]) for x in stay["criteria"]] == [("REF-S1", "not_met")]
    outcome = subjects["outcome"]
    assert (outcome["assessment"], outcome["engine"], outcome["direction"]) == ("approved", "partially_approved", "lower")
    assert outcome["because"] == [*FUSION_LEVELS, *(f"interbody_device@{lv}" for lv in FUSION_LEVELS), "inpatient_setting"]
    assert entry("source-000")["differences"] == 8


@pytest.mark.parametrize("case", ["source-001", "source-002", "source-003", "source-004"])
def test_the_other_examples_agree(case):
    e = entry(case)
    assert e["agrees"] and e["differences"] == 0, [c for c in e["compared"] if not c["agrees"]]
    assert all(c["agrees"] for c in e["compared"])
    assert e["not_recorded"] == []


def test_recorded_verdicts_of_the_others():
    assert {s: c["assessment"] for s, c in compared("source-002").items()} == {
        "L5-S1": "fusion", "bone_marrow_aspirate": "not_medically_necessary", "rhbmp2": "medically_necessary",
        "allograft": "medically_necessary", "interbody_device@L5-S1": "medically_necessary",
        "cement_augmentation": "not_medically_necessary", "outcome": "partially_approved",
    }
    assert compared("source-004")["si_joint_fusion"]["assessment"] == "not_medically_necessary"
    for case in ("source-001", "source-003", "source-004"):
        verdicts = compared(case)
        assert verdicts["outcome"]["assessment"] == "denied"
        assert {c["assessment"] for c in verdicts.values() if c["kind"] == "level"} == {"none"}


def test_summary():
    assert audit_json()["summary"] == {"examples": 5, "audited": 5, "skipped": 0, "differing": 1, "differences": 8}


# ---------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------


def test_exit_1_when_anything_differs():
    result = run()
    assert result.exit_code == 1, result.output
    assert "5 examples audited, 1 differs (8 differences)" in result.stdout


def test_exit_0_when_all_agree():
    result = run(str(EXAMPLES / "source-001.yaml"), str(EXAMPLES / "source-003.yaml"))
    assert result.exit_code == 0, result.output
    assert "2 examples audited, 0 differ (0 differences)" in result.stdout


def test_text_output():
    out = run().stdout
    block = out[out.index("source-000  "): out.index("source-001  ")]
    assert "✓ agrees: L2-L3 decompression_only" in block
    assert "✗ L3-L4: assessment fusion, reference decompression_only" in block
    assert "? REF-F2 not documented: Dynamic instability" in block
    assert "- the record does not document an imaging finding on dynamic instability at the level" in block
    assert "✗ REF-F1 not met: Spondylolisthesis at the level" in block
    assert "- L3-L4 no spondylolisthesis (MRI, study date not documented)" in block
    assert "documentation to obtain:" in block and "→ fusion: one of REF-F2, REF-F3, REF-F5" in block
    assert "findings the record contradicts" in block and "→ fusion: one of ✗ REF-F1, ✗ REF-F4" in block
    assert "✗ inpatient_setting: assessment medically_necessary, reference not_medically_necessary" in block
    assert "✗ outcome: assessment approved, reference partially_approved" in block
    # agreement is condensed to one line per example
    assert ("✓ agrees: T12-L1, L1-L2, L2-L3, L3-L4, L4-L5, L5-S1, S1-pelvis none; "
            "si_joint_fusion not_medically_necessary; outcome denied") in out
    assert out.count("✓ agrees:") == 5
    assert "\x1b[" not in out


def test_folder_argument_is_every_file_in_it():
    assert audit_json(str(EXAMPLES))["summary"] == audit_json()["summary"]


def test_json_shape():
    doc = audit_json()
    assert list(doc) == ["policy", "examples", "summary"]
    assert list(doc["policy"]) == ["id", "version", "effective"] and doc["policy"]["id"] == "reference"
    assert list(doc["summary"]) == ["examples", "audited", "skipped", "differing", "differences"]
    for e in doc["examples"]:
        assert list(e) == ["file", "case", "source", "agrees", "differences", "compared", "not_recorded"]
        assert e["file"].endswith(f"{e['case']}.yaml")
        for c in e["compared"]:
            base = ["subject", "kind", "assessment", "engine", "agrees"]
            if c["agrees"]:
                assert list(c) == base
            elif c["kind"] == "outcome":
                assert list(c) == [*base, "direction", "because"]
            else:
                assert list(c) == [*base, "direction", "criteria", "would_change"]
            assert c["kind"] in ("level", "item", "outcome")
    # criteria and would_change entries are those of `necessity explain --format json`
    explained = json.loads(CliRunner().invoke(main, ["explain", str(EXAMPLES / "source-000.yaml"), "--format", "json"]).stdout)
    level = next(lv for lv in explained["levels"] if lv["level"] == "L4-L5")
    c = compared("source-000")["L4-L5"]
    assert c["criteria"] == [x for x in level["criteria"] if x["status"] != "met"]
    assert c["would_change"] == level["would_change"]


def test_json_is_stable():
    first = run("--format", "json").stdout
    assert run("--format", "json").stdout == first


def test_example_without_assessment_is_skipped_with_a_note(tmp_path):
    bare = example_with(tmp_path, "source-003", None, case="no-verdict")
    result = run(str(bare), str(EXAMPLES / "source-001.yaml"))
    assert result.exit_code == 0, result.output
    assert "no-verdict" in result.stdout and "skipped: the file records no assessment" in result.stdout
    assert "1 example audited, 0 differ (0 differences), 1 skipped" in result.stdout
    doc = json.loads(run(str(bare), str(EXAMPLES / "source-001.yaml"), "--format", "json").stdout)
    skipped = doc["examples"][0]
    assert list(skipped) == ["file", "case", "skipped"] and skipped["case"] == "no-verdict"
    assert doc["summary"]["skipped"] == 1 and doc["summary"]["audited"] == 1


def test_nothing_to_audit_is_bad_input():
    result = run(str(KITCHEN_SINK))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "nothing to audit" in result.stderr


@pytest.mark.parametrize("args", [["no-such-file.yaml"], ["--policy", "no-such-policy"]])
def test_bad_arguments_exit_2(args):
    result = run(*args)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("error: ")


def test_a_bad_case_file_stops_the_audit(tmp_path):
    bad = example_with(tmp_path, "source-001", {"source": "x", "levels": {"L5-S1": "fused"}})
    result = run(str(EXAMPLES / "source-002.yaml"), str(bad))
    assert result.exit_code == 2 and result.stdout == ""
    assert "assessment.levels.L5-S1" in result.stderr


def test_engine_granting_more_lists_the_criteria_met(tmp_path):
    path = example_with(tmp_path, "source-002", {
        "source": "a stricter reviewer", "levels": {"L5-S1": "decompression_only"},
        "items": {"rhbmp2": "not_medically_necessary"}, "outcome": "partially_approved",
    })
    doc = json.loads(run(str(path), "--format", "json").stdout)
    subjects = {c["subject"]: c for c in doc["examples"][0]["compared"]}
    level = subjects["L5-S1"]
    assert (level["engine"], level["direction"]) == ("fusion", "higher")
    assert {x["status"] for x in level["criteria"]} == {"met"}
    assert "REF-F4" in {x["id"] for x in level["criteria"]}
    assert level["would_change"] == []
    assert subjects["rhbmp2"]["direction"] == "higher"
    assert [x["id"] for x in subjects["rhbmp2"]["criteria"]] == ["REF-A2"]
    assert subjects["outcome"]["agrees"]
    assert doc["examples"][0]["not_recorded"] == ["bone_marrow_aspirate", "allograft", "interbody_device@L5-S1",
                                                  "cement_augmentation"]


def test_lower_by_two_tiers_keeps_the_smallest_sets_reaching_the_verdict(tmp_path):
    # source-003 has every level none for want of REF-D4a; an assessment of decompression_only at L2-L3
    # is reached by documenting REF-D4a alone, and the larger sets reaching fusion are left out.
    path = example_with(tmp_path, "source-003", {"source": "x", "levels": {"L2-L3": "decompression_only"}})
    doc = json.loads(run(str(path), "--format", "json").stdout)
    level = doc["examples"][0]["compared"][0]
    assert (level["subject"], level["engine"], level["direction"]) == ("L2-L3", "none", "lower")
    assert alternatives(level["would_change"]) == {("documentation", "decompression_only", ("REF-D4a",))}
    assert "REF-D4a" in {x["id"] for x in level["criteria"]}


def test_help_ends_with_examples():
    result = CliRunner().invoke(main, ["audit-examples", "--help"])
    assert result.exit_code == 0
    usage = result.stdout.split("Options:")[0].rstrip().splitlines()
    assert usage[-1].strip().startswith("necessity audit-examples")
    assert any(line.strip() == "Examples:" for line in usage)


# ---------------------------------------------------------------------------
# The case model's `assessment`
# ---------------------------------------------------------------------------

CASE = """\
case: t
request:
  setting: inpatient
  levels:
    - {level: L4-L5, decompression: laminectomy, fusion: true}
  items:
    - {item: interbody_device, level: L4-L5}
    - {item: allograft}
"""


def test_assessment_keys_are_normalised():
    case = parse_case(CASE + """\
assessment:
  source: s.txt
  levels: {l4–l5: fusion}
  items: {interbody_device@l4-l5: medically_necessary, allograft: medically_necessary, inpatient_setting: medically_necessary}
  outcome: approved
""", "t.yaml")
    assert case.assessment.levels == {"L4-L5": "fusion"}
    assert set(case.assessment.items) == {"interbody_device@L4-L5", "allograft", "inpatient_setting"}
    hash(case)  # a frozen case still hashes with the mappings in it


@pytest.mark.parametrize("assessment, message", [
    ("{source: s, levels: {L4-L6: fusion}}", "assessment.levels.L4-L6: unknown spinal level 'L4-L6'"),
    ("{source: s, levels: {L4-L5: fused}}", "assessment.levels.L4-L5: Input should be 'fusion', 'decompression_only' or 'none'"),
    ("{source: s, levels: {L5-S1: none}}", "assessment: levels: L5-S1 is not a requested level (the request names L4-L5)"),
    ("{source: s, items: {cage: medically_necessary}}", "assessment.items.cage: unknown item 'cage'"),
    ("{source: s, items: {allograft@L4-L5: medically_necessary}}", "assessment: items: allograft@L4-L5 is not a requested item"),
    ("{source: s, items: {interbody_device: medically_necessary}}", "assessment: items: interbody_device is not a requested item"),
    ("{source: s, items: {inpatient_setting@L4-L5: medically_necessary}}", "inpatient_setting is for the whole case"),
    ("{source: s, items: {allograft: approved}}", "Input should be 'medically_necessary' or 'not_medically_necessary'"),
    ("{source: s, outcome: yes}", "assessment.outcome: yes means true to YAML 1.1 and is text to YAML 1.2"),
    ("{source: s, outcome: approve}", "assessment.outcome: Input should be 'approved', 'partially_approved' or 'denied'"),
    ("{levels: {L4-L5: fusion}}", "assessment.source: this field is required"),
    ("{source: s, verdict: approved}", "assessment.verdict: 'verdict' is not a field here"),
])
def test_bad_assessments_are_refused_clearly(assessment, message):
    with pytest.raises(CaseFileError) as err:
        parse_case(CASE + f"assessment: {assessment}\n", "t.yaml")
    assert message in err.value.render()


def test_inpatient_setting_needs_an_inpatient_request():
    with pytest.raises(CaseFileError) as err:
        parse_case(CASE.replace("setting: inpatient", "setting: outpatient")
                   + "assessment: {source: s, items: {inpatient_setting: medically_necessary}}\n", "t.yaml")
    assert "set request.setting: inpatient" in err.value.render()


def test_assessment_is_never_emitted():
    rows = [(path, emits) for path, _, emits in walk() if path.startswith("assessment")]
    assert rows and all(emits in (None, []) for _, emits in rows)
    with_verdict = load_case(EXAMPLES / "source-000.yaml")
    without = with_verdict.model_copy(update={"assessment": None})
    assert case_atoms(with_verdict) == case_atoms(without)


def test_a_lower_verdict_names_only_the_criteria_in_its_way(tmp_path):
    """source-003 judged fusion at L4-L5: REF-F1 and REF-F4 are met there, so only REF-D4a stands
    in the way; the audit listed every failing criterion, REF-F2, F3 and F5 too, as the cause."""
    path = example_with(tmp_path, "source-003", {"source": "a reviewer", "levels": {"L4-L5": "fusion"}})
    data = audit_json(str(path))
    l45 = next(c for c in data["examples"][0]["compared"] if c["subject"] == "L4-L5")
    assert l45["direction"] == "lower"
    assert [c["id"] for c in l45["criteria"]] == ["REF-D4a"], l45["criteria"]
