"""Criteria as formulas: the core evaluates each in Kleene's strong three-valued logic.

A small policy declares one criterion per building block; every combination of
three findings (documented yes, documented no, not documented) is decided, and
each criterion's status is held to a three-valued reference written here in
Python, its evidence to the design's rules.  A formula-defined criterion is
never both met and not met, and never not documented when every fact it reads
is documented (engine/deciding/core.lp, "formulas").
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from clingo import Function

from engine.deciding.policy import load
from engine.deciding.solver import Engine, _Grounded
from facts import anatomy, case_atoms
from facts.load import parse_case
from small_policy import case_criteria, header, written

HEADER = header("formulas", "one criterion per formula building block", "tests/test_formulas.py")

CRITERIA = {
    "T-FIND": "finding(radiculopathy)",
    "T-ALL": "all(finding(radiculopathy), finding(sensory_deficit))",
    "T-ANY": "any(finding(radiculopathy), finding(sensory_deficit))",
    "T-TWO": "n_of(2, finding(radiculopathy), finding(sensory_deficit), finding(reflex_change))",
    "T-NEG": "negate(finding(reflex_change))",
    "T-GIVEN": "all(given(finding(radiculopathy)), finding(sensory_deficit))",
    "T-LACKS": "lacks(finding(reflex_change))",
    "T-ASSERTED": "asserted(finding(reflex_change))",
    "T-BMI": "under(body_mass_index, 400)",
    "T-SMOKE": "is(smoking_status, never)",
}
LEVEL = """
criterion("T-IMG", "imaging", "test").
scope("T-IMG", level).
bears_on("T-IMG", decompression_only).
formula("T-IMG", imaging(stenosis_grade)).
study_answer(at(stenosis_grade, L), St, yes, stenosis(L, Z, S, G, St)) :- stenosis(L, Z, S, G, St), G = severe.
study_answer(at(stenosis_grade, L), St, no, stenosis(L, Z, S, G, St)) :- stenosis(L, Z, S, G, St), G = mild.
justifies(decompression_only, all(criterion("T-IMG"), any(criterion("T-ANY"), criterion("T-BMI")))).
"""

FINDINGS = ("radiculopathy", "sensory_deficit", "reflex_change")
T, F, U = "met", "not_met", "not_documented"


@pytest.fixture(scope="module")
def policy(tmp_path_factory):
    body = case_criteria(CRITERIA)
    return written(tmp_path_factory.mktemp("formulas"), "formulas", HEADER + body + LEVEL)


def _case(values: dict, grade: str | None = "severe", bmi: float | None = None, smoking: str | None = None):
    clinical = {}
    for name, v in values.items():
        if v is None:
            continue
        clinical[name] = {"present": v} if name == "radiculopathy" else v
    text = {
        "case": "t",
        "request": {"date": "2026-01-10", "levels": [{"level": "L4-L5", "decompression": "laminectomy"}]},
        "imaging": [{"study": "mri", "date": "2026-01-02",
                     "levels": [{"level": "L4-L5", "stenosis": [{"zone": "central", "grade": grade}]}]}],
    }
    if clinical:
        text["clinical"] = clinical
    history = {}
    if bmi is not None:
        history["bmi"] = bmi
    if smoking is not None:
        history["smoking"] = {"status": smoking}
    if history:
        text["history"] = history
    import json

    return parse_case(json.dumps(text), "t.json", fmt="json")


def _k_and(*vs):
    return F if F in vs else (T if all(v == T for v in vs) else U)


def _k_or(*vs):
    return T if T in vs else (F if all(v == F for v in vs) else U)


def _k_not(v):
    return {T: F, F: T, U: U}[v]


def _atoms(policy, case):
    grounded = _Grounded.case(policy, list(anatomy()) + list(case_atoms(case)))
    [model] = grounded.solve([(Function("whatif"), False)])
    return model


STATES = {True: T, False: F, None: U}


@pytest.mark.parametrize("values", [dict(zip(FINDINGS, combo))
                                    for combo in itertools.product((True, False, None), repeat=3)])
def test_each_connective_is_kleene(policy, values):
    r, s, x = (STATES[values[f]] for f in FINDINGS)
    want = {
        "T-FIND": r,
        "T-ALL": _k_and(r, s),
        "T-ANY": _k_or(r, s),
        # at least 2 of 3: t when 2 are t; f when fewer than 2 can be t
        "T-TWO": T if [r, s, x].count(T) >= 2 else (F if [r, s, x].count(F) >= 2 else U),
        "T-NEG": _k_not(x),
        "T-GIVEN": _k_and(r, s),
        "T-LACKS": F if x == T else T,
        "T-ASSERTED": T if x == T else F,
    }
    decision = Engine(policy).decide(_case(values), would_change=False)
    got = {cid: st for cid, scope, st in decision.statuses}
    assert {k: got[k] for k in want} == want
    model = _atoms(policy, _case(values))
    met = {(a.arguments[0].string, str(a.arguments[1])) for a in model if a.name == "met"}
    not_met = {(a.arguments[0].string, str(a.arguments[1])) for a in model if a.name == "not_met"}
    assert not met & not_met, "a formula-defined criterion is never both met and not met"
    if None not in values.values():
        assert all(got[k] != U for k in ("T-FIND", "T-ALL", "T-ANY", "T-TWO", "T-NEG", "T-GIVEN")), \
            "never not documented when every fact a formula reads is documented"


def _evidence(policy, case, kind, cid):
    return sorted(str(a.arguments[2]) for a in _atoms(policy, case) if a.name == kind and a.arguments[0].string == cid)


def test_evidence_follows_the_value(policy):
    both = _case({"radiculopathy": True, "sensory_deficit": True, "reflex_change": False})
    # t of all: every child's; t of any: each true child's
    assert _evidence(policy, both, "met", "T-ALL") == ["finding(radiculopathy,yes)", "finding(sensory_deficit,yes)"]
    assert _evidence(policy, both, "met", "T-ANY") == ["finding(radiculopathy,yes)", "finding(sensory_deficit,yes)"]
    # given(F) is not cited when it holds
    assert _evidence(policy, both, "met", "T-GIVEN") == ["finding(sensory_deficit,yes)"]
    # negate(F) cites F's evidence for the other value
    assert _evidence(policy, both, "met", "T-NEG") == ["finding(reflex_change,no)"]
    one_no = _case({"radiculopathy": True, "sensory_deficit": False, "reflex_change": None})
    # f of all: each false child's
    assert _evidence(policy, one_no, "not_met", "T-ALL") == ["finding(sensory_deficit,no)"]
    none = _case({"radiculopathy": False, "sensory_deficit": False, "reflex_change": False})
    # f of any: every child's
    assert _evidence(policy, none, "not_met", "T-ANY") == ["finding(radiculopathy,no)", "finding(sensory_deficit,no)"]
    assert _evidence(policy, none, "not_met", "T-GIVEN") == ["finding(radiculopathy,no)", "finding(sensory_deficit,no)"]


@pytest.mark.parametrize("bmi, smoking, want_bmi, want_smoke", [
    (31, "never", T, T), (42, "current", F, F), (40, "former", F, F), (None, None, U, U),
])
def test_figures_and_categories(policy, bmi, smoking, want_bmi, want_smoke):
    got = {cid: st for cid, _, st in Engine(policy).decide(_case({}, bmi=bmi, smoking=smoking),
                                                               would_change=False).statuses}
    assert (got["T-BMI"], got["T-SMOKE"]) == (want_bmi, want_smoke)


@pytest.mark.parametrize("grade, radiculopathy, bmi, determination, status", [
    ("severe", True, None, "decompression_only", T),
    ("severe", None, 31, "decompression_only", T),
    ("severe", None, None, "none", T),
    ("mild", True, 31, "none", F),
])
def test_imaging_and_the_determination_tree(policy, grade, radiculopathy, bmi, determination, status):
    case = _case({"radiculopathy": radiculopathy}, grade=grade, bmi=bmi)
    decision = Engine(policy).decide(case, would_change=False)
    assert decision.levels[0].determination == determination
    assert dict(((c, s), st) for c, s, st in decision.statuses)[("T-IMG", "L4-L5")] == status


def test_the_declared_trees_are_shown(policy):
    model = _atoms(policy, _case({}))
    trees = {str(a.arguments[0]) for a in model if a.name == "determination_tree"}
    assert trees == {"decompression_only"}
    assert {a.arguments[0].string for a in model if a.name == "criterion_tree"} == set(CRITERIA) | {"T-IMG"}


def test_a_what_if_reads_the_tree(policy):
    """Documenting either branch of the tree's any(...) would give decompression."""
    decision = Engine(policy).decide(_case({}), would_change=True)
    [level] = decision.levels
    assert level.determination == "none"
    sets = {tuple(sorted(a.criterion for a in (*w.requires, *w.one_of))) for w in level.would_change}
    assert sets and all(set(s) & {"T-ANY", "T-BMI"} for s in sets), sets


def _lint(tmp_path, body: str, name: str = "p"):
    from engine.authoring.lint import lint

    folder = tmp_path / name
    folder.mkdir()
    (folder / "policy.lp").write_text(HEADER + 'criterion("X-1", "x", "t").\nscope("X-1", case).\n' + body,
                                      encoding="utf-8")
    # X-1 gates nothing in these one-criterion policies (W310): the tests here are about formulas
    return [f.code + " " + f.message for f in lint(folder) if f.code != "W310"]


def test_lint_refuses_a_formula_the_core_cannot_evaluate(tmp_path):
    [found] = _lint(tmp_path, 'formula("X-1", any(finding(tumor), at_least(bmi, 400))).\n')
    assert found.startswith("E306 'at_least(bmi,400)': the core measures") and "body_mass_index" in found
    [found] = _lint(tmp_path, 'formula("X-1", most_of(finding(tumor))).\n', "b")
    assert found.startswith("E306 'most_of(finding(tumor))' is not a formula building block")


def test_lint_refuses_rules_beside_a_formula(tmp_path):
    found = _lint(tmp_path, 'formula("X-1", finding(tumor)).\n'
                            'not_met("X-1", case, finding(tumor, no)) :- evaluated("X-1", case), finding(tumor, no).\n')
    assert found == ["E307 'X-1' is defined by its formula: the core derives its not_met; remove this rule"]


def test_lint_points_to_the_formula_form(tmp_path):
    found = _lint(tmp_path, 'met("X-1", case, finding(tumor, yes)) :- evaluated("X-1", case), finding(tumor, yes).\n'
                            'not_met("X-1", case, finding(tumor, no)) :- evaluated("X-1", case), finding(tumor, no).\n')
    assert len(found) == 1 and found[0].startswith("E308 'X-1' reads findings only: declare formula(\"X-1\", ...)")
    # a criterion that compares a figure, or reads other facts, is left alone
    assert _lint(tmp_path, 'met("X-1", case, hba1c(H)) :- evaluated("X-1", case), hba1c(H), H < 80.\n', "c") == []


def test_vocab_lists_every_building_block_with_an_example_the_core_accepts():
    import clingo
    from click.testing import CliRunner

    from engine.cli import main
    from engine.deciding.blocks import BLOCKS, problems

    result = CliRunner().invoke(main, ["vocab"])
    assert result.exit_code == 0, result.output
    for b in BLOCKS:
        assert f"  {b.name} ({b.kind})" in result.output and f"e.g. {b.example}" in result.output
        assert list(problems(clingo.parse_term(b.example))) == [], b.example
    assert "measurements: " in result.output and "mrc_grade" in result.output


def test_the_analyses_read_figures_and_facts_from_formulas():
    """check and diff search the figures a formula compares: REF-D2's MRC 4/5 lives only in its formula."""
    from engine.analysing.figures import figures
    from engine.analysing.reads import case_reads, read_signatures
    from engine.deciding.core import statements
    from facts.vocabulary import SIGNATURES

    ref = load("reference")
    assert "G <= 4" not in (ref.folder / "policy.lp").read_text()
    found = figures([*statements(), *ref.statements], SIGNATURES)
    assert 4 in found.of(("motor_weakness_mrc/2", 0))
    assert "progressive" in found.constants[("motor_weakness_course/1", 0)]
    reads = case_reads(ref)
    assert any(r.criterion == "REF-D2" and r.predicate == "motor_weakness_mrc/2" for r in reads)
    assert any(r.criterion == "REF-W1" and r.predicate == "finding/2" and (0, "cauda_equina_syndrome") in r.fixed
               for r in reads)
    assert {"motor_weakness_mrc/2", "motor_weakness_course/1"} <= read_signatures(ref.statements, SIGNATURES)


def test_a_value_with_no_evidence_still_gives_a_status_and_a_sentence(policy):
    """asserted(F) fails citing nothing: the criterion is not met all the same, with a sentence that says why."""
    case = _case({"reflex_change": None})
    assert _evidence(policy, case, "not_met", "T-ASSERTED") == ['exclusion("the record does not establish it")']
    assert _evidence(policy, case, "met", "T-LACKS") == ["parts"]


def _small_policy(tmp_path, body: str):
    folder = tmp_path / "blocks"
    folder.mkdir()
    (folder / "policy.lp").write_text(HEADER + body, encoding="utf-8")
    return load(str(folder))


def _record(clinical: dict | None = None, **more):
    import json

    text = {"case": "t", "request": {"date": "2026-01-10",
                                     "levels": [{"level": "L4-L5", "decompression": "laminectomy"}]}}
    if clinical:
        text["clinical"] = clinical
    text.update(more)
    return parse_case(json.dumps(text), "t.json", fmt="json")


@pytest.mark.parametrize("mrc, want, cited", [
    ("4-", T, "motor_weakness_mrc(4,minus)"), ("4", F, "motor_weakness_mrc(4,plain)"),
    ("5-", F, "motor_weakness_mrc(5,minus)"), (None, U, None),
])
def test_the_modifier_beside_an_mrc_grade(tmp_path, mrc, want, cited):
    """is(mrc_modifier, minus) tells 4-/5 from 4/5: a payer's "4-/5 or worse" needs it."""
    policy = _small_policy(tmp_path, 'criterion("T-4M", "4-", "t").\nscope("T-4M", case).\n'
                                     'bears_on("T-4M", decompression_only).\n'
                                     'formula("T-4M", all(at_most(mrc_grade, 4), is(mrc_modifier, minus))).\n')
    weakness = {"present": True, **({"mrc": mrc} if mrc else {})}
    case = _record({"motor_weakness": weakness})
    got = {cid: st for cid, _, st in Engine(policy).decide(case, would_change=False).statuses}
    assert got["T-4M"] == want
    if cited:
        kind = "met" if want == T else "not_met"
        assert _evidence(policy, case, kind, "T-4M") == [cited]


ITEM_POLICY = """
criterion("T-LVL", "level", "t").
scope("T-LVL", level).
bears_on("T-LVL", fusion).
formula("T-LVL", finding(radiculopathy)).
justifies(fusion, all(requested(fusion), criterion("T-LVL"))).
criterion("T-BMP", "front or side", "t").
scope("T-BMP", item(rhbmp2)).
formula("T-BMP", fused_level(any(approach(anterior), approach(lateral)))).
criterion("T-GRAFT", "with a fusion", "t").
scope("T-GRAFT", item(allograft)).
formula("T-GRAFT", fused_level).
criterion("T-BMA", "excluded", "t").
scope("T-BMA", item(bone_marrow_aspirate)).
formula("T-BMA", excluded("experimental")).
criterion("T-BLOCKS", "two blocks", "t").
scope("T-BLOCKS", item(si_joint_fusion)).
formula("T-BLOCKS", several(2, at_least(si_block_relief, 700))).
"""


def _item_case(radiculopathy=True, approaches=("alif", "posterolateral"), blocks=None, graft_at=None):
    import json

    fusion = {"approaches": list(approaches)}
    text = {"case": "t", "request": {
        "date": "2026-01-10",
        "levels": [{"level": "L3-L4", "decompression": "laminectomy"},
                   {"level": "L4-L5", "decompression": "laminectomy", "fusion": fusion}],
        "items": [{"item": "rhbmp2"}, {"item": "bone_marrow_aspirate"}, {"item": "si_joint_fusion", "side": "left"},
                  {"item": "allograft", **({"level": graft_at} if graft_at else {})}]},
        **({"clinical": {"radiculopathy": {"present": radiculopathy}}} if radiculopathy is not None else {})}
    if blocks is not None:
        text["history"] = {"si_joint": {"diagnostic_blocks": [{"relief_pct": r} for r in blocks]}}
    return parse_case(json.dumps(text), "t.json", fmt="json")


def test_an_item_reads_the_fused_levels_it_serves(tmp_path):
    """fused_level(F) holds F at a fused level the item serves; fused_level alone, the fusion; excluded, never."""
    policy = _small_policy(tmp_path, ITEM_POLICY)
    fused = _item_case()
    assert _evidence(policy, fused, "met", "T-BMP") == ["determination(\"L4-L5\",fusion)",
                                                       "fusion_approach(\"L4-L5\",alif)"]
    assert _evidence(policy, fused, "met", "T-GRAFT") == ["determination(\"L4-L5\",fusion)"]
    assert _evidence(policy, fused, "not_met", "T-BMA") == ["exclusion(\"experimental\")"]
    # every fused level it serves is approached from behind
    assert _evidence(policy, _item_case(approaches=("tlif",)), "not_met", "T-BMP") == [
        "fusion_approach(\"L4-L5\",tlif)"]
    # no fusion justified: the determinations of the levels that asked for one
    unfused = _item_case(radiculopathy=False)
    assert _evidence(policy, unfused, "not_met", "T-BMP") == ["determination(\"L4-L5\",none)"]
    assert _evidence(policy, unfused, "not_met", "T-GRAFT") == ["determination(\"L4-L5\",none)"]
    # an item at a level answers to that level alone
    assert _evidence(policy, _item_case(graft_at="L3-L4"), "not_met", "T-GRAFT") == [
        "absent(requested(\"L3-L4\",fusion))", "determination(\"L3-L4\",not_addressed)"]
    assert _evidence(policy, _item_case(graft_at="L4-L5"), "met", "T-GRAFT") == ["determination(\"L4-L5\",fusion)"]
    # a what-if never assumes fused_level(F) met where no fusion is justified: the fusion is what it needs
    silent = _item_case(radiculopathy=None)
    [bmp] = [i for i in Engine(policy).decide(silent, would_change=True).items if i.item == "rhbmp2"]
    assert bmp.determination == "not_medically_necessary"
    assert {w.criterion_ids for w in bmp.would_change} == {("T-LVL",)}
    # one answer per case, as check and diff must be able to prove: no choice hidden in the grounding
    from engine.analysing.analysis import gaps

    assert gaps(policy, ("L4-L5",), 1).unstratified == ()


@pytest.mark.parametrize("blocks, want, cited", [
    ((80, 75), T, ["si_diagnostic_block(1,800)", "si_diagnostic_block(2,750)"]),
    ((80, 50), F, ["si_diagnostic_block(1,800)", "si_diagnostic_block(2,500)"]),
    ((), F, ["absent(si_diagnostic_block)"]),
    (None, U, []),
])
def test_a_count_of_measurements_meeting_a_figure(tmp_path, blocks, want, cited):
    policy = _small_policy(tmp_path, ITEM_POLICY)
    case = _item_case(blocks=blocks)
    got = {cid: st for cid, _, st in Engine(policy).decide(case, would_change=False).statuses}
    assert got["T-BLOCKS"] == want
    assert _evidence(policy, case, {T: "met", F: "not_met", U: "met"}[want], "T-BLOCKS") == cited


# -- blocks that read the record beyond findings and figures -----------------------------------------------

BLOCKS_POLICY = """
criterion("B-OP", "operated", "test").
scope("B-OP", level).
bears_on("B-OP", decompression_only).
formula("B-OP", operated(laminectomy)).
criterion("B-SIDE", "side", "test").
scope("B-SIDE", item(si_joint_fusion)).
formula("B-SIDE", negate(side(bilateral))).
criterion("B-TWO", "two blocks", "test").
scope("B-TWO", item(si_joint_fusion)).
formula("B-TWO", several(2, at_least(si_block_relief, 750))).
criterion("B-ARTH", "arthropathy excluded", "test").
scope("B-ARTH", item(si_joint_fusion)).
formula("B-ARTH", is(inflammatory_arthropathy, excluded)).
criterion("B-EX", "excluded", "test").
scope("B-EX", item(interspinous_device)).
formula("B-EX", excluded("unproven")).
derived("B-EX").
"""


@pytest.fixture(scope="module")
def blocks_policy(tmp_path_factory):
    return written(tmp_path_factory.mktemp("blocks"), "blocks", HEADER + BLOCKS_POLICY)


def _blocks_case(surgeries=None, side=None, blocks=None, arthropathy=None):
    import json

    item = {"item": "si_joint_fusion"}
    if side is not None:
        item["side"] = side
    history = {}
    if surgeries is not None:
        history["prior_surgeries"] = surgeries
    if arthropathy is not None:
        history["inflammatory_arthropathy"] = {"kind": "ankylosing_spondylitis", "status": arthropathy}
    if blocks is not None:
        history["si_joint"] = {"diagnostic_blocks": [{"relief_pct": r} for r in blocks]}
    text = {"case": "b", "request": {"date": "2026-01-10",
                                     "levels": [{"level": "L4-L5", "decompression": "laminectomy"}],
                                     "items": [item, {"item": "interspinous_device", "level": "L4-L5"}]}}
    if history:
        text["history"] = history
    return parse_case(json.dumps(text), "b.json", fmt="json")


def _judged(policy, case, cid):
    """(status, evidence of that status) of criterion ``cid`` on ``case``."""
    model = _atoms(policy, case)
    kinds = {a.name for a in model if a.name in ("met", "not_met") and a.arguments[0].string == cid}
    status = "met" if "met" in kinds else ("not_met" if kinds else U)
    return status, sorted(str(a.arguments[2]) for a in model if a.name == status and a.arguments[0].string == cid)


@pytest.mark.parametrize("surgeries, want", [
    ([{"type": "laminectomy", "level": "L4-L5"}], (T, ["prior_surgery(1,laminectomy,lumbar)"])),
    ([{"type": "laminectomy", "level": "L2-L3"}, {"type": "discectomy", "level": "L4-L5"}],
     (F, ["absent(prior_surgery(\"L4-L5\"))"])),
    ([], (F, ["absent(prior_surgery(\"L4-L5\"))"])),
    ([{"type": "laminectomy"}], (U, [])),  # of no stated level: it may have been at L4-L5
    (None, (U, [])),
])
def test_operated_reads_the_prior_operations_at_the_level(blocks_policy, surgeries, want):
    assert _judged(blocks_policy, _blocks_case(surgeries=surgeries), "B-OP") == want


@pytest.mark.parametrize("side, want", [
    ("left", (T, ["requested_item_side(si_joint_fusion,left)"])),
    ("bilateral", (F, ["requested_item_side(si_joint_fusion,bilateral)"])),
    (None, (U, [])),
])
def test_side_reads_the_side_of_the_item_judged(blocks_policy, side, want):
    assert _judged(blocks_policy, _blocks_case(side=side), "B-SIDE") == want


@pytest.mark.parametrize("blocks, status, cited", [
    ([80, 90, 50], T, 2),   # two blocks meet the figure: those two cited
    ([80, 50], F, 2),       # fewer than two can: every block cited
    ([75], F, 1),
    ([], F, 1),             # the documented empty list
    (None, U, 0),
])
def test_times_counts_the_measurements_that_meet_the_figure(blocks_policy, blocks, status, cited):
    got, evidence = _judged(blocks_policy, _blocks_case(blocks=blocks), "B-TWO")
    assert (got, len(evidence)) == (status, cited), evidence
    if blocks == []:
        assert evidence == ["absent(si_diagnostic_block)"]


@pytest.mark.parametrize("arthropathy, want", [
    ("excluded", (T, ["inflammatory_arthropathy(ankylosing_spondylitis,excluded)"])),
    ("confirmed", (F, ["inflammatory_arthropathy(ankylosing_spondylitis,confirmed)"])),
    ("suspected", (U, [])),  # a suspicion settles neither way
    (None, (U, [])),
])
def test_a_suspected_arthropathy_is_no_category(blocks_policy, arthropathy, want):
    assert _judged(blocks_policy, _blocks_case(arthropathy=arthropathy), "B-ARTH") == want


def test_excluded_is_never_met_and_cites_the_reason(blocks_policy):
    assert _judged(blocks_policy, _blocks_case(), "B-EX") == (F, ['exclusion("unproven")'])
    [item] = [i for i in Engine(blocks_policy).decide(_blocks_case(), would_change=False).items
              if i.item == "interspinous_device"]
    assert item.determination == "not_medically_necessary"
    # check and coverage read it as an exclusion: never met, as declared (not a dead criterion)
    from engine.authoring.testrun import coverable_sides

    assert coverable_sides(blocks_policy)["B-EX"] == (False, True)
    assert coverable_sides(blocks_policy)["B-TWO"] == (True, True)


def test_the_analyses_read_what_the_new_leaves_read():
    from engine.analysing.formulas import figures, reads
    from engine.deciding.core import statements

    import clingo

    stms = []
    clingo.ast.parse_string(BLOCKS_POLICY, stms.append)
    got = {(sig, fixed) for _, sig, fixed in reads(stms)}
    assert {("prior_surgery/3", ()), ("prior_surgery_level/2", ()), ("requested_item_side/2", ()),
            ("documented/1", ((0, "prior_surgeries"),))} <= got
    numbers, constants = figures(stms)
    assert "laminectomy" in constants[("prior_surgery/3", 1)] and "bilateral" in constants[("requested_item_side/2", 1)]
    assert 750 in numbers[("si_diagnostic_block/2", 1)]
    assert statements  # the core is loaded beside these rules


# ---- conservative care: counted days, the span, a window before the request, the outcome ----------------

CARE = {
    "T-DAYS": "at_least(care_days(care(physical_therapy, supervised_in_person, except(not_tolerated), except(1))), 42)",
    "T-SPAN": "at_least(care_span, 84)",
    "T-WINDOW": "ended_within(care(physical_therapy, supervised_in_person), 12)",
    "T-OUTCOME": "any(outcome(failed, resolved), outcome(partial_relief, resolved))",
    "T-FEW": "at_most(care_days(care(chiropractic)), 30)",
}


@pytest.fixture(scope="module")
def care_policy(tmp_path_factory):
    body = case_criteria(CARE)
    return written(tmp_path_factory.mktemp("care"), "care", HEADER + body)


def _care_case(episodes: list[dict] | None, total_weeks: int | None = None):
    import json

    care: dict = {}
    if episodes is not None:
        care["episodes"] = episodes
    if total_weeks is not None:
        care["total_weeks"] = total_weeks
    text = {"case": "c", "request": {"date": "2026-01-10", "levels": [{"level": "L4-L5", "decompression": "laminectomy"}]},
            "conservative_care": care}
    return parse_case(json.dumps(text), "c.json", fmt="json")


PT = {"modality": "physical_therapy", "delivery": "supervised_in_person"}


def _care_statuses(care_policy, case):
    return {cid: st for cid, _, st in Engine(care_policy).decide(case, would_change=False).statuses}


def test_care_met(care_policy):
    case = _care_case([{**PT, "start": "2025-03-01", "end": "2025-06-30", "outcome": "failed"},
                       {"modality": "chiropractic", "weeks": 4}])
    assert _care_statuses(care_policy, case) == {"T-DAYS": T, "T-SPAN": T, "T-WINDOW": T, "T-OUTCOME": T, "T-FEW": T}
    assert _evidence(care_policy, case, "met", "T-DAYS") == ["care_days(1,121,121)"]
    # every span that reaches 84 days: the episode's own length, and first start to last end
    assert _evidence(care_policy, case, "met", "T-SPAN") == [
        "care_days(1,121,121)", "care_end(1,20269,20269)", "care_start(1,20148,20148)"]
    assert _evidence(care_policy, case, "met", "T-WINDOW") == ["care_end(1,20269,20269)"]
    assert _evidence(care_policy, case, "met", "T-OUTCOME") == ["care_outcome(1,failed)"]


def test_care_not_met(care_policy):
    """Documented short, stale and resolved: refuted, citing the facts that count and those that leave PT out."""
    case = _care_case([{**PT, "start": "2024-06-01", "end": "2024-06-29", "outcome": "resolved"},
                       {"modality": "physical_therapy", "delivery": "home_program", "weeks": 10},
                       {**PT, "weeks": 8, "sessions": 1},
                       {"modality": "chiropractic", "weeks": 6}])
    assert _care_statuses(care_policy, case) == {"T-DAYS": F, "T-SPAN": F, "T-WINDOW": F, "T-OUTCOME": F, "T-FEW": F}
    assert _evidence(care_policy, case, "not_met", "T-DAYS") == [
        "care_days(1,28,28)", "care_delivery(2,home_program)", "care_sessions(3,1)"]
    assert _evidence(care_policy, case, "not_met", "T-SPAN") == ["care_days(2,70,70)"]
    assert _evidence(care_policy, case, "not_met", "T-WINDOW") == ["care_end(1,19903,19903)"]
    assert _evidence(care_policy, case, "not_met", "T-OUTCOME") == ["care_outcome(1,resolved)"]
    # at_most is refuted by reaching past the figure
    assert _evidence(care_policy, case, "not_met", "T-FEW") == ["care_days(4,42,42)"]


def test_care_not_documented(care_policy):
    """PT of unknown length, delivery and dates, no outcome: every care block is left open, not refuted."""
    case = _care_case([{"modality": "physical_therapy"}, {"modality": "chiropractic"}])
    assert _care_statuses(care_policy, case) == {"T-DAYS": U, "T-SPAN": U, "T-WINDOW": U, "T-OUTCOME": U, "T-FEW": U}
    assert not _evidence(care_policy, case, "unsettled", "T-DAYS")
    # care listed, but none of the modality counted: 6 weeks stay open, never read as none
    assert _care_statuses(care_policy, _care_case([{"modality": "nsaids", "weeks": 12}]))["T-DAYS"] == U


def test_care_documented_absent(care_policy):
    """An empty list documents that no care was given: every care block is refuted on it."""
    case = _care_case([])
    statuses = _care_statuses(care_policy, case)
    assert statuses == {"T-DAYS": F, "T-SPAN": F, "T-WINDOW": F, "T-OUTCOME": F, "T-FEW": T}
    for cid in ("T-DAYS", "T-SPAN", "T-WINDOW", "T-OUTCOME"):
        assert _evidence(care_policy, case, "not_met", cid) == ["absent(care_episodes)"]


def test_care_unsettled_by_a_date_known_to_the_month(care_policy):
    """Dates known only to the month that straddle a figure: not documented, the exact date would settle it."""
    case = _care_case([{**PT, "start": "2025-09", "end": "2025-11"}])
    statuses = _care_statuses(care_policy, case)
    assert (statuses["T-DAYS"], statuses["T-SPAN"], statuses["T-WINDOW"]) == (U, U, T)
    both = ["imprecise(care_end(1,20393,20422))", "imprecise(care_start(1,20332,20361))"]
    assert _evidence(care_policy, case, "unsettled", "T-DAYS") == both
    # the span cites the episode's length too, itself a range when its dates are
    assert _evidence(care_policy, case, "unsettled", "T-SPAN") == ["imprecise(care_days(1,32,90))", *both]
    # an end in January 2025 against a window that opens on 10 January 2025
    late = _care_case([{**PT, "start": "2024-10-01", "end": "2025-01"}])
    assert _care_statuses(care_policy, late)["T-WINDOW"] == U
    assert _evidence(care_policy, late, "unsettled", "T-WINDOW") == ["imprecise(care_end(1,20089,20119))"]
    # a figure the month cannot move either way is decided, with nothing unsettled
    assert _care_statuses(care_policy, _care_case([{**PT, "start": "2025-01", "end": "2025-06"}]))["T-DAYS"] == T


def test_the_analyses_read_care_figures_from_formulas(care_policy, tmp_path):
    """check and diff try care on both sides of each figure: days, the span's total and dates, the window's months."""
    from engine.analysing.figures import figures
    from engine.analysing.reads import case_reads
    from engine.deciding.core import statements
    from facts.vocabulary import SIGNATURES

    found = figures([*statements(), *care_policy.statements], SIGNATURES)
    assert {42, 30} <= found.of(("care_days/3", 1)) and 84 in found.of(("care_days/3", 2))
    assert 84 in found.of(("conservative_care_total_days/1", 0)) and 84 in found.of(("care_start/3", 1))
    assert 12 in found.of(("calendar_date/4", 2)) and 1 in found.of(("care_sessions/2", 1))
    assert {"not_tolerated", "failed", "resolved"} <= found.constants[("care_outcome/2", 1)]
    assert "supervised_in_person" in found.constants[("care_delivery/2", 1)]
    reads = {(r.criterion, r.predicate, r.fixed) for r in case_reads(care_policy)}
    assert ("T-DAYS", "care_sessions/2", ((1, "1"),)) in reads
    assert ("T-WINDOW", "calendar_date/4", ()) in reads
    assert ("T-OUTCOME", "care_outcome/2", ((1, "resolved"),)) in reads
    assert _lint(tmp_path, 'formula("X-1", at_least(care_days(physical_therapy), 42)).\n') == [
        "E306 'at_least(care_days(physical_therapy),42)': choose the episodes with care(Modality), "
        "care(Modality, Delivery) or care(M, D, O, N)"]


def test_a_list_without_the_modality_and_a_date_that_would_settle_it_either_way(tmp_path):
    """received(M) refutes on a documented list without M; a month-precision date unsettles a formula only where
    knowing it would decide the formula: the other parts of an all met (a silent finding leaves it open anyway)."""
    import json

    days = "at_least(care_days(care(physical_therapy, supervised_in_person)), 42)"
    policy = _small_policy(tmp_path, "".join(
        f'criterion("{cid}", "{cid}", "t").\nscope("{cid}", case).\nbears_on("{cid}", decompression_only).\n'
        f'formula("{cid}", {f}).\n' for cid, f in (
            ("T-HAD", f"all(given(received(physical_therapy)), {days})"),
            ("T-OPEN", f"all(finding(radiculopathy), {days})"))))

    def case(episodes, radiculopathy=None):
        text = {"case": "c", "request": {"date": "2026-01-10",
                                         "levels": [{"level": "L4-L5", "decompression": "laminectomy"}]},
                "conservative_care": {"episodes": episodes}}
        if radiculopathy is not None:
            text["clinical"] = {"radiculopathy": {"present": radiculopathy}}
        return parse_case(json.dumps(text), "c.json", fmt="json")

    assert _evidence(policy, case([{"modality": "chiropractic", "weeks": 6}]), "not_met", "T-HAD") == [
        "absent(physical_therapy)"]
    assert _evidence(policy, case([]), "not_met", "T-HAD") == ["absent(care_episodes)"]
    assert _evidence(policy, case([{**PT, "weeks": 7}]), "met", "T-HAD") == ["care_days(1,49,49)"]
    month = [{**PT, "start": "2025-09", "end": "2025-11"}]
    both = ["imprecise(care_end(1,20393,20422))", "imprecise(care_start(1,20332,20361))"]
    assert _evidence(policy, case(month), "unsettled", "T-HAD") == both
    assert _evidence(policy, case(month), "unsettled", "T-OPEN") == []
    assert _evidence(policy, case(month, radiculopathy=True), "unsettled", "T-OPEN") == both
    assert _care_statuses(policy, case(month, radiculopathy=False))["T-OPEN"] == F


# -- the plan at a level, and a branch a study leaves open ----------------------------------------------------

PLAN_POLICY = """
criterion("P-FACETS", "facets", "test").
scope("P-FACETS", level).
bears_on("P-FACETS", fusion).
formula("P-FACETS", any(several(2, over(facet_resection, 500)), at_least(facet_resection, 750))).
criterion("P-CORP", "corpectomy", "test").
scope("P-CORP", level).
bears_on("P-CORP", fusion).
formula("P-CORP", at_least(corpectomy, 333)).
criterion("P-PARS", "pars", "test").
scope("P-PARS", level).
bears_on("P-PARS", fusion).
formula("P-PARS", planned(pars_resection)).
criterion("P-OPEN", "stated short unless a slip may still be", "test").
scope("P-OPEN", level).
bears_on("P-OPEN", fusion).
formula("P-OPEN", any(planned(pars_resection), pending(all(imaging(slip), imaging(foraminal))))).
study_answer(at(slip, L), St, yes, spondylolisthesis_grade(L, 1, St)) :- spondylolisthesis_grade(L, 1, St).
study_answer(at(slip, L), St, no, level_finding(L, spondylolisthesis, no, St)) :-
    level_finding(L, spondylolisthesis, no, St).
study_answer(at(foraminal, L), St, yes, stenosis(L, foraminal, S, G, St)) :- stenosis(L, foraminal, S, G, St), G = severe.
criterion("P-RECENT", "the study showing it is recent", "test").
scope("P-RECENT", level).
bears_on("P-RECENT", fusion).
formula("P-RECENT", imaged_within(foraminal, 6)).
"""


@pytest.fixture(scope="module")
def plan_policy(tmp_path_factory):
    return written(tmp_path_factory.mktemp("plan"), "plan", HEADER + PLAN_POLICY)


def _plan_case(plan: dict, levels: list[dict] | None = None):
    import json

    text = {"case": "p", "request": {"date": "2026-01-10", "levels": [
        {"level": "L4-L5", "decompression": {"technique": "laminectomy", **plan}, "fusion": True},
        {"level": "L3-L4", "decompression": "laminectomy"}]}}
    if levels is not None:
        text["imaging"] = [{"study": "mri", "date": "2026-01-02", "levels": levels}]
    return parse_case(json.dumps(text), "p.json", fmt="json")


def _at(policy, case, cid, level="L4-L5"):
    model = _atoms(policy, case)
    kinds = {a.name for a in model if a.name in ("met", "not_met") and a.arguments[0].string == cid
             and str(a.arguments[1]) == f'"{level}"'}
    status = "met" if "met" in kinds else ("not_met" if kinds else U)
    return status, sorted(str(a.arguments[2]) for a in model if a.name == status and a.arguments[0].string == cid
                          and str(a.arguments[1]) == f'"{level}"')


@pytest.mark.parametrize("facets, want", [
    ({"left": 60, "right": 55}, (T, ['planned_facet_resection("L4-L5",left,600)',
                                     'planned_facet_resection("L4-L5",right,550)'])),
    ({"left": 80}, (T, ['planned_facet_resection("L4-L5",left,800)'])),
    # one side over 50% and the other not planned: the other side has none
    ({"left": 60}, (F, ['planned_facet_resection("L4-L5",left,600)'])),
    ({"left": 60, "right": 40}, (F, ['planned_facet_resection("L4-L5",left,600)',
                                     'planned_facet_resection("L4-L5",right,400)'])),
])
def test_the_plan_at_a_level_is_measured_there(plan_policy, facets, want):
    case = _plan_case({"facet_resection_pct": facets})
    assert _at(plan_policy, case, "P-FACETS") == want
    assert _at(plan_policy, case, "P-FACETS", "L3-L4") == (U, [])  # another level's plan is not this one's


@pytest.mark.parametrize("plan, cid, want", [
    ({"corpectomy_pct": 33.3}, "P-CORP", (T, ['planned_corpectomy("L4-L5",333)'])),
    ({"corpectomy_pct": 33.2}, "P-CORP", (F, ['planned_corpectomy("L4-L5",332)'])),
    ({"pars_resection": True}, "P-PARS", (T, ['planned_pars_resection("L4-L5",yes)'])),
    ({"pars_resection": False}, "P-PARS", (F, ['planned_pars_resection("L4-L5",no)'])),
    ({}, "P-PARS", (U, [])),
])
def test_corpectomy_and_pars_at_the_level(plan_policy, plan, cid, want):
    assert _at(plan_policy, _plan_case(plan), cid) == want


def _two_studies(older_slip: dict, newer_slip: dict, foraminal: str | None, dated: bool):
    """An MRI and an X-ray reporting the slip at L4-L5, dated in order or not at all."""
    import json

    mri: dict = {"level": "L4-L5", "spondylolisthesis": older_slip}
    if foraminal is not None:
        mri["stenosis"] = [{"zone": "foraminal", "side": "left", "grade": foraminal}]
    studies = [{"study": "mri", "levels": [mri]},
               {"study": "xray", "levels": [{"level": "L4-L5", "spondylolisthesis": newer_slip}]}]
    if dated:
        studies[0]["date"], studies[1]["date"] = "2025-11-02", "2026-01-02"
    text = {"case": "p", "request": {"date": "2026-01-10", "levels": [
        {"level": "L4-L5", "decompression": {"technique": "laminectomy", "pars_resection": False}, "fusion": True}]},
        "imaging": studies}
    return parse_case(json.dumps(text), "p.json", fmt="json")


@pytest.mark.parametrize("foraminal, dated, want", [
    ("severe", False, U),   # grade I or none, the order undocumented: the branch may still hold
    (None, False, F),       # no foraminal stenosis that may be: the stated plan refutes it
    ("severe", True, F),    # the later X-ray governs: no slip, nothing open
])
def test_pending_stops_a_refutation_while_a_study_leaves_the_branch_open(plan_policy, foraminal, dated, want):
    case = _two_studies({"present": True, "meyerding_grade": 1}, {"present": False}, foraminal, dated)
    got, evidence = _at(plan_policy, case, "P-OPEN")
    assert got == want
    if got == F:
        assert evidence == ['planned_pars_resection("L4-L5",no)']  # pending cites nothing


@pytest.mark.parametrize("date, want", [
    # the request is 2026-01-10: the window opens on 2025-07-10
    ("2025-07-10", T), ("2025-07-09", F),
    ("2025-07", U),     # known to the month: either side of the 10th, the exact date would settle it
    ("2025-06", F),     # known to the month, all of it before the window
    (None, U),          # undated: nothing to compare
])
def test_imaged_within_dates_the_study_that_answers_yes(plan_policy, date, want):
    import json

    mri: dict = {"study": "mri", "levels": [{"level": "L4-L5", "stenosis": [
        {"zone": "foraminal", "side": "left", "grade": "severe"}]}]}
    if date is not None:
        mri["date"] = date
    text = {"case": "p", "request": {"date": "2026-01-10", "levels": [
        {"level": "L4-L5", "decompression": "laminectomy", "fusion": True}]}, "imaging": [mri]}
    case = parse_case(json.dumps(text), "p.json", fmt="json")
    got, evidence = _at(plan_policy, case, "P-RECENT")
    assert got == want
    if want != U:  # the study's date and the request's are cited
        assert [e.split("(")[0] for e in evidence] == ["imaging_date", "request_date"], evidence
        low, high = evidence[0].rstrip(")").split(",")[1:]
        assert (low != high) == (len(date) == 7)
    model = _atoms(plan_policy, case)
    unsettled = [str(a.arguments[2]) for a in model if a.name == "unsettled" and a.arguments[0].string == "P-RECENT"]
    assert [u.split(",")[0] for u in unsettled] == (["imprecise(imaging_date(1"] if date == "2025-07" else [])


# ---- determinations, prior surgery and the request as leaves (items and revision) -------------------

LEVELS = """
criterion("T-GRADE", "grade", "test").
scope("T-GRADE", level).
bears_on("T-GRADE", decompression_only).
formula("T-GRADE", imaging(stenosis_grade)).
study_answer(at(stenosis_grade, L), St, yes, stenosis(L, Z, S, G, St)) :- stenosis(L, Z, S, G, St), G = severe.
study_answer(at(stenosis_grade, L), St, no, stenosis(L, Z, S, G, St)) :- stenosis(L, Z, S, G, St), G = mild.
justifies(decompression_only, criterion("T-GRADE")).
justifies(fusion, all(requested(fusion), criterion("T-GRADE"))).
"""
ITEMS = {
    "T-REV": ("level", "then(prior_decompression, all(requested(decompression), stenosis_reported))"),
    "T-GRAFT": ("item(allograft)", "fusion_justified"),
    "T-BMP": ("item(rhbmp2)", "all(given(fusion_justified), at_fused_level(prior_surgery))"),
    "T-AT": ("item(cement_augmentation)", 'fused_at("L5-S1")'),
    "T-STAY": ("item(inpatient_setting)", "any(at_least(fused_levels, 2), combined_approach)"),
    "T-SI": ("item(si_joint_fusion)", "is(si_joint_arthropathy, confirmed)"),
}


@pytest.fixture(scope="module")
def level_policy(tmp_path_factory):
    body = "".join(f'criterion("{cid}", "{cid}", "test").\nscope("{cid}", {scope}).\nformula("{cid}", {formula}).\n'
                   + (f'bears_on("{cid}", fusion).\n' if scope == "level" else "")
                   for cid, (scope, formula) in ITEMS.items())
    return written(tmp_path_factory.mktemp("levels"), "levels", HEADER + LEVELS + body)


def _level_case(levels: dict[str, tuple[str, str | None]], prior: list[dict] | None = None, arthropathy=None):
    """levels: level -> (stenosis grade, fusion approach or None for decompression only)."""
    import json

    text = {"case": "l", "request": {
        "date": "2026-01-10", "setting": "inpatient",
        "levels": [{"level": lv, "decompression": "laminectomy", **({"fusion": {"approaches": [a]}} if a else {})}
                   for lv, (_, a) in levels.items()],
        "items": [{"item": i} for i in ("allograft", "rhbmp2", "cement_augmentation", "si_joint_fusion")]},
        "imaging": [{"study": "mri", "date": "2026-01-02", "levels": [
            {"level": lv, "stenosis": [{"zone": "central", "grade": g}]} for lv, (g, _) in levels.items()]}]}
    history: dict = {}
    if prior is not None:
        history["prior_surgeries"] = prior
    if arthropathy is not None:
        history["inflammatory_arthropathy"] = arthropathy
    if history:
        text["history"] = history
    return parse_case(json.dumps(text), "l.json", fmt="json")


def _level_statuses(policy, case):
    return {(cid, s): st for cid, s, st in Engine(policy).decide(case, would_change=False).statuses}


def _ev(policy, case, kind, cid, scope=None):
    return sorted(str(a.arguments[2]) for a in _atoms(policy, case) if a.name == kind
                  and a.arguments[0].string == cid and (scope is None or str(a.arguments[1]) == scope))


def test_determinations_as_leaves_met(level_policy):
    case = _level_case({"L4-L5": ("severe", "alif"), "L5-S1": ("severe", "tlif")},
                       prior=[{"type": "laminectomy", "level": "L4-L5"}])
    got = _level_statuses(level_policy, case)
    assert got[("T-GRAFT", "allograft")] == got[("T-BMP", "rhbmp2")] == got[("T-AT", "cement_augmentation")] == T
    assert got[("T-STAY", "inpatient_setting")] == T
    assert _ev(level_policy, case, "met", "T-GRAFT") == ['determination("L4-L5",fusion)', 'determination("L5-S1",fusion)']
    # at_fused_level cites the part's evidence and that level's determination
    assert _ev(level_policy, case, "met", "T-BMP") == ['determination("L4-L5",fusion)', 'prior_surgery(1,laminectomy,lumbar)']
    assert _ev(level_policy, case, "met", "T-STAY") == [
        'determination("L4-L5",fusion)', 'determination("L5-S1",fusion)',
        'fusion_approach("L4-L5",alif)', 'fusion_approach("L5-S1",tlif)']
    # then(A, B): a prior decompression and the revision requested with stenosis there
    assert got[("T-REV", "L4-L5")] == T and got[("T-REV", "L5-S1")] == F
    assert _ev(level_policy, case, "met", "T-REV", '"L4-L5"') == [
        'prior_surgery(1,laminectomy,lumbar)', 'stenosis("L4-L5",central,unspecified,severe,1)']
    assert _ev(level_policy, case, "not_met", "T-REV", '"L5-S1"') == ['absent(prior_decompression("L5-S1"))']


def test_determinations_as_leaves_not_met(level_policy):
    case = _level_case({"L4-L5": ("mild", "tlif"), "L5-S1": ("severe", None)}, prior=[])
    got = _level_statuses(level_policy, case)
    assert got[("T-GRAFT", "allograft")] == got[("T-BMP", "rhbmp2")] == got[("T-STAY", "inpatient_setting")] == F
    # fusion_justified cites each level that asked for fusion and fell short
    assert _ev(level_policy, case, "not_met", "T-GRAFT") == ['determination("L4-L5",none)']
    assert _ev(level_policy, case, "not_met", "T-AT") == [
        'absent(requested("L5-S1",fusion))', 'determination("L5-S1",decompression_only)']
    # one fused level from behind only: at_least(fused_levels, 2) and combined_approach fail
    one = _level_case({"L4-L5": ("severe", "tlif")}, prior=[{"type": "fusion", "level": "L3-L4"}])
    got = _level_statuses(level_policy, one)
    assert got[("T-STAY", "inpatient_setting")] == F and got[("T-BMP", "rhbmp2")] == F
    assert _ev(level_policy, one, "not_met", "T-STAY") == ['determination("L4-L5",fusion)']
    assert _ev(level_policy, one, "not_met", "T-BMP") == ['absent(prior_surgery("L4-L5"))']
    # a prior decompression at the level, but only fusion requested there: then cites the request alone
    asked = _level_case({"L4-L5": ("severe", "tlif")}, prior=[{"type": "discectomy", "level": "L4-L5"}])
    assert _ev(level_policy, asked, "met", "T-REV") == [
        'prior_surgery(1,discectomy,lumbar)', 'stenosis("L4-L5",central,unspecified,severe,1)']


def test_determinations_as_leaves_not_documented(level_policy):
    """Prior surgery not documented, or of unknown level: rhBMP-2 and the revision stay open."""
    case = _level_case({"L4-L5": ("severe", "tlif")})
    got = _level_statuses(level_policy, case)
    assert got[("T-BMP", "rhbmp2")] == got[("T-REV", "L4-L5")] == got[("T-SI", "si_joint_fusion")] == U
    unplaced = _level_case({"L4-L5": ("severe", "tlif")}, prior=[{"type": "laminotomy"}])
    got = _level_statuses(level_policy, unplaced)
    assert got[("T-BMP", "rhbmp2")] == got[("T-REV", "L4-L5")] == U


@pytest.mark.parametrize("arthropathy, status, cited", [
    ({"kind": "ankylosing_spondylitis", "status": "confirmed", "involves_si_joint": True}, T,
     "inflammatory_arthropathy_si_joint(ankylosing_spondylitis,yes)"),
    ({"kind": "ankylosing_spondylitis", "status": "excluded"}, F, "inflammatory_arthropathy(ankylosing_spondylitis,excluded)"),
    ({"kind": "ankylosing_spondylitis", "status": "suspected", "involves_si_joint": True}, U, None),
])
def test_an_arthropathy_at_the_si_joint(level_policy, arthropathy, status, cited):
    case = _level_case({"L4-L5": ("severe", None)}, arthropathy=arthropathy)
    assert _level_statuses(level_policy, case)[("T-SI", "si_joint_fusion")] == status
    if cited:
        assert _ev(level_policy, case, "met" if status == T else "not_met", "T-SI") == [cited]


COUNTS = {
    "C-BLOCKS": "several(2, at_least(si_block_relief, 750))",
    "C-PAIN": "at_least(pain_score, 30)",
    "C-ADL": "at_least(limited_activities, 2)",
    "C-PT": "received(physical_therapy)",
    "C-PT6": "all(given(received(physical_therapy)), at_least(care_days(care(physical_therapy)), 42))",
    "C-HBA1C": "lacks(over(hba1c, 80))",
}


@pytest.fixture(scope="module")
def counts(tmp_path_factory):
    body = "".join(f'criterion("{cid}", "{cid}", "test").\nscope("{cid}", case).\nbears_on("{cid}", '
                   f'decompression_only).\nformula("{cid}", {formula}).\n' for cid, formula in COUNTS.items())
    return written(tmp_path_factory.mktemp("counts"), "counts", HEADER + body)


def _counted(blocks=None, pains=None, activities=None, care=None):
    import json

    text = {"case": "t", "request": {"date": "2026-01-10",
                                     "levels": [{"level": "L4-L5", "decompression": "laminectomy"}]}}
    clinical = {}
    if pains is not None:
        clinical["pain_scores"] = [{"scale": scale, "score": score} for scale, score in pains]
    if activities is not None:
        clinical["limited_activities"] = list(activities)
    if clinical:
        text["clinical"] = clinical
    if blocks is not None:
        text["history"] = {"si_joint": {"diagnostic_blocks": [{"relief_pct": r} for r in blocks]}}
    if care is not None:
        text["conservative_care"] = {"episodes": [{"modality": m, **({"weeks": w} if w else {})} for m, w in care]}
    return parse_case(json.dumps(text), "t.json", fmt="json")


@pytest.mark.parametrize("blocks, kind, cited", [
    ([80, 76, 50], "met", ["si_diagnostic_block(1,800)", "si_diagnostic_block(2,760)"]),
    ([80, 60], "not_met", ["si_diagnostic_block(1,800)", "si_diagnostic_block(2,600)"]),
    ([], "not_met", ["absent(si_diagnostic_block)"]),
    (None, None, []),
])
def test_several_counts_the_measurements_that_meet_a_figure(counts, blocks, kind, cited):
    """Two blocks each giving 75% relief: one of two is not enough, and only the ones that meet it are cited."""
    case = _counted(blocks=blocks)
    got = {cid: st for cid, _, st in Engine(counts).decide(case, would_change=False).statuses}
    assert got["C-BLOCKS"] == {"met": T, "not_met": F, None: U}[kind]
    for k in ("met", "not_met"):
        assert _evidence(counts, case, k, "C-BLOCKS") == (cited if k == kind else [])


@pytest.mark.parametrize("pains, activities, pain, adl", [
    ([("nrs", 4)], ["walking", "sitting"], T, T),
    ([("vas", 2), ("nrs", 2.9)], ["walking"], F, F),
    ([], [], U, F),
    (None, None, U, U),
])
def test_a_pain_score_on_any_scale_and_the_number_of_limited_activities(counts, pains, activities, pain, adl):
    case = _counted(pains=pains, activities=activities)
    got = {cid: st for cid, _, st in Engine(counts).decide(case, would_change=False).statuses}
    assert (got["C-PAIN"], got["C-ADL"]) == (pain, adl)
    if activities == []:
        assert _evidence(counts, case, "not_met", "C-ADL") == ["absent(limited_activity)"]
    if activities == ["walking", "sitting"]:
        assert _evidence(counts, case, "met", "C-ADL") == ['limited_activity("sitting")', 'limited_activity("walking")']


def test_a_counted_measurement_is_read_from_the_list_it_counts(counts):
    """The analyses and the DTR questionnaire see that at_least(limited_activities, 2) reads limited_activity/1."""
    from engine.analysing.reads import case_reads

    assert any(r.criterion == "C-ADL" and r.predicate == "limited_activity/1" for r in case_reads(counts))
    assert any(r.criterion == "C-PAIN" and r.predicate == "pain_score/2" for r in case_reads(counts))
    assert any(r.criterion == "C-PT" and r.predicate == "care_episode/2" and (1, "physical_therapy") in r.fixed
               for r in case_reads(counts))


def test_the_space_holds_lists_longer_than_the_counts_formulas_compare(counts):
    """check's space offers three limited activities and three blocks where a formula compares a count with 2."""
    from engine.analysing.figures import figures
    from engine.deciding.core import statements
    from facts.vocabulary import SIGNATURES

    found = figures([*statements(), *counts.statements], SIGNATURES).counts
    assert found["limited_activity/1@0"] == {2} and found["si_diagnostic_block/2@0"] == {2}


def test_the_space_offers_one_value_each_side_of_a_formula_figure(counts):
    """at_least 42 is met by 42 and missed by 41, over 80 met by 81 and missed by 80: the space offers those
    and no third value (each one more multiplies the cases check and diff search)."""
    from engine.analysing.figures import figures
    from engine.deciding.core import statements
    from facts.vocabulary import SIGNATURES

    found = figures([*statements(), *counts.statements], SIGNATURES)
    assert found.offered(("si_diagnostic_block/2", 1)) == {749, 750}
    assert found.offered(("hba1c/1", 0)) == {80, 81}
    assert {41, 42} <= found.offered(("care_days/3", 1)) and 43 not in found.offered(("care_days/3", 1))


@pytest.mark.parametrize("care, pt, pt6, cited", [
    (None, U, U, []),
    ([], F, F, ["absent(care_episodes)"]),
    ([("chiropractic", 8)], F, F, ["absent(physical_therapy)"]),
    ([("physical_therapy", 2), ("nsaids", None)], T, F, ["care_days(1,14,14)"]),
    ([("physical_therapy", 7)], T, T, ["care_days(1,49,49)"]),
])
def test_received_reads_the_list_of_care_as_the_whole_account(counts, care, pt, pt6, cited):
    """A list of care without physical therapy refutes it (absent(physical_therapy)); as a precondition it is
    cited only when it fails, so 6 weeks of therapy cite the therapy's days alone."""
    case = _counted(care=care)
    got = {cid: st for cid, _, st in Engine(counts).decide(case, would_change=False).statuses}
    assert (got["C-PT"], got["C-PT6"]) == (pt, pt6)
    assert _evidence(counts, case, "met" if pt6 == T else "not_met", "C-PT6") == cited
