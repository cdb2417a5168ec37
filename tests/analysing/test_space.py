"""The searched case space: derived from what the policies read, complete for the vocabulary, and every
chosen set of atoms is a case file the real emitter turns back into exactly those atoms."""

from __future__ import annotations

import json

import pytest
from clingo import ast

from engine.analysing.analysis import Analysis
from engine.deciding.core import statements as core_statements
from engine.deciding.policy import load
from engine.analysing.figures import figures
from engine.analysing.reads import Program, read_signatures
from engine.deciding.search import Search
from engine.analysing.space import bounds, generated, minimised_facts, space_facts, space_statements
from engine.analysing.witness import round_trip_mismatch, to_case
from facts import anatomy, case_atoms, parse_case
from facts.vocabulary import PREDICATES
from facts.vocabulary import SIGNATURES as CASE_SIGNATURES

ANATOMY = frozenset(f"{a.name}/{len(a.arguments)}" for a in anatomy())


def test_the_space_generates_every_case_predicate_of_the_vocabulary():
    """A predicate the space cannot generate would make check and diff say 'not proved' for whatever
    reads it: keep the space complete when the vocabulary grows."""
    missing = sorted(CASE_SIGNATURES - ANATOMY - generated())
    assert not missing, f"engine/analysing/space.lp does not generate {missing}"


@pytest.mark.parametrize("levels", [("L4-L5",), ("T12-L1", "L4-L5", "L5-S1", "S1-pelvis")])
def test_random_records_of_the_whole_space_round_trip_through_the_emitter(levels):
    """Every predicate wanted, 150 models drawn at random: each is a valid case file whose emission is
    exactly the chosen atoms (study and curve ids compared by order)."""
    statements = [*core_statements()]
    program = Program([*space_statements(), *statements], list(anatomy()))
    b = bounds(program, figures(statements, CASE_SIGNATURES), frozenset(CASE_SIGNATURES), levels, approaches=2)
    space = list(space_statements())
    ast.parse_string(minimised_facts(), space.append)
    search = Search(space, [*anatomy(), *space_facts(b)], [p.signature for p in PREDICATES], minimise=False)
    ctl = search.ctl
    ctl.configuration.solver.rand_freq = "1.0"
    ctl.configuration.solver.sign_def = "rnd"
    seen = 0
    names: set[str] = set()
    for seed in range(150):  # one model per seed: models enumerated in a row are near neighbours
        ctl.configuration.solver.seed = str(seed)
        with ctl.solve(yield_=True) as handle:
            atoms = next(iter(handle)).symbols(shown=True)
        names |= {a.name for a in atoms}
        record = to_case("round-trip", atoms)
        case = parse_case(json.dumps(record), "round-trip", fmt="json")
        mismatch = round_trip_mismatch(atoms, [*anatomy(), *case_atoms(case)])
        assert not mismatch, f"case: {json.dumps(record)}\nchosen and emitted differ: {sorted(mismatch)}"
        seen += 1
    assert seen == 150
    if len(levels) == 1:
        unseen = sorted({s.rpartition("/")[0] for s in generated()} - names)
        assert not unseen, f"never drawn, so never round-tripped: {unseen}"


def test_values_a_policy_cannot_tell_apart_are_one_class():
    policy = load("reference")
    statements = [*core_statements(), *policy.statements]
    program = Program([*space_statements(), *statements], list(anatomy()))
    assert ["mri", "ct", "ct_myelogram"] in program.classes(["mri", "ct", "ct_myelogram", "xray", "flexion_extension_xray"])
    assert program.classes(["moderate", "moderate_to_severe", "severe", "mild", "none"]) == [
        ["moderate", "moderate_to_severe", "severe"], ["mild"], ["none"]]
    # a constant written in a comment is not read: the old reading of comments split these
    assert program.classes(["mild", "mild_to_moderate"]) == [["mild", "mild_to_moderate"]]


def test_every_figure_compared_with_a_case_value_is_collected_whatever_it_travels_through():
    reference = figures([*core_statements(), *load("reference").statements], CASE_SIGNATURES)
    # a stated total of care feeds care_span, whose longest is compared with 84
    assert 84 in reference.of(("conservative_care_total_days/1", 0))
    # episode lengths (least and most days) are summed (#sum) before 42 days of PT, and spanned before 84
    assert {42, 84} <= reference.of(("care_days/3", 1)) and {42, 84} <= reference.of(("care_days/3", 2))
    # a span between two dates: the dates (earliest and latest day) get the figure as an offset
    assert all(84 in reference.of((sig, i)) for sig in ("care_start/3", "care_end/3") for i in (1, 2))
    aetna = figures([*core_statements(), *load("aetna-cpb-0743").statements], CASE_SIGNATURES)
    # a figure kept in a fact (unstable_translation(40)) and compared through a variable
    assert 40 in aetna.of(("dynamic_translation/3", 1))
    # a window written as R - 365
    assert 365 in aetna.of(("request_date/2", 0)) or 365 in aetna.of(("request_date/2", 1))


def test_the_space_offers_each_side_of_a_threshold_only_a_user_policy_has(tmp_path):
    """Issue 12, reproduction 1: 90 days compared with the stated total was never collected."""
    analysis = Analysis([load(str(_xray_mini()))], ("L4-L5",))
    # `M >= 90`: 89 falls short, 90 meets it (an order changes its truth once: one value each side)
    assert analysis.bounds.numbers[("conservative_care_total_days/1", 0)] == (89, 90)
    assert "xray" in analysis.bounds.domains["study_type"].values
    assert "conservative_care_total_days" in analysis.bounds.wanted


def test_what_a_policy_reads_is_derived_from_its_conditions():
    read = read_signatures([*load(str(_xray_mini())).statements], CASE_SIGNATURES)
    assert read == {"conservative_care_total_days/1", "level_finding/4", "imaging_study/2", "requested/2"}


def _xray_mini():
    from pathlib import Path

    return Path(__file__).resolve().parents[1] / "data" / "xray-mini"


def test_an_order_is_offered_one_value_each_side_an_equality_a_step_either_side():
    """The space offered three values per figure (f-1, f, f+1) whatever the comparison: a #sum over three
    episodes of care then spelt out thousands of totals (carelon-spine's check: 2316 sums per copy)."""
    from fractions import Fraction

    from engine.analysing.forms import sides

    ge, gt, lt, le, eq, ne = (getattr(ast.ComparisonOperator, n) for n in
                              ("GreaterEqual", "GreaterThan", "LessThan", "LessEqual", "Equal", "NotEqual"))
    one, minus = Fraction(1), Fraction(-1)
    assert sides(one, Fraction(-84), ge, False) == {83, 84}  # T - 84 >= 0
    assert sides(one, Fraction(-84), gt, False) == {84, 85}
    assert sides(one, Fraction(-84), lt, False) == {83, 84}
    assert sides(minus, Fraction(84), le, False) == {83, 84}  # 84 - T <= 0: T >= 84
    assert sides(one, Fraction(-84), eq, False) == {83, 84, 85}
    assert sides(one, Fraction(-84), ne, False) == {83, 84, 85}
    assert sides(Fraction(1, 7), Fraction(-12), ge, True) >= {83, 84, 85}  # T/7 >= 12: a step either side


def test_a_sum_of_care_is_offered_each_side_of_its_figures_and_nothing_an_assignment_pairs():
    """carelon-spine: `M = #max { D : care_span(_, D, _) }` is an assignment, not a comparison of the
    stated total with an episode's days; each figure compared by order gets its two sides only."""
    analysis = Analysis([load("carelon-spine")], ("L4-L5",))
    least = set(analysis.bounds.numbers[("care_days/3", 1)])
    assert {41, 42, 83, 84, 181, 182} <= least  # 42 and 84 days summed (#sum), a span of 182 days
    assert not least & {43, 85, 183}, least
    total = set(analysis.bounds.numbers[("conservative_care_total_days/1", 0)])
    assert {181, 182} <= total and not total & {41, 42, 43, 83, 84, 85}, total


# --------------------------------------------------------------------------
# only plausible cases (issue 20, point 6)
# --------------------------------------------------------------------------

#: Each measurement of facts/plausible.py as the space's atoms of study ``St`` show it (the test's own reading).
SHOWN_AS = {
    "stenosis": ("documented(stenosis(_, St))", "stenosis(_, _, _, _, St)"),
    "disc_herniation": ("level_finding(_, disc_herniation, _, St)",),
    "disc_bulge": ("level_finding(_, disc_bulge, _, St)",),
    "modic_change": ("level_finding(_, modic_change, _, St)",),
    "dynamic_instability": ("level_finding(_, dynamic_instability, _, St)",),
    "translation_mm": ("dynamic_translation(_, _, St)",),
    "angulation_deg": ("dynamic_angulation(_, _, St)",),
    "cobb": ("documented(cobb_curves(St))", "cobb_curve(_, _, St)"),
    "sva_mm": ("sagittal_vertical_axis(_, St)",),
    "pi_ll_mismatch_deg": ("pi_ll_mismatch(_, St)",),
    "coronal_imbalance_mm": ("coronal_imbalance(_, St)",),
}


def _implausible_rules() -> str:
    """``implausible`` for anything the tables of facts/plausible.py call impossible, written from the tables."""
    from facts.plausible import LEVEL_REGIONS, MEASURES
    from facts.terms import Region, StudyType

    assert {m.field for m in MEASURES} == set(SHOWN_AS), "a row of MEASURES this test does not read"
    rules = []
    for m in MEASURES:
        for kind in StudyType:
            if kind not in m.studies:
                rules += [f"implausible :- imaging_study(St, {kind.value}), {shown}." for shown in SHOWN_AS[m.field]]
    for level, regions in LEVEL_REGIONS.items():
        for region in Region:
            if region not in regions:
                rules.append(f'implausible :- prior_surgery(S, _, {region.value}), prior_surgery_level(S, "{level}").')
    return "\n".join(rules) + "\n:- not implausible.\n"


def _some_implausible_case(space: list, facts: list) -> tuple | None:
    program = list(space)
    ast.parse_string(_implausible_rules(), program.append)
    return Search(program, facts, [p.signature for p in PREDICATES], minimise=False).first()


@pytest.mark.parametrize("policies", [("reference", "aetna-cpb-0743"), ("cigna-cmm-609",)])
def test_the_space_of_a_diff_holds_no_case_a_clinician_could_not_see(policies):
    """Issue 20, 6: diff witnesses carried a Cobb angle and an SVA measured on MRI, stenosis graded on
    flexion-extension films, and a thoracic operation at L4-L5 (region classes stood for lumbar by thoracic)."""
    analysis = Analysis([load(p) for p in policies], ("L4-L5", "L5-S1"))
    found = _some_implausible_case(analysis.space, analysis.facts)
    assert found is None, f"the space holds {sorted(map(str, found))}"


def test_the_whole_space_holds_no_case_a_clinician_could_not_see():
    statements = [*core_statements()]
    program = Program([*space_statements(), *statements], list(anatomy()))
    levels = ("T11-T12", "T12-L1", "L4-L5", "S1-pelvis")
    b = bounds(program, figures(statements, CASE_SIGNATURES), frozenset(CASE_SIGNATURES), levels, approaches=2)
    found = _some_implausible_case(list(space_statements()), [*anatomy(), *space_facts(b)])
    assert found is None, f"the space holds {sorted(map(str, found))}"
