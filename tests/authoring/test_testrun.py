"""necessity test: goldens pass or fail with a readable tree, coverage gates the exit code."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from engine.cli import main
from engine.deciding.policy import DEFAULT_POLICIES_DIR, load
from engine.authoring.testrun import run_policy

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = DEFAULT_POLICIES_DIR / "reference"


def _copy_reference(tmp_path: Path, keep: list[str] | None = None) -> Path:
    folder = tmp_path / "ref"
    shutil.copytree(REFERENCE, folder)
    if keep is not None:
        for golden in (folder / "tests").glob("*.yaml"):
            if golden.stem not in keep:
                golden.unlink()
    return folder


def test_reference_goldens_pass_with_full_coverage():
    run = run_policy(load("reference"))
    assert run.results and not run.failed
    assert run.coverage_pct == 100.0, [c.id for c in run.coverage if not c.covered]


def test_a_failing_golden_shows_subject_expected_actual_and_criteria(tmp_path):
    folder = _copy_reference(tmp_path, keep=["dynamic-instability"])
    golden = folder / "tests" / "dynamic-instability.yaml"
    data = yaml.safe_load(golden.read_text())
    data["expect"]["levels"]["L3-L4"] = "fusion"  # wrong on purpose
    golden.write_text(yaml.safe_dump(data, sort_keys=False))
    result = CliRunner().invoke(main, ["test", str(folder)])
    assert result.exit_code == 1
    out = result.output
    assert "✗ dynamic-instability.yaml" in out
    assert "level L3-L4: expected fusion, got decompression_only" in out
    assert "REF-F2 at L3-L4 not met" in out and "L3-L4 translation 2 mm" in out


def test_coverage_below_minimum_fails(tmp_path):
    folder = _copy_reference(tmp_path, keep=["si-joint-confirmed"])
    ok = CliRunner().invoke(main, ["test", str(folder)])
    assert ok.exit_code == 0
    low = CliRunner().invoke(main, ["test", str(folder), "--min-coverage", "100"])
    assert low.exit_code == 1
    assert "criterion coverage:" in low.output and "is below --min-coverage 100%" in low.output


def test_coverage_listing_marks_sides_the_policy_rules_out():
    result = CliRunner().invoke(main, ["test", "reference", "--coverage"])
    assert result.exit_code == 0
    lines = {line.split()[1]: line for line in result.output.splitlines() if line.strip().startswith(("✓", "✗")) and "REF-" in line}
    assert "not met n/a (provision)" in lines["REF-X2"]
    assert "met n/a (no met rule)" in lines["REF-A1"]


def test_a_golden_with_a_bad_record_is_a_failure_not_a_crash(tmp_path):
    folder = _copy_reference(tmp_path, keep=["planned-resection"])
    (folder / "tests" / "broken.yaml").write_text("record: {case: x, request: {levels: [{level: L6-L7, fusion: true}]}}\nexpect: {}\n")
    result = CliRunner().invoke(main, ["test", str(folder)])
    assert result.exit_code == 1
    assert "broken.yaml" in result.output and "unknown spinal level 'L6-L7'" in result.output


# ---------------------------------------------------------------------------
# Golden files go through the case-file reader and its limits (issue 13)
# ---------------------------------------------------------------------------

RECORD = "record:\n  case: g\n  request:\n    levels: [{level: L4-L5, decompression: laminectomy}]\n"

#: A golden file that cannot be used, and what the report must say after its name.
BAD_GOLDENS = {
    "alias-cycle": ("a: &a [*a]\n" + RECORD + "expect: {}\n", (":1:", "refers to the value that contains it")),
    "date-key": ("2025-01-01: x\n" + RECORD + "expect: {}\n", (":1:", "2025-01-01")),
    "date-key-in-expect": (RECORD + "expect:\n  levels:\n    2025-01-01: fusion\n",
                           ("level 2025-01-01: expected fusion, got not requested",)),
    "huge-integer": (RECORD + "  conservative_care: {total_weeks: " + "9" * 5000 + "}\nexpect: {}\n",
                     (":5:", "record.conservative_care.total_weeks:", "5000 digits")),
    "octal-in-record": (RECORD + "  conservative_care: {total_weeks: 012}\nexpect: {}\n",
                        (":5:", "record.conservative_care.total_weeks:", "octal")),
    "bad-level-in-record": (RECORD.replace("L4-L5", "L6-L7") + "expect: {}\n",
                            (":4:", "record.request.levels[0].level:", "L6-L7")),
    "binary-tag": ("description: !!binary aGVsbG8=\n" + RECORD + "expect: {}\n", (":1:", "!!binary", "remove the tag")),
    "nul-in-description": ('description: "a\\0b"\n' + RECORD + "expect: {}\n", (":1:", "description:", "U+0000")),
    "levels-as-a-list": (RECORD + "expect: {levels: [L4-L5]}\n", (":5:", "expect.levels:", "write a mapping")),
    "criteria-as-a-number": (RECORD + "expect: {criteria: 5}\n", (":5:", "expect.criteria:")),
    "would-change-entry-as-text": (RECORD + "expect: {would_change: [L4-L5]}\n", (":5:", "expect.would_change[0]:")),
    "would-change-without-requires": (RECORD + "expect:\n  would_change:\n    - {subject: L4-L5, determination: fusion}\n",
                                      (":7:", "expect.would_change[0].requires:", "required")),
    "requires-as-a-number": (RECORD + "expect:\n  unchanged_by:\n    - {subject: L4-L5, requires: 5}\n",
                             (":7:", "expect.unchanged_by[0].requires:")),
    "exercises-as-a-number": ("exercises: 5\n" + RECORD + "expect: {}\n", (":1:", "exercises:")),
    "record-as-a-list": ("record: [1, 2]\nexpect: {}\n", (":1:", "record:", "mapping")),
    "expect-key-unknown": (RECORD + "expect: {outcomes: approved}\n", (":5:", "expect.outcomes:", "not part of a golden case")),
    "not-a-mapping": ("- a\n- b\n", (":1:", "a golden case is a mapping")),
    "empty": ("", ("the file is empty",)),
}


def _with_golden(tmp_path: Path, name: str, text: str) -> Path:
    folder = _copy_reference(tmp_path, keep=["planned-resection"])
    (folder / "tests" / f"{name}.yaml").write_text(text, encoding="utf-8")
    return folder


@pytest.mark.parametrize("name", BAD_GOLDENS, ids=str)
def test_a_bad_golden_file_is_a_failure_naming_the_file_and_the_field(tmp_path, name):
    text, says = BAD_GOLDENS[name]
    folder = _with_golden(tmp_path, name, text)
    result = CliRunner().invoke(main, ["test", str(folder)])
    shown = f"exit {result.exit_code}\noutput: {result.output!r}"
    assert result.exit_code == 1 and "Traceback" not in result.output, shown
    assert "1/2 golden cases passed" in result.output, shown
    after = result.output.split(f"{name}.yaml", 1)[1]
    for piece in says:
        assert piece in after, f"the report lacks {piece!r}\n{shown}"


def test_a_golden_alias_bomb_is_refused_in_a_real_process(tmp_path):
    bomb = ("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
            + "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 9)))
    folder = _with_golden(tmp_path, "bomb", bomb + RECORD + "expect: {}\n")

    def limit_memory() -> None:  # a regression must fail here, not take the machine's memory
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    run = subprocess.run([str(ROOT / ".venv" / "bin" / "necessity"), "test", str(folder)], capture_output=True,
                         text=True, timeout=120, check=False, preexec_fn=limit_memory)
    assert run.returncode == 1 and "Traceback" not in run.stdout + run.stderr, run.stdout + run.stderr
    assert "bomb.yaml" in run.stdout and "more than 100000 values" in run.stdout.split("bomb.yaml", 1)[1]


def test_a_golden_linked_from_outside_the_policy_is_refused_and_never_read(tmp_path):
    folder = _copy_reference(tmp_path, keep=["planned-resection"])
    secret = tmp_path / "secret.yaml"
    secret.write_text("description: root:x:0:0\n" + RECORD + "expect: {}\n")
    (folder / "tests" / "linked.yaml").symlink_to(secret)
    result = CliRunner().invoke(main, ["test", str(folder)])
    assert result.exit_code == 1 and "root:" not in result.output, result.output
    assert "linked.yaml" in result.output and "outside the policy folder" in result.output
