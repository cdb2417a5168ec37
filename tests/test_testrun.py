"""necessity test: goldens pass or fail with a readable tree, coverage gates the exit code."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from click.testing import CliRunner

from engine.cli import main
from engine.policy import DEFAULT_POLICIES_DIR, load
from engine.testrun import run_policy

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
