"""necessity check: shipped policies are total with no dead or irrelevant criteria; planted faults are found."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from engine.check import check
from engine.cli import main
from engine.policy import load, shipped_policies


@pytest.mark.parametrize("pid", shipped_policies())
def test_shipped_policies_check_clean(pid):
    result = CliRunner().invoke(main, ["check", pid])
    assert result.exit_code == 0, result.output
    assert "✓ total" in result.output and "(proved: no counterexample exists)" in result.output


def _planted(tmp_path, extra: str):
    folder = tmp_path / "ref"
    shutil.copytree(load("reference").folder, folder)
    (folder / "policy.lp").write_text((folder / "policy.lp").read_text() + extra)
    return load(str(folder))


def test_a_dead_criterion_is_proved_dead(tmp_path):
    policy = _planted(tmp_path, '''
criterion("REF-Z1", "Translation over 400 mm", "test").
scope("REF-Z1", level).
bears_on("REF-Z1", fusion).
met("REF-Z1", L, dynamic_translation(L, T, St)) :- evaluated("REF-Z1", L), dynamic_translation(L, T, St), T > 4000.
''')
    result = check(policy, levels=("L4-L5",))
    assert ("REF-Z1", "no case within the bounds meets it") in result.dead
    assert "REF-Z1" in result.irrelevant  # and, never holding, it can change nothing by its own rules


def test_an_irrelevant_criterion_is_proved_irrelevant(tmp_path):
    policy = _planted(tmp_path, '''
criterion("REF-Z2", "Facet arthropathy noted", "test").
scope("REF-Z2", level).
bears_on("REF-Z2", fusion).
met("REF-Z2", L, level_finding(L, facet_arthropathy, yes, St)) :- evaluated("REF-Z2", L), level_finding(L, facet_arthropathy, yes, St).
''')
    result = check(policy, levels=("L4-L5",))
    assert "REF-Z2" in result.irrelevant
    assert "REF-F1" in result.relevant_witness


def test_findings_exit_1_and_emit_witnesses(tmp_path):
    policy = _planted(tmp_path, '''
criterion("REF-Z2", "Facet arthropathy noted", "test").
scope("REF-Z2", level).
bears_on("REF-Z2", fusion).
met("REF-Z2", L, x) :- evaluated("REF-Z2", L), level_finding(L, facet_arthropathy, yes, _).
''')
    out = tmp_path / "witnesses"
    result = CliRunner().invoke(main, ["check", str(policy.folder), "--level", "L4-L5", "--emit", str(out)])
    assert result.exit_code == 1, result.output
    assert "REF-Z2 is irrelevant" in result.output
    emitted = sorted(p.name for p in out.glob("*.yaml"))
    assert "check-reference-REF-F1.yaml" in emitted
    explained = CliRunner().invoke(main, ["explain", str(out / "check-reference-REF-F1.yaml")])
    assert explained.exit_code == 0, explained.output
