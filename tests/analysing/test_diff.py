"""necessity diff: the solver finds the known disagreements, says how a policy compares per request kind,
and every witness holds up in explain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from edits import edited
from thorough import only_when_thorough, thorough
from engine.cli import main
from engine.analysing.diff import diff
from engine.deciding.policy import load, shipped_policies
from facts import load_case


@pytest.fixture(scope="module")
def fusion_causes():
    """Every cause for which reference fuses L4-L5 and Aetna does not (decompression and fusion requested)."""
    only = lambda q: q.kind == "level" and q.request == "both" and q.direction == "a"  # noqa: E731
    return diff(load("reference"), load("aetna-cpb-0743"), max_witnesses=60, only=only)


def _study(case, kind):
    return [s for s in case.get("imaging", []) if s["study"] == kind]


def _fused_by_reference_only(witness):
    return [d for d in witness.differences if d.subject == "L4-L5" and d.a == "fusion" and d.b != "fusion"]


@thorough  # every cause enumerated (60 witnesses): a long search
def test_grade_one_spondylolisthesis_without_motion(fusion_causes):
    found = []
    for w in fusion_causes.witnesses:
        grades = [lv.get("spondylolisthesis", {}).get("meyerding_grade")
                  for s in w.case.get("imaging", []) for lv in s.get("levels", [])]
        if _fused_by_reference_only(w) and 1 in grades and "AET-F1" in w.cause_refuted:
            found.append(w)
    assert found, "no witness with grade I spondylolisthesis fused by reference and not by Aetna"


@thorough  # every cause enumerated (60 witnesses): a long search
def test_current_smoker_denied_fusion_by_aetna(fusion_causes):
    found = [w for w in fusion_causes.witnesses if _fused_by_reference_only(w)
             and w.case.get("history", {}).get("smoking", {}).get("status") == "current"
             and w.decision_b.status_of("AET-N1") == "not_met"]
    assert found, "no witness where a current smoker is fused by reference and not by Aetna"


@thorough  # every cause enumerated (60 witnesses): a long search
def test_translation_between_three_and_four_mm(fusion_causes):
    found = []
    for w in fusion_causes.witnesses:
        films = [lv.get("translation_mm") for s in _study(w.case, "flexion_extension_xray") for lv in s.get("levels", [])]
        if any(t is not None and 3 < t < 4 for t in films) and _fused_by_reference_only(w):
            found.append(w)
    assert found, "no witness with 3-4 mm translation fused by reference and not by Aetna"


@thorough  # every cause enumerated (60 witnesses): a long search
def test_witnesses_are_distinct_confirmed_and_enumerated_to_the_end(fusion_causes):
    result = fusion_causes
    assert not result.problems
    assert result.complete, "every cause of the question was enumerated"
    ids = [w.case["case"] for w in result.witnesses]
    assert len(set(ids)) == len(ids)
    causes = [(w.cause_met, w.cause_refuted) for w in result.witnesses]
    assert len(set(causes)) == len(causes), "two witnesses with one cause"
    assert all(w.differences for w in result.witnesses)


@pytest.fixture(scope="module")
def against_aetna(tmp_path_factory):
    """``diff reference aetna-cpb-0743 --max 3 --emit DIR``, run once: its report and its case files."""
    emitted = tmp_path_factory.mktemp("witnesses")
    result = CliRunner().invoke(main, ["diff", "reference", "aetna-cpb-0743", "--max", "3", "--emit", str(emitted)])
    return result, emitted


def test_the_summary_says_how_each_request_kind_compares(against_aetna):
    result, _ = against_aetna
    assert result.exit_code == 1, result.output
    summary = result.output.split("witness 1:")[0]
    assert "summary: aetna-cpb-0743 against reference, per request" in summary
    assert "L4-L5 decompression and fusion  incomparable" in summary
    assert "bone_marrow_aspirate            equivalent" in summary
    assert "autograft" in summary and "addressed by reference only" in summary
    assert "reference grants more (witness" in summary


def test_emitted_witnesses_really_differ_under_explain(against_aetna):
    runner = CliRunner()
    result, emitted = against_aetna
    assert result.exit_code == 1, result.output
    files = sorted(emitted.glob("*.yaml"))
    assert len(files) == 3
    for path in files:
        a = json.loads(runner.invoke(main, ["explain", str(path), "--format", "json"]).output)
        b = json.loads(runner.invoke(main, ["explain", str(path), "--format", "json", "--policy", "aetna-cpb-0743"]).output)
        det_a = {lv["level"]: lv["determination"] for lv in a["levels"]} | {(i["item"], i.get("level")): i["determination"] for i in a["items"]}
        det_b = {lv["level"]: lv["determination"] for lv in b["levels"]} | {(i["item"], i.get("level")): i["determination"] for i in b["items"]}
        assert det_a != det_b, f"{path.name} decides the same under both policies"
        assert load_case(path).case == path.stem


@pytest.mark.parametrize("pid", only_when_thorough(shipped_policies(), quick=("reference", "aetna-cpb-0743")))
def test_a_policy_diffed_with_itself_is_proved_equivalent(pid):
    result = CliRunner().invoke(main, ["diff", pid, pid])
    assert result.exit_code == 0, result.output
    assert "no case within the bounds below makes them decide differently (proved)" in result.output
    assert "bounds searched:" in result.output and "L4-L5 fusion" in result.output


def test_a_policy_against_its_committed_version():
    result = CliRunner().invoke(main, ["diff", "reference@HEAD", "reference", "--max", "2"])
    assert result.exit_code == 0, result.output


def _edited(tmp_path, old: str, new: str):
    return load(str(edited(tmp_path / "reference-changed", "reference", old, new)))


def test_a_moved_threshold_makes_the_edit_narrower_with_the_figure_between(tmp_path):
    edited = _edited(tmp_path, "dynamic_translation(L, T, St), flexion_extension(St), T > 30.",
                     "dynamic_translation(L, T, St), flexion_extension(St), T > 50.")
    result = diff(load("reference"), edited, max_witnesses=6)
    assert result.relation("level", "L4-L5", "fusion") == "narrower"
    assert result.relation("level", "L4-L5", "decompression") == "equivalent"
    films = [lv.get("translation_mm") for w in result.witnesses for s in _study(w.case, "flexion_extension_xray")
             for lv in s.get("levels", [])]
    assert any(t is not None and 3 < t <= 5 for t in films), films


def test_a_constraint_that_leaves_cases_without_an_answer_is_a_difference(tmp_path):
    """Issue 12, reproduction 2: reference plus ':- finding(tumor, yes).' was called equivalent."""
    edited = _edited(tmp_path, "%%%% Items", ":- finding(tumor, yes).\n%%%% Items")
    result = CliRunner().invoke(main, ["diff", "reference", str(edited.folder), "--format", "json"])
    assert result.exit_code == 1, result.output
    data = json.loads(result.output)
    answers = [w for w in data["witnesses"] if w["question"]["kind"] == "answers"]
    assert answers and answers[0]["case"]["clinical"]["tumor"] is True
    assert answers[0]["explain_b"] == {"error": answers[0]["explain_b"]["error"]}
    assert "0 answers" in answers[0]["explain_b"]["error"]


def test_json_output_shape():
    result = CliRunner().invoke(main, ["diff", "reference", "aetna-cpb-0743", "--max", "2", "--format", "json"])
    data = json.loads(result.output)
    assert set(data) == {"a", "b", "proved", "complete", "stopped", "summary", "unaddressed_items", "several_answers",
                         "not_proved", "witnesses", "bounds", "problems", "sampled", "refuted"}
    # the second line of defence (engine/analysing/sample.py): how many cases no search chose were decided
    assert isinstance(data["sampled"], int) and data["sampled"] > 0 and data["refuted"] == []
    assert len(data["witnesses"]) == 2
    assert {"case", "question", "documented_facts", "differences", "cause", "explain_a", "explain_b"} <= set(data["witnesses"][0])
    assert {s["relation"] for s in data["summary"]} <= {"equivalent", "narrower", "broader", "incomparable"}


def test_bad_level_and_unknown_policy_are_usage_errors():
    runner = CliRunner()
    assert runner.invoke(main, ["diff", "reference", "aetna-cpb-0743", "--level", "L6-L7"]).exit_code == 2
    assert runner.invoke(main, ["diff", "reference", "nope"]).exit_code == 2
    assert runner.invoke(main, ["diff", "reference@no-such-rev", "reference"]).exit_code == 2


def test_a_folder_whose_name_has_an_at_sign_is_the_folder_not_a_revision(tmp_path):
    folder = edited(tmp_path / "pol" / "aetna@v2", "aetna-cpb-0743")
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


def test_one_policy_at_two_revisions_is_told_apart_in_the_text():
    """`diff reference@HEAD~1 reference` compares two policies with one id: the text names them A and B
    (or by version), never "reference has no answer for some case reference answers"."""
    from engine.analysing.diff import DiffResult, Question
    from engine.analysing.findings import diff_summary

    result = DiffResult("reference", "reference", "1.1", "1.1")
    result.questions = [(Question("answers", "", "", "a"), False), (Question("answers", "", "", "b"), True)]
    assert "reference (A) has no answer for some case that reference (B) answers" in "\n".join(diff_summary(result))
    result.b_version = "1.2"
    assert "reference 1.1 has no answer for some case that reference 1.2 answers" in "\n".join(diff_summary(result))


def test_a_witness_causes_are_what_explain_shows_in_the_way(tmp_path):
    """Issue 20, point 2: diff blamed a criterion explain shows waived, and missed the one explain shows blocking.
    For every witness of `diff reference aetna-cpb-0743`, the criteria blamed under the policy that decided lower
    are those explain's summary shows "blocked by" on that witness, and no waived criterion is a cause."""
    import re

    import yaml
    from click.testing import CliRunner

    from engine.analysing.diff import diff
    from engine.cli import main
    from engine.deciding.policy import load

    result = diff(load("reference"), load("aetna-cpb-0743"), max_witnesses=8, sample_size=0)
    assert result.witnesses
    checked = 0
    for n, w in enumerate(result.witnesses):
        if w.question.direction not in ("a", "b") or w.question.kind != "level":
            continue
        checked += 1
        lower = "aetna-cpb-0743" if w.question.direction == "a" else "reference"
        path = tmp_path / f"w{n}.yaml"
        path.write_text(yaml.safe_dump(w.case), encoding="utf-8")
        shown = CliRunner().invoke(main, ["explain", str(path), "--policy", lower])
        assert shown.exit_code in (0, 1), shown.output
        subject = w.question.subject
        row = next((line for line in shown.output.splitlines() if line.strip().startswith(subject) and "→" in line), "")
        assert row, shown.output
        blocked = re.findall(r"[✗?] ([A-Z0-9][A-Z0-9-]*[a-z0-9]*)", row.partition("blocked by")[2])
        assert sorted(b.split(" ", 1)[1] for b in w.blocked) == sorted(blocked), (n, subject, row, w.blocked)
        waived = set(re.findall(r"↷ ([A-Z0-9-]+[a-z0-9]*)", shown.output))
        assert not waived & {b.split(" ", 1)[1] for b in w.blocked}, (n, waived, w.blocked)
    assert checked


def test_the_side_by_side_table_shows_a_waived_criterion_as_waived():
    """Issue 20, point 2: the table showed a criterion explain shows waived as "✗ not met"."""
    from engine.analysing.findings import _cell
    from engine.deciding.decision import CriterionResult

    waived = CriterionResult("PRM-C3", "t", "c", "case", "not_met", (), waived_by="PRM-W1")
    assert _cell(waived) == "↷ PRM-C3 waived by PRM-W1"
    assert _cell(CriterionResult("PRM-C1", "t", "c", "case", "not_documented", ())) == "? PRM-C1 not documented"
