"""necessity check: shipped policies are total with no dead or irrelevant criteria; planted faults are found,
and nothing is called proved that the search cannot vouch for."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from edits import edited
from thorough import only_when_thorough
import engine.analysing.analysis
from engine.analysing.check import check
from engine.cli import main
from engine.deciding.policy import load, shipped_policies
from engine.authoring.testrun import run_policy

DATA = Path(__file__).resolve().parents[1] / "data"


def _guide_example(tmp_path):
    from test_authoring_guide import _build

    return _build(tmp_path)


@pytest.mark.parametrize("ref", only_when_thorough([*shipped_policies(), "authoring-guide", str(DATA / "xray-mini")],
                                                    quick=("reference", "authoring-guide", str(DATA / "xray-mini"))))
def test_every_policy_checks_clean_and_no_criterion_its_goldens_meet_is_dead(ref, tmp_path):
    """Issue 12, reproduction 1: criteria the policy's own goldens meet were reported dead (proved)."""
    policy = load(str(_guide_example(tmp_path)) if ref == "authoring-guide" else ref)
    met_by_goldens = {cid for r in run_policy(policy).results for cid, _scope, status in r.decision.statuses
                      if status == "met"}
    result = check(policy)
    dead = {cid for cid, _proved, _why in result.dead}
    assert not dead & met_by_goldens, f"{policy.id}: met by a golden, yet reported dead: {sorted(dead & met_by_goldens)}"
    assert result.totality == "proved" and result.complete, (result.totality, result.totality_not_proved_why)
    assert not result.dead and not result.irrelevant and not result.problems


def test_check_prints_the_proof_and_the_bounds():
    result = CliRunner().invoke(main, ["check", str(DATA / "xray-mini")])
    assert result.exit_code == 0, result.output
    assert "✓ total" in result.output and "(proved: no counterexample exists)" in result.output
    assert "bounds searched:" in result.output


def _planted(tmp_path, extra: str):
    return load(str(edited(tmp_path / "ref", extra=extra)))


def test_a_dead_criterion_is_proved_dead(tmp_path):
    policy = _planted(tmp_path, '''
criterion("REF-Z1", "Translation over 400 mm", "test").
scope("REF-Z1", level).
bears_on("REF-Z1", fusion).
met("REF-Z1", L, dynamic_translation(L, T, St)) :- evaluated("REF-Z1", L), dynamic_translation(L, T, St), T > 4000.
''')
    result = check(policy, levels=("L4-L5",))
    assert ("REF-Z1", True, "no case within the bounds meets it") in result.dead
    assert ("REF-Z1", True, "") in result.irrelevant  # never holding, it can change nothing by its own rules


def test_an_irrelevant_criterion_is_proved_irrelevant(tmp_path):
    policy = _planted(tmp_path, '''
criterion("REF-Z2", "Facet arthropathy noted", "test").
scope("REF-Z2", level).
bears_on("REF-Z2", fusion).
met("REF-Z2", L, level_finding(L, facet_arthropathy, yes, St)) :- evaluated("REF-Z2", L), level_finding(L, facet_arthropathy, yes, St).
''')
    result = check(policy, levels=("L4-L5",))
    assert ("REF-Z2", True, "") in result.irrelevant
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


# -- issue 12, reproduction 1: a new policy's criteria met by its own goldens are not dead -----------------


def test_a_policy_written_from_the_authoring_guide_has_no_false_dead_criteria():
    """xray-mini reads spondylolisthesis on a plain x-ray and compares the stated total of care with 90:
    the old space had neither, and called both criteria dead (proved)."""
    result = CliRunner().invoke(main, ["check", str(DATA / "xray-mini")])
    assert result.exit_code == 0, result.output
    assert "dead" not in result.output
    # `M >= 90`: 89 days fall short, 90 meet it (one value each side of an order)
    assert "conservative_care_total_days days: 89, 90 days" in result.output


# -- issue 12, reproduction 2 (a case with no answer, or several, is a totality counterexample) is held by
# -- the mutation corpus: tests/test_mutations.py::test_check_catches_a_policy_without_exactly_one_answer


def test_what_the_space_does_not_generate_is_named_and_never_proved(tmp_path, monkeypatch):
    """Pretend the space cannot generate care_days/3: the criteria resting on it are not proved dead."""
    real = engine.analysing.analysis.generated
    monkeypatch.setattr(engine.analysing.analysis, "generated", lambda: real() - {"care_days/3"})
    policy = _planted(tmp_path, '''
criterion("REF-Z3", "A very long episode", "test").
scope("REF-Z3", case).
bears_on("REF-Z3", decompression_only).
met("REF-Z3", case, care_days(E, L, M)) :- evaluated("REF-Z3", case), care_days(E, L, M), L > 36000.
''')
    result = check(policy, levels=("L4-L5",))
    assert result.totality == "not_proved" and "care_days/3" in result.totality_not_proved_why
    [(cid, proved, why)] = [d for d in result.dead if d[0] == "REF-Z3"]
    assert not proved and "care_days/3" in why
    assert not result.complete
