"""The library report (``batch … --report``), read as markup and in a real browser.

Its counts are checked against decisions made here, one case at a time, not
through the batch: outcomes, determinations per level, the criteria that
block (not met apart from not documented) and the items most often not medically necessary or not
addressed.
The records written to --out are the same bytes with or without a report,
the report is the same bytes for any --jobs, it is written whole or not at
all, and a file name that is markup stays text.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from functools import lru_cache
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.presenting.page import row
from engine.deciding.policy import load
from engine.deciding.solver import Engine
from facts import load_case
from markup import parse

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
HOSTILE_NAME = "<img src=x onerror=window.__pwned=1>.yaml"


def batch(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["batch", *args], catch_exceptions=False)
    return result.exit_code, result.stderr


@lru_cache(maxsize=None)
def report(jobs: str = "1") -> tuple[str, bytes]:
    """The report and the records of a batch over examples/ (the report's mention of its
    folder written as FOLDER, so that two runs compare)."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="necessity-report-"))
    code, err = batch(str(ROOT / "examples"), "--out", str(folder / "d.jsonl"), "--report", str(folder / "r.html"),
                      "--jobs", jobs)
    assert code == 0, err
    html = (folder / "r.html").read_text(encoding="utf-8").replace(str(folder), "FOLDER")
    return html, (folder / "d.jsonl").read_bytes()


@lru_cache(maxsize=1)
def decisions():
    engine = Engine(load("reference"))
    return [engine.decide(load_case(path), would_change=False) for path in EXAMPLES]  # as batch without --would-change


def figure(page, outcome: str) -> str:
    """The number on the page's card for an outcome."""
    card = page.one("div", where=lambda e: e.get("data-outcome") == outcome)
    return card.kids("div", cls="value")[0].text()


def bars(page, chart: str) -> dict[str, str]:
    """A chart's bars: label → the figures written after the bar."""
    figure = page.by_id(f"chart-{chart}")
    out = {}
    for g in figure.all("g", cls="bar"):
        texts = g.kids("text")
        out[g["data-label"]] = texts[-1].text()
    return out


def test_the_report_shows_the_five_cases_in_order_each_linked_to_its_decision():
    page = parse(report()[0])
    cases = [d.case for d in decisions()]
    listed = page.by_id("cases").one("table", cls="cases").all("a")
    assert [a.text() for a in listed] == cases
    sections = page.all("section", cls="case")
    assert [s["data-case"] for s in sections] == cases
    assert [a["href"] for a in listed] == [f"#{s['id']}" for s in sections]
    for section, decision in zip(sections, decisions()):
        rows = {tr.get("data-level") or tr["data-item"]: tr["data-determination"] for tr in section.all("tr")
                if "data-determination" in tr.attrs}
        want = {**{lv.level: lv.determination for lv in decision.levels},
                **{(it.item if it.level is None else f"{it.item}@{it.level}"): it.determination for it in decision.items}}
        assert rows == want, f"{decision.case}: expected {want}, the report shows {rows}"


def test_outcomes_and_levels_are_counted_from_the_decisions():
    page = parse(report()[0])
    outcomes = Counter(d.outcome for d in decisions())
    for o, n in outcomes.items():
        assert figure(page, o) == str(n), f"{o}: expected {n}"
    levels: dict[str, Counter] = {}
    for d in decisions():
        for lv in d.levels:
            levels.setdefault(lv.level, Counter())[lv.determination] += 1
    shown = bars(page, "levels")
    assert list(shown) == [lv for lv in ("T12-L1", "L1-L2", "L2-L3", "L3-L4", "L4-L5", "L5-S1", "S1-pelvis")
                           if lv in levels], "levels are drawn from the head down"
    for level, counts in levels.items():
        for determination, n in counts.items():
            assert f"{n} {determination.replace('_', ' ')}" in shown[level], f"{level}: {counts} vs {shown[level]!r}"


def test_the_blocking_chart_splits_not_met_from_not_documented():
    page = parse(report()[0])
    counts: dict[str, Counter] = {}
    for d in decisions():
        for s in (*d.levels, *d.items):
            for b in row(d, s).blockers:
                counts.setdefault(b.id, Counter())[b.status] += 1
    order = sorted(counts, key=lambda cid: (-sum(counts[cid].values()), cid))
    shown = bars(page, "blocking")
    assert list(shown) == order[:len(shown)] and shown, f"expected {order}, drawn {list(shown)}"
    for cid, text in shown.items():
        want = " · ".join(f"{glyph} {counts[cid][status]} {word}"
                          for status, glyph, word in (("not_met", "✗", "not met"), ("not_documented", "?", "not documented"))
                          if counts[cid][status])
        assert text == want, f"{cid}: expected {want!r}, drawn {text!r}"
    table = {tr["data-criterion"]: [td.text() for td in tr.kids("td")][1:3]
             for tr in page.one("table", cls="blocking").all("tr", attr="data-criterion")}
    assert table == {cid: [str(c["not_met"]), str(c["not_documented"])] for cid, c in counts.items()}
    assert page.by_id("chart-blocking").all("rect"), "the chart draws no bar"


def test_items_most_often_not_medically_necessary_or_not_addressed_come_first():
    from engine.presenting import labels

    counts: dict[str, Counter] = {}
    for d in decisions():
        for it in d.items:
            counts.setdefault(it.item, Counter())[it.determination] += 1
    held = lambda item: counts[item]["not_medically_necessary"] + counts[item]["not_addressed"]  # noqa: E731
    order = sorted(counts, key=lambda item: (-held(item), -sum(counts[item].values()), item))
    shown = bars(parse(report()[0]), "items")
    assert list(shown) == [labels.item(item) for item in order]
    for item in order:
        for determination, n in counts[item].items():
            assert f"{n} {labels.determination(determination)}" in shown[labels.item(item)], (item, shown)


def test_the_item_chart_says_the_engine_determinations_not_review_actions():
    """The chart called every not medically necessary item "denied", while the PAS response pends (A4) those
    that documentation would change: the report counts the engine's determinations, and says so."""
    section = parse(report()[0]).by_id("items").text()
    assert "Items most often not medically necessary or not addressed" in section, section
    for action in ("denied", "Denied", "pended for", "Pended:"):
        assert action not in section, (action, section)


def test_the_records_are_the_same_bytes_with_a_report_and_the_report_the_same_for_any_jobs(tmp_path):
    html, records = report()
    code, err = batch(str(ROOT / "examples"), "--out", str(tmp_path / "plain.jsonl"))
    assert code == 0, err
    assert (tmp_path / "plain.jsonl").read_bytes() == records
    assert report("2") == (html, records)
    assert [json.loads(line)["case"] for line in records.decode().splitlines()] == [d.case for d in decisions()]


def test_a_report_over_its_input_or_its_records_is_refused_before_anything_is_written(tmp_path):
    out = tmp_path / "d.jsonl"
    out.write_text("kept\n", encoding="utf-8")
    code, err = batch(str(ROOT / "examples"), "--out", str(out), "--report", str(out))
    assert code == 2 and f"--report {out}: this is the --out file" in err, err
    assert out.read_text(encoding="utf-8") == "kept\n"
    case = tmp_path / "one.yaml"
    case.write_bytes((ROOT / "examples" / "source-001.yaml").read_bytes())
    code, err = batch(str(case), "--report", str(case))
    assert code == 2 and "this is the input" in err and "write the report to another file" in err, err
    code, err = batch(str(tmp_path), "--report", str(tmp_path / "r.html"))
    assert code == 2 and "inside the input folder" in err, err
    assert case.read_bytes() == (ROOT / "examples" / "source-001.yaml").read_bytes()
    code, err = batch(str(case), "--report", str(tmp_path / "missing" / "r.html"))
    assert code == 2 and "does not exist" in err, err


def test_the_report_is_written_whole_or_not_at_all(tmp_path, monkeypatch):
    target = tmp_path / "r.html"
    target.write_text("the previous report", encoding="utf-8")
    real_replace = os.replace

    def full_disk(src, dst):
        if Path(dst).name == "r.html":
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", full_disk)
    code, err = batch(str(ROOT / "examples" / "source-001.yaml"), "--out", "-", "--report", str(target))
    assert code == 2 and f"--report {target}: cannot replace it (No space left on device)" in err, err
    assert target.read_text(encoding="utf-8") == "the previous report"
    monkeypatch.undo()
    for left in tmp_path.glob(".r.html.*"):  # what was written is kept aside, and the message says where
        assert str(left) in err
        left.unlink()
    code, err = batch(str(ROOT / "examples" / "source-001.yaml"), "--out", str(tmp_path / "d.jsonl"),
                      "--report", str(target))
    assert code == 0, err
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.jsonl", "r.html"], "a temporary file was left behind"


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """A folder of the examples and a case that cannot be read, whose file name is markup."""
    folder = tmp_path_factory.mktemp("library")
    for path in EXAMPLES:
        (folder / path.name).write_bytes(path.read_bytes())
    (folder / HOSTILE_NAME).write_text("case: [unclosed\n", encoding="utf-8")
    code, err = batch(str(folder), "--out", str(folder.parent / "d.jsonl"), "--report", str(folder.parent / "r.html"))
    assert code == 1, err  # one case could not be read
    return folder.parent / "r.html"


def test_a_case_that_cannot_be_read_is_listed_with_its_error_as_text(library):
    page = parse(library.read_text(encoding="utf-8"))
    assert not page.all("img") and not page.all("script")
    errors = page.all("pre", cls="error")
    assert len(errors) == 1 and HOSTILE_NAME in errors[0].text()
    assert figure(page, "error") == "1"


def test_the_report_in_chromium(chromium, library, tmp_path):
    tab = chromium.open(library, 1280, 800)
    try:
        facts = tab.evaluate("""(() => ({
          cases: [...document.querySelectorAll('section.case[data-case]')].map(s => s.dataset.case),
          bars: document.querySelectorAll('#chart-blocking rect').length,
          broken: [...document.querySelectorAll('a[href^="#"]')].map(a => a.getAttribute('href').slice(1))
                    .filter(id => !document.getElementById(id)),
          chart: document.querySelector('#chart-blocking svg').getBoundingClientRect().width,
        }))()""")
        assert facts["cases"] == [d.case for d in decisions()]
        assert facts["bars"] > 0 and facts["chart"] > 600
        assert facts["broken"] == []
        assert tab.evaluate("typeof window.__pwned") == "undefined"
        assert HOSTILE_NAME in tab.evaluate("document.body.textContent")
        assert tab.errors() == [], tab.errors()
        assert tab.requests() == [tab.url], tab.requests()
        shot = tab.screenshot(tmp_path / "report.png", full=True)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        tab.close()
