"""A requested level the policy has no criterion for is not addressed: manual
review, never a silent none (shared/criteria/README.md, rules every policy shares).

Issue 11, defect 6: a policy with no pelvic criterion gave S1-pelvis `none`;
a fusion-only policy asked for decompression printed `→ none` with no criteria.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from casebuilder import baseline, case_from, merge
from engine.cli import main
from engine.presenting.letter import to_markdown
from engine.deciding.policy import load
from engine.presenting.render import dumps, to_json
from engine.deciding.solver import Engine
from engine.presenting.terminal import to_text

FUSION_ONLY = """\
% payer: Test
% policy: fusion-only
% version: 1
% effective: 2025-01-01
% source: a test policy that decides fusion and nothing else

%% FO-F1 -- spondylolisthesis at the level
criterion("FO-F1", "Spondylolisthesis at the level", "test §F1").
scope("FO-F1", level).
bears_on("FO-F1", fusion).
documentation("FO-F1", "imaging of the level").
met("FO-F1", L, level_finding(L, spondylolisthesis, yes, St)) :- evaluated("FO-F1", L),
    level_finding(L, spondylolisthesis, yes, St).
not_met("FO-F1", L, level_finding(L, spondylolisthesis, no, St)) :- evaluated("FO-F1", L),
    level_finding(L, spondylolisthesis, no, St).
justified(L, fusion) :- evaluated("FO-F1", L), requested(L, fusion), holds("FO-F1", L).
"""


@pytest.fixture(scope="module")
def fusion_only(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("policies") / "fusion-only"
    folder.mkdir()
    (folder / "policy.lp").write_text(FUSION_ONLY, encoding="utf-8")
    return folder


def pelvic_case():
    return case_from(merge(baseline(), {"request": {"levels": [
        {"level": "L5-S1", "decompression": True, "fusion": True}, {"level": "S1-pelvis", "fusion": True}]}}))


@pytest.mark.parametrize("pid", ["aetna-cpb-0743", "cigna-cmm-609", "carelon-spine"])
def test_pelvic_fixation_under_a_policy_silent_on_it_is_not_addressed(pid):
    decision = Engine(load(pid)).decide(pelvic_case())
    pelvis = decision.level("S1-pelvis")
    assert pelvis.determination == "not_addressed"
    assert pelvis.criteria == () and pelvis.would_change == ()
    assert decision.outcome != "approved"
    data = json.loads(dumps(to_json(decision)))
    assert next(lv for lv in data["levels"] if lv["level"] == "S1-pelvis")["determination"] == "not_addressed"
    text = click.unstyle(to_text(decision))
    assert "S1-pelvis" in text and "→ not addressed (manual review)" in text
    assert "| S1-pelvis | fusion | referred for manual review: the policy has no criterion for it |" in to_markdown(decision)


def test_the_reference_policy_addresses_pelvic_fixation():
    assert Engine(load("reference")).decide(pelvic_case()).level("S1-pelvis").determination != "not_addressed"


def test_decompression_under_a_fusion_only_policy_is_not_addressed(fusion_only):
    engine = Engine(load(str(fusion_only)))
    only_decompression = case_from(merge(baseline(), {"request": {"levels": [{"level": "L4-L5", "decompression": True}]}}))
    decision = engine.decide(only_decompression)
    assert decision.level("L4-L5").determination == "not_addressed"
    assert decision.outcome == "denied"
    both = case_from(baseline())  # decompression and fusion: the fusion criterion decides it
    assert engine.decide(both).level("L4-L5").determination == "none"


def test_check_and_the_cli_accept_a_not_addressed_level(fusion_only, tmp_path):
    case = tmp_path / "c.yaml"
    shutil.copy(Path(__file__).resolve().parents[2] / "examples" / "source-003.yaml", case)
    result = CliRunner().invoke(main, ["explain", str(case), "--policy", "aetna-cpb-0743", "--format", "json"])
    assert result.exit_code == 0, result.output
    levels = {lv["level"]: lv["determination"] for lv in json.loads(result.stdout)["levels"]}
    assert levels["S1-pelvis"] == "not_addressed"


def test_batch_counts_levels_not_addressed(tmp_path):
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(main, ["batch", str(Path(__file__).resolve().parents[2] / "examples" / "source-003.yaml"),
                                       "--policy", "aetna-cpb-0743", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "not_addressed 1" in result.stderr.split("levels", 1)[1].splitlines()[0]
