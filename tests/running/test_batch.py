"""``necessity batch`` and the many-cases grounding behind it.

The batch decides cases from one grounding per chunk (``Engine.decide_many``);
its records must be exactly what ``explain`` gives case by case, in input
order, whatever the number of jobs, with a bad record reported and skipped.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import strategies as cases_st
from casebuilder import case_from
from casebuilder import engine as policy_engine
from engine.cli import main
from engine.presenting.render import to_json
from engine.deciding.transform import per_case
from facts import load_case

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("source-*.yaml"))
POLICIES = ["reference", "aetna-cpb-0743", "cigna-cmm-609", "carelon-spine"]


def _batch(*args: str):
    return CliRunner().invoke(main, ["batch", *args])


def _records(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


# ---------------------------------------------------------------------------
# decide_many equals decide
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("would_change", [False, True])
def test_many_cases_decided_together_equal_each_decided_alone(policy, would_change):
    engine = policy_engine(policy)
    cases = [load_case(p) for p in EXAMPLES]
    together = engine.decide_many(cases, would_change=would_change)
    for case, decision in zip(cases, together):
        alone = engine.decide(case, would_change=would_change)
        assert decision == alone, case.case
        assert to_json(decision) == to_json(alone)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(cases_st.cases(), min_size=1, max_size=6))
def test_generated_cases_decided_together_equal_each_decided_alone(records):
    engine = policy_engine("reference")
    cases = [case_from(r) for r in records]
    together = engine.decide_many(cases)
    assert len(together) == len(cases)
    for case, decision in zip(cases, together):
        assert decision == engine.decide(case, would_change=False)


def test_the_same_case_twice_in_a_chunk_is_decided_twice_alike():
    engine = policy_engine("reference")
    case = load_case(EXAMPLES[3])
    first, second = engine.decide_many([case, case])
    assert first == second == engine.decide(case, would_change=False)


def test_no_cases_give_no_decisions():
    assert policy_engine("reference").decide_many([]) == []


def test_every_dependent_predicate_carries_the_case_and_static_ones_do_not():
    from clingo import ast

    text = """
    limit(40).
    big(L) :- translation(L, T), limit(X), T >= X.
    flag :- big(_).
    #show flag/0.
    #show limit/1.
    """
    statements: list = []
    ast.parse_string(text, statements.append)
    out = "\n".join(str(s) for s in per_case(statements, {"translation/2"}))
    assert "limit(40)." in out
    assert "big(K__,L) :- translation(K__,L,T); limit(X); T >= X; case__(K__)." in out
    assert "flag(K__) :- big(K__,_); case__(K__)." in out
    assert "#show in_case__(K__,flag) : flag(K__)." in out
    assert "#show limit/1" not in out  # nothing static is read back per case
    assert "translation(K__,X0__,X1__) :- case_fact__(K__,translation(X0__,X1__))." in out


def test_the_case_variable_does_not_clash_with_a_policy_variable():
    from clingo import ast

    statements: list = []
    ast.parse_string("p(K__) :- q(K__).", statements.append)
    out = "\n".join(str(s) for s in per_case(statements, {"q/1"}))
    assert "p(K___,K__) :- q(K___,K__); case__(K___)." in out


# ---------------------------------------------------------------------------
# the command
# ---------------------------------------------------------------------------


def test_batch_over_the_examples_writes_what_explain_writes(tmp_path):
    out = tmp_path / "out.jsonl"
    result = _batch(str(ROOT / "examples"), "--out", str(out), "--would-change")
    assert result.exit_code == 0, result.output
    records = _records(out.read_text())
    assert [r["case"] for r in records] == [p.stem for p in EXAMPLES]
    for path, record in zip(EXAMPLES, records):
        explained = CliRunner().invoke(main, ["explain", str(path), "--format", "json"])
        assert record == json.loads(explained.stdout)


def test_without_would_change_the_records_have_why_and_why_not_only(tmp_path):
    out = tmp_path / "out.jsonl"
    assert _batch(str(ROOT / "examples"), "--out", str(out)).exit_code == 0
    for record in _records(out.read_text()):
        for subject in record["levels"] + record["items"]:
            assert "criteria" in subject
            assert "would_change" not in subject


def test_summary_counts_outcomes_levels_and_errors(tmp_path):
    result = _batch(str(ROOT / "examples"), "--out", str(tmp_path / "o.jsonl"))
    err = result.stderr
    assert "5 cases in" in err and "cases/s" in err
    assert "partially_approved 2 · denied 3" in err
    assert "fusion 1 · decompression_only 4 · none 13" in err
    assert "errors          0" in err


def _jsonl(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _example_line(index: int) -> str:
    import yaml

    data = yaml.safe_load(EXAMPLES[index].read_text())
    data.pop("assessment", None)
    return json.dumps(data, default=str)


def test_a_bad_record_gets_an_error_record_and_the_batch_goes_on(tmp_path):
    path = _jsonl(tmp_path, [
        _example_line(1),
        "",  # blank lines are skipped, not counted as records
        '{"case": "broken", "request": {"levels": [{"level": "L9-L10", "decompression": true}]}}',
        "{not json",
        _example_line(2),
    ])
    out = tmp_path / "out.jsonl"
    result = _batch(str(path), "--out", str(out))
    assert result.exit_code == 1
    records = _records(out.read_text())
    assert [r.get("case") for r in records] == ["source-001", None, None, "source-002"]
    assert records[1]["source"] == f"{path}:3"
    assert "request.levels[0].level" in records[1]["error"] and "L9-L10" in records[1]["error"]
    assert records[2]["source"] == f"{path}:4"
    assert "not valid JSON" in records[2]["error"]
    assert "errors          2" in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_jobs_do_not_change_a_byte_of_the_output(tmp_path):
    path = _jsonl(tmp_path, [_example_line(i % 5) for i in range(23)] + ["[]"])
    outputs = []
    for jobs in ("1", "2", "3"):
        out = tmp_path / f"out-{jobs}.jsonl"
        result = _batch(str(path), "--out", str(out), "--jobs", jobs)
        assert result.exit_code == 1  # the last record is not a case
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]
    assert len(outputs[0].splitlines()) == 24


def test_a_folder_is_read_in_path_order_hidden_files_skipped(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / ".hidden").mkdir()
    for name, example in (("b/one.yaml", 0), ("a.yaml", 1), ("c.json", 2), (".hidden/x.yaml", 3)):
        text = EXAMPLES[example].read_text()
        if name.endswith(".json"):
            import yaml

            text = json.dumps(yaml.safe_load(text), default=str)
        (tmp_path / name).write_text(text)
    (tmp_path / "notes.txt").write_text("not a case")
    result = _batch(str(tmp_path), "--out", "-")
    assert result.exit_code == 0, result.stderr
    assert [r["case"] for r in _records(result.stdout)] == ["source-001", "source-000", "source-002"]


def test_output_is_ascii_so_no_character_can_split_a_record(tmp_path):
    data = json.loads(_example_line(1))
    data["case"] = "line\u2028sep\u2029 \u00e9 \"quoted\" \n newline"
    path = _jsonl(tmp_path, [json.dumps(data)])
    result = _batch(str(path), "--out", "-")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.isascii()
    assert len(result.stdout.splitlines()) == 1
    assert json.loads(result.stdout)["case"] == data["case"]


@pytest.mark.parametrize("args, message", [
    (["nowhere"], "no such file or folder"),
    (["README.md"], "not a folder, a JSON Lines file"),
    (["examples", "--policy", "no-such-policy"], "no-such-policy"),
])
def test_bad_input_or_policy_exits_2_with_a_message(args, message):
    import os

    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        result = _batch(*args)
    finally:
        os.chdir(cwd)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_timeout_keeps_the_records_written_and_says_so(tmp_path):
    examples = [_example_line(i) for i in range(5)]  # each read once: 3000 YAML parses took half a minute
    path = _jsonl(tmp_path, [examples[i % 5] for i in range(3000)])
    out = tmp_path / "out.jsonl"
    # 3000 records take half a minute; two seconds leave the policy time to load even on a busy machine
    result = _batch(str(path), "--out", str(out), "--timeout", "2")
    assert result.exit_code == 1, result.stderr
    assert "stopped after --timeout 2s" in result.stderr
    written = out.read_text().splitlines()
    assert len(written) < 3000
    for line in written:  # every record written is whole
        assert json.loads(line)["case"].startswith("source-")


def test_help_has_examples():
    result = CliRunner().invoke(main, ["batch", "--help"])
    assert result.exit_code == 0
    assert "necessity batch examples/ --out decisions.jsonl" in result.output


def test_a_progress_bar_when_stderr_is_a_terminal(tmp_path):
    import shutil
    import subprocess

    if shutil.which("script") is None:
        pytest.skip("script(1) is not installed to give the command a terminal")
    path = _jsonl(tmp_path, [_example_line(i % 5) for i in range(7)] + ["", "   "])
    necessity = ROOT / ".venv" / "bin" / "necessity"
    run = subprocess.run(["script", "-qec", f"{necessity} batch {path} --out {tmp_path / 'o.jsonl'}", "/dev/null"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stdout
    assert "deciding" in run.stdout and "7/7" in run.stdout
    assert "Traceback" not in run.stdout


def test_records_are_counted_without_blank_lines_whatever_the_blocks(tmp_path):
    from engine.deciding.many import _count_records

    path = tmp_path / "c.jsonl"
    path.write_bytes(b"{}\n\n  \n{}\n" + b"x" * (3 << 20) + b"\n{}")
    assert _count_records(path) == 4
