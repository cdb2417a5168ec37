"""The vocabulary, the case model and the emitter cannot drift apart."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from engine.cli import main
from facts import anatomy, case_atoms, load_case
from facts.schema import walk
from facts.vocabulary import BY_NAME, PREDICATES, SIGNATURES

ROOT = Path(__file__).resolve().parents[2]
KITCHEN_SINK = ROOT / "tests" / "data" / "kitchen-sink.yaml"


def test_every_field_names_declared_predicates():
    for path, _, emits in walk():
        for name in emits or []:
            assert name in BY_NAME, f"{path} emits {name}, which facts/vocabulary.py does not declare"


def test_every_leaf_field_is_emitted_or_free_text():
    free_text = {"case", "note", "description", "date"}
    # The original assessment's verdict is not a fact of the case: kept for
    # `necessity audit-examples`, never emitted (tests/test_audit.py checks that).
    verdict = "assessment."
    for path, _, emits in walk():
        leaf = path.rsplit(".", 1)[-1].removesuffix("[]")
        if emits == [] and leaf not in free_text and not path.startswith(verdict):
            raise AssertionError(f"{path} is neither emitted nor free text")


def test_every_declared_predicate_is_emitted_by_some_case():
    atoms = list(anatomy()) + list(case_atoms(load_case(KITCHEN_SINK)))
    seen = {f"{a.name}/{len(a.arguments)}" for a in atoms}
    assert seen <= SIGNATURES, f"emitted but undeclared: {sorted(seen - SIGNATURES)}"
    assert SIGNATURES <= seen, f"declared but never emitted by the kitchen-sink case: {sorted(SIGNATURES - seen)}"


def test_emission_is_deterministic():
    case = load_case(KITCHEN_SINK)
    assert case_atoms(case) == case_atoms(load_case(KITCHEN_SINK))


def test_three_states_survive_into_atoms():
    from casebuilder import baseline, case_from, merge

    def findings(adl):
        data = merge(baseline(), {"clinical": {"adl_limitation": adl}})
        return {str(a) for a in case_atoms(case_from(data)) if a.name == "finding"}

    assert "finding(adl_limitation,yes)" in findings(True)
    assert "finding(adl_limitation,no)" in findings(False)
    assert not any("adl_limitation" in a for a in findings(None))


def test_vocab_command_lists_every_predicate():
    result = CliRunner().invoke(main, ["vocab"])
    assert result.exit_code == 0, result.output
    for p in PREDICATES:
        assert f"  {p.name}(" in result.output


def test_vocab_fields_lists_model_fields():
    result = CliRunner().invoke(main, ["vocab", "--fields"])
    assert result.exit_code == 0
    assert "imaging[].levels[].stenosis[].grade" in result.output
    assert "conservative_care.episodes[].delivery" in result.output
