"""necessity lint: each code on a planted fault, clean on shipped policies, exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.authoring.lint import POLICY_API, engine_signatures, lint
from engine.deciding.policy import DEFAULT_POLICIES_DIR, shipped_policies

HEADER = "% payer: Test\n% policy: t\n% version: 1\n% effective: 2026-01-01\n% source: test, retrieved 2026-01-01\n"
GOOD = """criterion("T-1", "Moderate stenosis", "test §1").
scope("T-1", level).
bears_on("T-1", decompression_only).
met("T-1", L, stenosis(L, Z, S, moderate, St)) :- evaluated("T-1", L), stenosis(L, Z, S, moderate, St).
justified(L, decompression_only) :- holds("T-1", L).
"""


def _folder(tmp_path: Path, body: str) -> Path:
    folder = tmp_path / "t"
    folder.mkdir(exist_ok=True)
    (folder / "policy.lp").write_text(HEADER + body, encoding="utf-8")
    return folder


def _codes(folder: Path) -> list[str]:
    return [f"{f.line}:{f.code}" for f in lint(folder)]


@pytest.mark.parametrize("pid", shipped_policies())
def test_shipped_policies_lint_clean(pid):
    findings = lint(DEFAULT_POLICIES_DIR / pid)
    assert not findings, "\n".join(map(str, findings))


def test_clean_policy_has_no_findings(tmp_path):
    assert lint(_folder(tmp_path, GOOD)) == []


def test_planted_typo_is_named_with_the_closest_predicate(tmp_path):
    body = GOOD.replace("stenosis(L, Z, S, moderate, St).", "stenossis(L, Z, S, moderate, St).")
    folder = _folder(tmp_path, body)
    line = (HEADER + body).splitlines()[8]
    col = line.index("stenossis") + 1
    [finding] = lint(folder)
    assert str(finding) == f"{folder}/policy.lp:9:{col}: E103 unknown predicate 'stenossis/5' (did you mean 'stenosis/5'?)"


def test_planted_script_is_refused_with_line(tmp_path):
    folder = _folder(tmp_path, GOOD + "#script (python)\nimport os\n#end.\n")
    assert "11:E201" in _codes(folder)


@pytest.mark.parametrize("body,expected", [
    ('#include "/etc/passwd".\n', "6:E202"),
    ("#program other.\n", "6:E203"),
    ('met("T-1", case, x) :- X = @exit(3), finding(x, yes).\n', "6:E204"),
    ('part_of("T-1"; "T-2", "T-3").\n', "6:E104"),
    ("finding(tumor, no).\n", "6:E105"),
    ('determination("L4-L5", fusion).\n', "6:E106"),
    ('{ determination(L, fusion) } :- requested(L, _).\n', "6:E106"),
    ('#show determination("L4-L5", maybe).\n', "6:E106"),
    ("#show report/3.\n", "6:E106"),
    (":~ finding(x, yes). [1@1]\n", "6:E107"),
    ("#minimize { 1 : finding(x, yes) }.\n", "6:E107"),
    ("a.\n\x00b.\n", "7:E205"),
    ("% \x07 bell\n", "6:E205"),
    ('met("T-9", case, x) :- finding(x, yes).\n', "6:E304"),
    ('criterion("T-1", "Again", "test §1").\n', "7:E303"),  # the second declaration
    ('criterion("T-2", "", "test §2").\n', "6:E301"),
    ('criterion("T-3", "No scope", "test §3").\n', "6:E305"),
    ('met("T-1", case, x) :- not finding(x, Y).\n', "6:E102"),
    ("p(X) :- q(.\n", "6:E101"),
])
def test_each_code_on_a_planted_fault(tmp_path, body, expected):
    assert expected in _codes(_folder(tmp_path, body + GOOD))


def test_missing_header_keys(tmp_path):
    folder = tmp_path / "h"
    folder.mkdir()
    (folder / "policy.lp").write_text("% policy: h\n" + GOOD, encoding="utf-8")
    assert [f.code for f in lint(folder)] == ["E302"]


def test_policy_api_matches_what_core_reads():
    defined, read = engine_signatures()
    assert read <= POLICY_API, f"core.lp reads {sorted(read - POLICY_API)} that POLICY_API does not list"


def test_cli_exit_codes(tmp_path):
    runner = CliRunner()
    clean = runner.invoke(main, ["lint", str(_folder(tmp_path, GOOD))])
    assert clean.exit_code == 0 and clean.output == ""
    dirty = runner.invoke(main, ["lint", str(_folder(tmp_path, GOOD + "finding(tumor, no).\n"))])
    assert dirty.exit_code == 1 and "E105" in dirty.output
    usage = runner.invoke(main, ["lint", "no-such-policy"])
    assert usage.exit_code == 2 and "unknown policy" in usage.output


# -- E309 evidence without words (issue 20, point 4) --------------------------------------------

def test_evidence_without_words_is_an_error_naming_its_line(tmp_path):
    """A policy's own term cited as evidence reached every reader as the atom (``pt_course(2)``)."""
    body = GOOD + ('criterion("T-2", "Physical therapy tried", "test §2").\nscope("T-2", case).\n'
                   'bears_on("T-2", decompression_only).\n'
                   'met("T-2", case, pt_course(E)) :- evaluated("T-2", case), care_episode(E, physical_therapy).\n'
                   'justified(L, decompression_only) :- holds("T-2", case), requested(L, decompression).\n')
    folder = _folder(tmp_path, body)
    lines = (HEADER + body).splitlines()
    row = next(i for i, line in enumerate(lines, 1) if "pt_course" in line)
    [finding] = [f for f in lint(folder) if f.code == "E309"]
    assert (finding.line, finding.column) == (row, lines[row - 1].index("pt_course") + 1)
    assert "'pt_course/1' has no words" in finding.message


def test_evidence_followed_through_a_predicate_of_the_policy(tmp_path):
    """cigna-cmm-609 cites ``episode_fact(E, Why)``'s second argument: the term is where that rule is."""
    body = GOOD + ('criterion("T-2", "Care tried", "test §2").\nscope("T-2", case).\n'
                   'bears_on("T-2", decompression_only).\n'
                   'fact_of(E, care_days(E, L, M)) :- care_days(E, L, M).\n'
                   'fact_of(E, episode(E, M)) :- care_episode(E, M), not care_days(E, _, _).\n'
                   'met("T-2", case, imprecise(Why)) :- evaluated("T-2", case), fact_of(E, Why).\n'
                   'justified(L, decompression_only) :- holds("T-2", case), requested(L, decompression).\n')
    folder = _folder(tmp_path, body)
    row = next(i for i, line in enumerate((HEADER + body).splitlines(), 1) if "fact_of(E, episode" in line)
    assert [(f.line, f.code) for f in lint(folder) if f.code == "E309"] == [(row, "E309")]


def test_a_vocabulary_name_at_another_arity_has_no_words(tmp_path):
    body = GOOD.replace("met(\"T-1\", L, stenosis(L, Z, S, moderate, St))", "met(\"T-1\", L, stenosis(L, moderate, St))")
    assert "E309" in {f.code for f in lint(_folder(tmp_path, body))}


def test_vocabulary_facts_and_values_are_worded(tmp_path):
    body = GOOD + ('met("T-1", L, care_episode(E, M)) :- evaluated("T-1", L), care_episode(E, M).\n'
                   'met("T-1", L, absent(stenosis(L, St))) :- evaluated("T-1", L), imaging_study(St, mri).\n'
                   'met("T-1", L, E) :- evaluated("T-1", L), care_episode(E, _).\n')
    assert not [f for f in lint(_folder(tmp_path, body)) if f.code == "E309"]


# -- W310, W311: what check would find later (issue 20, point 7) --------------------------------

def _row(body: str, text: str) -> int:
    return next(i for i, line in enumerate((HEADER + body).splitlines(), 1) if text in line)


def test_a_criterion_nothing_gates_on_is_a_warning_at_its_declaration(tmp_path):
    body = GOOD + ('criterion("T-2", "Limitation of daily activities", "test §2").\nscope("T-2", case).\n'
                   'bears_on("T-2", decompression_only).\nformula("T-2", finding(adl_limitation)).\n')
    [finding] = lint(_folder(tmp_path, body))
    assert (finding.line, finding.code) == (_row(body, 'criterion("T-2"'), "W310")
    assert "'T-2' gates nothing" in finding.message


@pytest.mark.parametrize("gate", [
    'justifies(decompression_only, all(criterion("T-1"), criterion("T-2"))).\n',  # a tree reads it
    'justified(L, decompression_only) :- holds("T-2", case), requested(L, decompression).\n',  # a rule does
    'part_of("T-2", "T-3").\ncriterion("T-3", "Both", "test §3").\nscope("T-3", case).\n'
    'bears_on("T-3", decompression_only).\njustifies(decompression_only, criterion("T-3")).\n',  # a whole that gates
    'gate("T-2").\njustified(L, decompression_only) :- gate(C), holds(C, case), requested(L, decompression).\n',
    'provision("T-2").\n',  # gates nothing by design
])
def test_a_criterion_read_by_what_gates_is_no_warning(tmp_path, gate):
    body = GOOD + ('criterion("T-2", "Limitation of daily activities", "test §2").\nscope("T-2", case).\n'
                   'bears_on("T-2", decompression_only).\nformula("T-2", finding(adl_limitation)).\n') + gate
    assert [f for f in lint(_folder(tmp_path, body)) if f.code == "W310"] == []


def test_a_part_of_a_whole_nothing_gates_on_gates_nothing(tmp_path):
    body = GOOD + ('criterion("T-2", "Part", "test §2").\nscope("T-2", case).\nbears_on("T-2", decompression_only).\n'
                   'formula("T-2", finding(adl_limitation)).\npart_of("T-2", "T-3").\n'
                   'criterion("T-3", "Whole", "test §3").\nscope("T-3", case).\nbears_on("T-3", decompression_only).\n')
    assert sorted((f.line, f.code) for f in lint(_folder(tmp_path, body))) == [
        (_row(body, 'criterion("T-2"'), "W310"), (_row(body, 'criterion("T-3"'), "W310")]


def test_a_rule_reading_a_finding_no_case_has_is_a_warning_at_the_read(tmp_path):
    body = GOOD + 'not_met("T-1", L, exclusion("smoker")) :- evaluated("T-1", L), finding(smoker, yes).\n'
    [finding] = lint(_folder(tmp_path, body))
    row = _row(body, "finding(smoker, yes)")
    assert (finding.line, finding.column, finding.code) == (row, (HEADER + body).splitlines()[row - 1].index("finding(smoker") + 1, "W311")
    assert "'T-1' reads 'finding(smoker,yes)', which no case field emits" in finding.message


def test_a_rule_reading_a_predicate_of_the_policy_no_case_can_make_is_a_warning(tmp_path):
    body = GOOD + ('smoker :- finding(smoker, yes).\n'
                   'not_met("T-1", L, exclusion("smoker")) :- evaluated("T-1", L), smoker.\n')
    codes = sorted((f.line, f.code) for f in lint(_folder(tmp_path, body)))
    assert codes == [(_row(body, 'not_met("T-1"'), "W311")], codes


def test_a_formula_reading_a_finding_no_case_has_is_a_warning(tmp_path):
    body = GOOD + ('criterion("T-2", "Smoker", "test §2").\nscope("T-2", case).\nbears_on("T-2", decompression_only).\n'
                   'formula("T-2", negate(finding(smoker))).\n'
                   'justified(L, decompression_only) :- holds("T-2", case), requested(L, decompression).\n')
    assert [(f.line, f.code) for f in lint(_folder(tmp_path, body))] == [(_row(body, 'formula("T-2"'), "W311")]


def test_findings_a_case_can_have_are_no_warning(tmp_path):
    body = GOOD + ('not_met("T-1", L, finding(tumor, yes)) :- evaluated("T-1", L), finding(tumor, yes).\n'
                   'not_met("T-1", L, F) :- evaluated("T-1", L), finding(X, yes), F = finding(X, yes), X != tumor.\n'
                   'met("T-1", L, absent(imaging)) :- evaluated("T-1", L), documented(imaging), level_finding(L, spondylolisthesis, yes, _).\n')
    assert lint(_folder(tmp_path, body)) == []


def test_an_exclusion_of_a_constant_has_no_words(tmp_path):
    body = GOOD + 'not_met("T-1", L, exclusion(smoker)) :- evaluated("T-1", L), finding(tumor, yes).\n'
    assert [(f.line, f.code) for f in lint(_folder(tmp_path, body))] == [(_row(body, "exclusion(smoker)"), "E309")]
