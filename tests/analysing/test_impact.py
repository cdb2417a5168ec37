"""necessity diff --cases: the impact of an edit on a case library, equal to two batch runs compared
record by record."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """A seeded library from bench/generate.py, with one unreadable record among them."""
    path = tmp_path_factory.mktemp("library") / "cases.jsonl"
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "generate.py"), "160", "--seed", "12"],
                         capture_output=True, text=True, check=True)
    lines = run.stdout.splitlines()
    lines.insert(7, '{"case": "broken", "request": {"levels": []}}')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _batch(path: Path, policy: str) -> list[dict]:
    result = CliRunner().invoke(main, ["batch", str(path), "--policy", policy, "--out", "-"])
    return [json.loads(line) for line in result.stdout.splitlines()]


def _determinations(record: dict) -> tuple:
    levels = {lv["level"]: lv["determination"] for lv in record["levels"]}
    items = {it["item"] if it.get("level") is None else f"{it['item']}@{it['level']}": it["determination"]
             for it in record["items"]}
    return record["outcome"], levels, items


def test_diff_cases_agrees_with_two_batch_runs_record_by_record(library):
    a, b = _batch(library, "reference"), _batch(library, "aetna-cpb-0743")
    assert len(a) == len(b) == 161
    expected_changed, expected_items = [], {}
    for ra, rb in zip(a, b):
        assert ra.get("source", ra.get("case")) == rb.get("source", rb.get("case"))
        if "error" in ra or "error" in rb:
            assert "error" in ra and "error" in rb  # a bad record is bad under both
            continue
        (oa, la, ia), (ob, lb, ib) = _determinations(ra), _determinations(rb)
        if (oa, la, ia) != (ob, lb, ib):
            expected_changed.append(ra["case"])
        # counted by case: a case with the item at two levels counts once per change
        for trio in {(key.partition("@")[0], ia[key], ib.get(key)) for key in ia if ia[key] != ib.get(key)}:
            expected_items[trio] = expected_items.get(trio, 0) + 1
    result = CliRunner().invoke(main, ["diff", "reference", "aetna-cpb-0743", "--cases", str(library),
                                       "--format", "json", "--jobs", "2"])
    assert result.exit_code == 1, result.output
    data = json.loads(result.output)
    assert data["cases"] == 161 and data["unreadable"] == 1
    assert data["changed"] == len(expected_changed) > 0
    assert [c["case"] for c in data["changed_cases"]] == expected_changed
    assert {(g["item"], g["a"], g["b"]): g["count"] for g in data["items"]} == expected_items
    by_outcome = sum(g["count"] for g in data["outcomes"])
    assert by_outcome == sum(1 for c in data["changed_cases"] if c["outcome"])
    for group in data["levels"]:
        assert group["count"] == len(group["cases"])


def test_the_report_is_the_same_for_every_number_of_jobs(library):
    runs = [CliRunner().invoke(main, ["diff", "reference", "cigna-cmm-609", "--cases", str(library), "--jobs", jobs])
            for jobs in ("1", "2")]
    assert runs[0].output == runs[1].output
    assert "cases decided differently" in runs[0].output


def test_an_edit_that_changes_nothing_exits_0(tmp_path):
    folder = tmp_path / "examples"
    folder.mkdir()
    for name in ("source-000.yaml", "source-003.yaml"):
        (folder / name).write_text((ROOT / "examples" / name).read_text())
    result = CliRunner().invoke(main, ["diff", "reference", "reference", "--cases", str(folder), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["cases"], data["changed"], data["unchanged"]) == (2, 0, 2)


def test_a_missing_library_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(main, ["diff", "reference", "reference", "--cases", str(tmp_path / "none.jsonl")])
    assert result.exit_code == 2
    assert "no such file or folder" in result.output


def test_docs_name_every_key_of_the_json_report(library):
    """docs/diff.md shows the shape of `diff --cases --format json`: every key there is real, and every real key is there."""
    text = (ROOT / "docs" / "diff.md").read_text(encoding="utf-8")
    block = text.split("With `--format json`:", 1)[1].split("```json", 1)[1].split("```", 1)[0]
    result = CliRunner().invoke(main, ["diff", "reference", "aetna-cpb-0743", "--cases", str(library), "--format", "json"])
    data = json.loads(result.output)
    documented = set(re.findall(r'"([a-z_]+)":', block))
    real = set(data) | {k for c in data["changed_cases"][:1] for k in c} | {"id", "version", "count", "item", "level",
                                                                            "error", "source"}
    assert set(data) <= documented, sorted(set(data) - documented)
    assert set(data["changed_cases"][0]) <= documented
    assert documented <= real | {"a", "b", "cases"}, sorted(documented - real)
