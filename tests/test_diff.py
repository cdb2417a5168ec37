"""necessity diff: the solver finds the known disagreements, and every witness holds up in explain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.diff import diff
from engine.policy import load, shipped_policies
from facts import load_case


@pytest.fixture(scope="module")
def reference_vs_aetna():
    return diff(load("reference"), load("aetna-cpb-0743"), max_witnesses=16)


def _levels(witness):
    return [d for d in witness.differences if d.subject == "L4-L5"]


def _study(case, kind):
    return [s for s in case.get("imaging", []) if s["study"] == kind]


def test_grade_one_spondylolisthesis_without_motion(reference_vs_aetna):
    found = []
    for w in reference_vs_aetna.witnesses:
        for d in _levels(w):
            mri = _study(w.case, "mri")
            listhesis = [lv.get("spondylolisthesis", {}) for s in mri for lv in s.get("levels", [])]
            if d.a == "fusion" and d.b != "fusion" and any(x.get("meyerding_grade") == 1 for x in listhesis):
                found.append(w)
    assert found, "no witness with grade I spondylolisthesis fused by reference and not by Aetna"


def test_current_smoker_denied_fusion_by_aetna(reference_vs_aetna):
    found = [w for w in reference_vs_aetna.witnesses for d in _levels(w)
             if d.a == "fusion" and d.b != "fusion"
             and w.case.get("history", {}).get("smoking", {}).get("status") == "current"
             and w.decision_b.status_of("AET-N1") == "not_met"]
    assert found, "no witness where a current smoker is fused by reference and not by Aetna"


def test_translation_between_three_and_four_mm(reference_vs_aetna):
    found = []
    for w in reference_vs_aetna.witnesses:
        films = [lv.get("translation_mm") for s in _study(w.case, "flexion_extension_xray") for lv in s.get("levels", [])]
        if any(t is not None and 3 < t < 4 for t in films) and any(d.a == "fusion" and d.b != "fusion" for d in _levels(w)):
            found.append(w)
    assert found, "no witness with 3-4 mm translation fused by reference and not by Aetna"


def test_witnesses_are_distinct_and_confirmed(reference_vs_aetna):
    result = reference_vs_aetna
    assert not result.problems
    assert len(result.witnesses) == 16
    ids = [w.case["case"] for w in result.witnesses]
    assert len(set(ids)) == len(ids)
    assert all(w.differences for w in result.witnesses)


def test_emitted_witnesses_really_differ_under_explain(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["diff", "reference", "aetna-cpb-0743", "--max", "6", "--emit", str(tmp_path)])
    assert result.exit_code == 1, result.output
    files = sorted(tmp_path.glob("*.yaml"))
    assert len(files) == 6
    for path in files:
        a = json.loads(runner.invoke(main, ["explain", str(path), "--format", "json"]).output)
        b = json.loads(runner.invoke(main, ["explain", str(path), "--format", "json", "--policy", "aetna-cpb-0743"]).output)
        det_a = {lv["level"]: lv["determination"] for lv in a["levels"]} | {(i["item"], i.get("level")): i["determination"] for i in a["items"]}
        det_b = {lv["level"]: lv["determination"] for lv in b["levels"]} | {(i["item"], i.get("level")): i["determination"] for i in b["items"]}
        assert det_a != det_b, f"{path.name} decides the same under both policies"
        assert load_case(path).case == path.stem


@pytest.mark.parametrize("pid", shipped_policies())
def test_a_policy_diffed_with_itself_finds_nothing(pid):
    result = CliRunner().invoke(main, ["diff", pid, pid])
    assert result.exit_code == 0, result.output
    assert "no case within the bounds below makes them decide differently" in result.output
    assert "bounds searched:" in result.output and "translation:" in result.output


def test_a_policy_against_its_committed_version():
    result = CliRunner().invoke(main, ["diff", "reference@HEAD", "reference", "--max", "2"])
    assert result.exit_code == 0, result.output


def test_a_changed_version_is_caught(tmp_path):
    folder = tmp_path / "reference-changed"
    source = load("reference").folder
    folder.mkdir()
    text = (source / "policy.lp").read_text().replace("dynamic_translation(L, T, St), flexion_extension(St), T > 30.",
                                                      "dynamic_translation(L, T, St), flexion_extension(St), T > 50.")
    assert "T > 50." in text
    (folder / "policy.lp").write_text(text)
    result = diff(load("reference"), load(str(folder)), max_witnesses=3)
    films = [lv.get("translation_mm") for w in result.witnesses for s in _study(w.case, "flexion_extension_xray")
             for lv in s.get("levels", [])]
    assert any(t is not None and 3 < t <= 5 for t in films), films


def test_json_output_shape():
    result = CliRunner().invoke(main, ["diff", "reference", "carelon-spine", "--max", "2", "--format", "json"])
    data = json.loads(result.output)
    assert set(data) == {"a", "b", "complete", "unaddressed_items", "witnesses", "bounds", "problems"}
    assert data["witnesses"] and {"case", "documented_facts", "differences", "explain_a", "explain_b"} <= set(data["witnesses"][0])


def test_bad_level_and_unknown_policy_are_usage_errors():
    runner = CliRunner()
    assert runner.invoke(main, ["diff", "reference", "aetna-cpb-0743", "--level", "L6-L7"]).exit_code == 2
    assert runner.invoke(main, ["diff", "reference", "nope"]).exit_code == 2
    assert runner.invoke(main, ["diff", "reference@no-such-rev", "reference"]).exit_code == 2


def test_a_folder_whose_name_has_an_at_sign_is_the_folder_not_a_revision(tmp_path):
    import shutil

    folder = tmp_path / "pol" / "aetna@v2"
    shutil.copytree(load("aetna-cpb-0743").folder, folder)
    # which policy was read is all this asks: the search may stop at once
    result = CliRunner().invoke(main, ["diff", "reference", str(folder), "--max", "1", "--timeout", "0.5",
                                       "--format", "json"])
    assert result.exit_code in (0, 1, 2) and "Traceback" not in result.output, result.output
    assert json.loads(result.stdout)["b"]["id"] == "aetna-cpb-0743"


def test_a_revision_that_looks_like_an_option_is_refused():
    result = CliRunner().invoke(main, ["diff", "reference@--output=/tmp/necessity-pwned", "reference"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "not a git revision" in result.stderr
    assert not Path("/tmp/necessity-pwned").exists()
