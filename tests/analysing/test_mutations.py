"""Soundness held by tests: small edits to a policy, each of which `check` or `diff` must catch.

Each mutation is an edit an analyst could make by mistake or on purpose (a constraint added, a
threshold moved, a new study type read, a criterion removed, a window shortened...).  `diff` must
find a confirmed witness of the right kind against the unedited policy, or `check` must find a
counterexample; where neither can show a case (a cycle through negation), neither may claim a proof.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from click.testing import CliRunner

from edits import edited
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
    Mutation("new study type read", "reference", "cross_sectional(mri; ct; ct_myelogram).",
             "cross_sectional(mri; ct; ct_myelogram; xray).", "level:L4-L5:decompression", "broader"),
    Mutation("criterion removed", "reference", 'fusion_finding("REF-F1"; "REF-F2"; "REF-F3"; "REF-F4").',
             'fusion_finding("REF-F1"; "REF-F2"; "REF-F4").', "level:L4-L5:both", "narrower"),
    Mutation("span of care lengthened", "reference", "care_span(Least, _, Why), Least >= 84.",
             "care_span(Least, _, Why), Least >= 90.", "level:L4-L5:decompression", "narrower"),
    Mutation("calendar window shortened", "reference", "(Y1, M1, D1) >= (Y - 1, M, D), End <= R.",
             "(Y1 * 12 + M1, D1) >= (Y * 12 + M - 6, D), End <= R.", "level:L4-L5:decompression", "narrower"),
    Mutation("new finding read", "reference",
             'met("REF-W1", case, finding(cauda_equina_syndrome, yes)) :- evaluated("REF-W1", case),\n'
             '    finding(cauda_equina_syndrome, yes).',
             'met("REF-W1", case, finding(F, yes)) :- evaluated("REF-W1", case),\n'
             '    finding(F, yes), F = (cauda_equina_syndrome; myelopathy).',
             "level:L4-L5:decompression", "broader"),
    Mutation("grade dropped", "reference", "qualifying_grade(moderate; moderate_to_severe; severe).",
             "qualifying_grade(moderate_to_severe; severe).", "level:L4-L5:decompression", "narrower"),
    Mutation("figure kept in a fact changed", "aetna-cpb-0743", "unstable_translation(40).",
             "unstable_translation(45).", "level:L4-L5:fusion", "narrower"),
    Mutation("item threshold loosened", "reference", "si_diagnostic_block(B, R), R >= 750.",
             "si_diagnostic_block(B, R), R >= 700.", "item:si_joint_fusion", "broader"),
    Mutation("condition dropped", "reference", """met("REF-F4", L, Why) :- evaluated("REF-F4", L), requested(L, decompression),
    prior_decompression(L, Why), recurrent_stenosis(L, _).""", """met("REF-F4", L, Why) :- evaluated("REF-F4", L),
    prior_decompression(L, Why), recurrent_stenosis(L, _).""", "level:L4-L5:fusion", "broader"),
    Mutation("pelvic figure moved", "reference", "coronal_imbalance(C, St), C > 500.",
             "coronal_imbalance(C, St), C > 400.", "level:S1-pelvis:fusion", "broader", ("L5-S1", "S1-pelvis")),
]


def _mutated(tmp_path, m: Mutation):
    return load(str(edited(tmp_path / f"{m.policy}-mutated", m.policy, m.old, m.new)))


def _key(subject: str) -> tuple[str, str, str]:
    if subject == "answers":
        return ("answers", "", "")
    kind, name, *rest = subject.split(":")
    return (kind, name, rest[0] if rest else "")


@pytest.mark.parametrize("m", MUTATIONS, ids=[m.name for m in MUTATIONS])
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
    ("{ extra_gate }.\njustified(L, fusion) :- requested(L, fusion), extra_gate.", "the policy gives 2 answers"),
    ("justified(L, fusion) :- determination(L, none), requested(L, fusion).", None),
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


def test_a_cycle_through_negation_is_never_called_equivalent(tmp_path):
    folder = edited(tmp_path / "reference-mutated", extra="justified(L, fusion) :- determination(L, none), requested(L, fusion).")
    result = diff(load("reference"), load(str(folder)), max_witnesses=1,
                  only=lambda q: q.kind in ("answers", "level"))
    assert not result.proved
    assert any("determination/2" in r for g in result.gaps for r in g.reasons())


def test_a_criterion_removed_is_irrelevant_to_check(tmp_path):
    m = next(m for m in MUTATIONS if m.name == "criterion removed")
    result = check(_mutated(tmp_path, m), levels=("L4-L5",))
    assert ("REF-F3", True, "") in result.irrelevant


def test_every_question_kind_is_one_the_diff_asks():
    assert {_key(m.subject)[0] for m in MUTATIONS} <= {"answers", "level", "item"}
    assert Question("level", "L4-L5", "fusion", "a").key == _key("level:L4-L5:fusion")
