"""Soundness held by tests: small edits to a policy, each of which `check` or `diff` must catch.

Each mutation is an edit an analyst could make by mistake or on purpose (a constraint added, a
threshold moved, a study type no longer read, a criterion removed, a window shortened...).  `diff` must
find a confirmed witness of the right kind against the unedited policy, or `check` must find a
counterexample; where neither can show a case (a cycle through negation), neither may claim a proof.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from click.testing import CliRunner

from edits import edited
from thorough import only_when_thorough, thorough
from engine.analysing.check import check
from engine.cli import main
from engine.analysing.diff import Question, diff
from engine.deciding.policy import load


@dataclass(frozen=True)
class Mutation:
    name: str
    policy: str
    old: str  # text of the policy replaced (must occur)
    new: str
    subject: str  # the request kind diff must find different: ("level", "L4-L5", "fusion") ...
    relation: str  # what B is against A there
    levels: tuple[str, ...] = ("L4-L5",)


MUTATIONS = [
    Mutation("added constraint", "reference", "%%%% Items", ":- finding(tumor, yes).\n%%%% Items",
             "answers", "narrower"),
    Mutation("threshold moved", "reference", "flexion_extension(St), T > 30.", "flexion_extension(St), T > 40.",
             "level:L4-L5:fusion", "narrower"),
    # (an x-ray read for stenosis changes nothing now: the case model refuses a stenosis grade off
    # cross-sectional imaging, and diff proves the two equivalent, rightly)
    Mutation("study type no longer read", "reference", "cross_sectional(mri; ct; ct_myelogram).",
             "cross_sectional(mri; ct).", "level:L4-L5:decompression", "narrower"),
    Mutation("criterion removed", "reference", 'criterion("REF-F2"), criterion("REF-F3"), criterion("REF-F4"))',
             'criterion("REF-F2"), criterion("REF-F4"))', "level:L4-L5:both", "narrower"),
    Mutation("span of care lengthened", "reference", 'formula("REF-D4b", at_least(care_span, 84)).',
             'formula("REF-D4b", at_least(care_span, 90)).', "level:L4-L5:decompression", "narrower"),
    Mutation("calendar window shortened", "reference", "except(not_tolerated), except(1)), 12)).",
             "except(not_tolerated), except(1)), 6)).", "level:L4-L5:decompression", "narrower"),
    Mutation("new finding read", "reference",
             'formula("REF-W1", any(finding(cauda_equina_syndrome),',
             'formula("REF-W1", any(finding(cauda_equina_syndrome), finding(myelopathy),',
             "level:L4-L5:decompression", "broader"),
    Mutation("grade dropped", "reference", "qualifying_grade(moderate; moderate_to_severe; severe).",
             "qualifying_grade(moderate_to_severe; severe).", "level:L4-L5:decompression", "narrower"),
    Mutation("figure kept in a fact changed", "aetna-cpb-0743", "unstable_translation(40).",
             "unstable_translation(45).", "level:L4-L5:fusion", "narrower"),
    Mutation("item threshold loosened", "reference", "is(si_joint_arthropathy, confirmed)), at_least(si_block_relief, 750)))",
             "is(si_joint_arthropathy, confirmed)), at_least(si_block_relief, 700)))", "item:si_joint_fusion", "broader"),
    Mutation("condition dropped", "reference", "then(prior_decompression, all(requested(decompression), stenosis_reported))",
             "then(prior_decompression, stenosis_reported)", "level:L4-L5:fusion", "broader"),
    Mutation("pelvic figure moved", "reference", "coronal_imbalance(C, St), C > 500.",
             "coronal_imbalance(C, St), C > 400.", "level:S1-pelvis:fusion", "broader", ("L5-S1", "S1-pelvis")),
    # Issue 20, point 1: figures that reach a comparison other than as a number written beside a case value.
    # Each was "proved" equivalent.  The class: a figure carried through a rule head, an arithmetic term,
    # a fact, an aggregate, a string order, the request date, two case values compared with each other.
    # (the reference reads its span through the core's care_span block now; cigna still carries it through a head)
    Mutation("total care carried through a head removed", "cigna-cmm-609",
             "care_span(D, D, conservative_care_total_days(D)) :- conservative_care_total_days(D).\n", "",
             "level:L4-L5:decompression", "narrower"),
    *[Mutation(name, "reference", "%%%% Items", f"{rule}\n%%%% Items", "answers", "narrower") for name, rule in (
        ("figure as a sum", ":- dynamic_translation(L, T, S), T > 30+5."),
        ("figure divided", ":- dynamic_translation(L, T, S), T/7 = 5."),
        ("figure multiplied", ":- dynamic_translation(L, T, S), T*2 = 70."),
        ("figure in a fact", "lim(30+5).\n:- dynamic_translation(L, T, S), lim(X), T > X."),
        ("figure through a head with a unit conversion", "weeks_of_care(W) :- conservative_care_total_days(D), W = D/7."
         "\n:- weeks_of_care(W), W*7 >= 700."),
        ("aggregate sum", ":- #sum { T,L,S : dynamic_translation(L, T, S) } = 35."),
        ("aggregate count", ":- #count { E : care_episode(E, _) } >= 3."),
        ("string order", ':- limited_activity(A), A < "c".'),
        ("request date", ":- request_date(E, _), E < 20454."),
        ("request month", ":- request_date(D, _), calendar_date(D, Y, M, _), M = 6."),
        ("two case values equal", ":- dynamic_translation(L, T, S), dynamic_angulation(L, A, S), T = A."),
        ("two case values apart", ":- dynamic_translation(L, T, S), dynamic_angulation(L, A, S), T - A > 50."),
    )],
    Mutation("grant on a figure as a sum", "reference", "%%%% Items",
             "justified(L, fusion) :- requested(L, fusion), dynamic_translation(L, T, _), T > 30+5.\n%%%% Items",
             "level:L4-L5:fusion", "broader"),
]


def _mutated(tmp_path, m: Mutation):
    return load(str(edited(tmp_path / f"{m.policy}-mutated", m.policy, m.old, m.new)))


def _key(subject: str) -> tuple[str, str, str]:
    if subject == "answers":
        return ("answers", "", "")
    kind, name, *rest = subject.split(":")
    return (kind, name, rest[0] if rest else "")


#: One mutation of each kind runs in `make test`: a figure moved, a figure through a rule head, in a fact,
#: two case values compared, an item's threshold, a grant; `make thorough` runs the whole catalogue.
QUICK = ("threshold moved", "total care carried through a head removed", "figure in a fact", "two case values apart",
         "item threshold loosened", "grant on a figure as a sum")


@pytest.mark.parametrize("m", only_when_thorough(MUTATIONS, quick=[m for m in MUTATIONS if m.name in QUICK]),
                         ids=[m.name for m in MUTATIONS])
def test_diff_catches_the_mutation(tmp_path, m):
    key = _key(m.subject)
    result = diff(load(m.policy), _mutated(tmp_path, m), levels=m.levels, max_witnesses=1,
                  only=lambda q: q.key == key)
    # narrower: some case gets less from the edit (direction a); broader: more (b). The edit may also
    # do the other somewhere (a newer study now governs): incomparable then, still caught.
    direction = {"narrower": "a", "broader": "b"}[m.relation]
    found = {(q.key, q.direction) for q, yes in result.questions if yes}
    assert (key, direction) in found, (m.name, result.relation(*key))
    assert result.witnesses and not result.problems, (m.name, result.problems)
    w = result.witnesses[0]
    assert w.question.key == key and w.differences


@pytest.mark.parametrize("extra, why", [
    (":- finding(tumor, yes).", "the policy gives 0 answers"),
    (":- requested_level(L).", "the policy gives 0 answers"),
    pytest.param("{ extra_gate }.\njustified(L, fusion) :- requested(L, fusion), extra_gate.", "the policy gives 2 answers",
                 marks=thorough),
    pytest.param("justified(L, fusion) :- determination(L, none), requested(L, fusion).", None, marks=thorough),
], ids=["constraint", "constraint on every request", "a choice", "a cycle through negation"])
def test_check_catches_a_policy_without_exactly_one_answer(tmp_path, extra, why):
    """Issue 12, reproduction 2: reference plus ':- finding(tumor, yes).' (or ':- requested_level(L).') was
    "proved total", though explain on a case with a tumour gives no answer.  A case with no answer, or
    several, is a counterexample with its witness; where the rules themselves may leave a case without an
    answer (a cycle through negation) the search cannot show one, so totality is not proved, by name."""
    folder = edited(tmp_path / "reference-mutated", extra=extra)
    result = CliRunner().invoke(main, ["check", str(folder), "--level", "L4-L5", "--emit", str(tmp_path / "w")])
    if why is None:
        assert result.exit_code != 0, result.output
        assert "(proved: no counterexample exists)" not in result.output
        assert "totality not proved" in result.output and "determination/2" in result.output, result.output
        # only "dead" may be proved: no answer set of any case meets the criterion, however many a case has
        # (the pelvic criteria, at L4-L5 alone)
        report = result.output.split("bounds searched:")[0].splitlines()
        assert not [line for line in report if "(proved" in line and " is dead: " not in line], result.output
        return
    assert result.exit_code == 1, result.output
    assert "✗ not total: " + why in result.output
    witness = tmp_path / "w" / "check-reference-totality.yaml"
    if witness.exists():  # the explain of a case with no answer fails, as the counterexample says
        explained = CliRunner().invoke(main, ["explain", str(witness), "--policy", str(folder)])
        assert explained.exit_code == 2 and "answers for one case" in explained.output, explained.output


@thorough
def test_a_cycle_through_negation_is_never_called_equivalent(tmp_path):
    folder = edited(tmp_path / "reference-mutated", extra="justified(L, fusion) :- determination(L, none), requested(L, fusion).")
    result = diff(load("reference"), load(str(folder)), max_witnesses=1,
                  only=lambda q: q.kind in ("answers", "level"))
    assert not result.proved
    assert any("determination/2" in r for g in result.gaps for r in g.reasons())


@thorough
def test_a_criterion_removed_is_irrelevant_to_check(tmp_path):
    m = next(m for m in MUTATIONS if m.name == "criterion removed")
    result = check(_mutated(tmp_path, m), levels=("L4-L5",))
    assert ("REF-F3", True, "") in result.irrelevant


def test_every_question_kind_is_one_the_diff_asks():
    assert {_key(m.subject)[0] for m in MUTATIONS} <= {"answers", "level", "item"}
    assert Question("level", "L4-L5", "fusion", "a").key == _key("level:L4-L5:fusion")


def test_check_reference_tries_a_span_of_care_either_side_of_84_days():
    """Issue 20: `check reference` tried care lengths at 41-43 days only, though REF-D4b compares a span with 84."""
    from engine.analysing.analysis import Analysis

    numbers = Analysis([load("reference")], ("L4-L5",), approaches=2).bounds.numbers
    for place in (("conservative_care_total_days/1", 0), ("care_days/3", 1), ("care_days/3", 2)):
        # REF-D4b's span `>= 84`: 83 days fall short, 84 meet it (one value each side of an order)
        assert {83, 84} <= set(numbers[place]), (place, numbers[place])


def test_a_value_the_search_cannot_follow_is_named_and_nothing_is_proved(tmp_path):
    """A case value through an operation with no linear inverse (a remainder) cannot be straddled: not proved."""
    folder = edited(tmp_path / "reference-mutated", extra=":- dynamic_translation(L, T, S), T \\ 7 = 3.")
    result = diff(load("reference"), load(str(folder)), max_witnesses=1, only=lambda q: q.kind == "answers",
                  sample_size=0)
    reasons = [r for g in result.gaps for r in g.reasons()]
    assert not result.proved
    assert any("cannot follow" in r and "dynamic_translation/3 argument 2" in r for r in reasons), reasons
