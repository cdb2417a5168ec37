"""Issue 23 in headless Chromium: every review page and report has zero axe-core violations, none
scrolls sideways on a 390 px phone, print repeats the case and keeps headings with their content,
and the library report can be worked (filter, a blocking criterion's cases, a case's review).

axe-core is the npm package, pinned in .ci/run (installed into tests/node/, or named by
$NECESSITY_AXE); without it, or without Chromium, these tests are skipped saying what to install.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ("reference", "aetna-cpb-0743", "cigna-cmm-609", "carelon-spine")
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
EXTRA = [ROOT / "tests" / "data" / name for name in ("conflicting-studies.yaml", "cauda-equina.yaml",
                                                      "request-context.yaml")]
AXE_DEFAULT = ROOT / "tests" / "node" / "node_modules" / "axe-core" / "axe.min.js"
PHONE = (390, 844)


def axe_path() -> Path | None:
    path = Path(os.environ.get("NECESSITY_AXE") or AXE_DEFAULT)
    return path if path.is_file() else None


@pytest.fixture(scope="module")
def axe() -> str:
    path = axe_path()
    if path is None:
        pytest.skip("axe-core not found: run `npm install --prefix tests/node axe-core@4.10.3` "
                    "(.ci/run does) or set NECESSITY_AXE to its axe.min.js")
    return path.read_text(encoding="utf-8")


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


@lru_cache(maxsize=None)
def page(case: Path, policy: str) -> str:
    return run("explain", str(case), "--policy", policy, "--format", "html", "--decided-at", "2026-01-05T10:00Z")


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("review-pages")
    out = {}
    for policy in POLICIES:
        for case in EXAMPLES + EXTRA:
            path = folder / f"{case.stem}-{policy}.html"
            path.write_text(page(case, policy), encoding="utf-8")
            out[path.stem] = path
    return out


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("review-report")
    result = CliRunner().invoke(main, ["batch", str(ROOT / "examples"), "--would-change", "--out",
                                       str(folder / "d.jsonl"), "--report", str(folder / "r.html")],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return folder / "r.html"


def violations(tab, axe: str) -> list:
    tab.evaluate(axe)
    return tab.evaluate("axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v => "
                        "[v.id, v.impact, v.nodes.length, v.nodes.slice(0, 3).map(n => n.target.join(' '))]))")


def sideways(tab) -> list:
    """What sticks out of the window on the right, when the page scrolls sideways."""
    if tab.evaluate("document.documentElement.scrollWidth") <= PHONE[0]:
        return []
    return tab.evaluate("[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > "
                        f"{PHONE[0] + 1}).slice(0, 5).map(e => e.tagName + '.' + (e.className.baseVal ?? e.className))")


def test_every_review_page_has_no_axe_violation_and_no_sideways_scroll_on_a_phone(chromium, axe, pages):
    failures = {}
    for name, path in pages.items():
        for width, height in ((1280, 800), PHONE):
            tab = chromium.open(path, width, height)
            try:
                found = violations(tab, axe)
                if found:
                    failures[f"{name} at {width}px"] = found
                if width == PHONE[0]:
                    wide = sideways(tab)
                    if wide:
                        failures[f"{name} at {width}px scrolls sideways"] = wide
                assert tab.errors() == [], f"{name}: {tab.errors()}"
            finally:
                tab.close()
    assert not failures, json.dumps(failures, indent=1)


def test_a_folded_page_opened_has_no_axe_violation_either(chromium, axe, pages):
    tab = chromium.open(pages["source-003-reference"], 1280, 800)
    try:
        tab.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        assert violations(tab, axe) == []
        tab.evaluate("document.querySelector('#summary a.ref').focus()")
        cite = tab.evaluate("getComputedStyle(document.activeElement.closest('.cref'), '::after').content")
        assert cite.startswith('"reference §'), cite  # focus shows the citation
    finally:
        tab.close()


def test_the_report_is_worked_and_passes_axe_on_a_desk_and_a_phone(chromium, axe, library):
    for width, height in ((1280, 800), PHONE):
        tab = chromium.open(library, width, height)
        try:
            assert tab.evaluate("document.body.dataset.ready") == "true"
            assert violations(tab, axe) == []
            if width == PHONE[0]:
                assert sideways(tab) == []
            # a blocking criterion's count lists its cases
            cid = "REF-D4a"
            tab.evaluate(f"document.querySelector('a.crit-filter[data-criterion=\"{cid}\"]').click()")
            listed = tab.evaluate("[...document.querySelectorAll('#case-rows tr[data-case]')].map(r => r.dataset.case)")
            data = json.loads(tab.evaluate("document.getElementById('report-data').textContent"))
            want = [c[1] for c in data["cases"] if c[2] != "error"
                    and any(b[1] == cid for r in c[6] for b in r[6])]
            assert listed == want and want, (listed, want)
            # filter by action, search by id, then open a case's review
            tab.evaluate("(() => { const f = document.getElementById('filters'); f.reset();"
                         " f.elements.action.value = 'pend'; f.dispatchEvent(new Event('change')); })()")
            pended = tab.evaluate("[...document.querySelectorAll('#case-rows tr[data-case]')].map(r => r.dataset.case)")
            assert pended == [c[1] for c in data["cases"] if c[3] == "pend"]
            tab.evaluate("(() => { const f = document.getElementById('filters'); f.reset();"
                         " f.elements.q.value = 'source-003'; f.dispatchEvent(new Event('input')); })()")
            assert tab.evaluate("[...document.querySelectorAll('#case-rows tr[data-case]')].map(r => r.dataset.case)") \
                == ["source-003"]
            tab.evaluate("document.querySelector('#case-rows button.open').click()")
            review = tab.evaluate("document.querySelector('tr.detail').innerText")
            assert "L4-L5" in review and "pend for information" in review and "Supervised in-person physical" in review
            assert violations(tab, axe) == []
            if width == PHONE[0]:
                assert sideways(tab) == []
            assert tab.errors() == [], tab.errors()
            assert tab.requests() == [tab.url]
        finally:
            tab.close()


def test_print_repeats_the_case_and_keeps_headings_with_their_content(chromium, pages):
    import base64

    tab = chromium.open(pages["source-003-reference"], 1280, 800, media="print")
    try:
        after = tab.evaluate("getComputedStyle(document.querySelector('h2')).breakAfter")
        assert after == "avoid"
        pdf = base64.b64decode(tab.call("Page.printToPDF", {"printBackground": True})["data"])
        assert pdf[:5] == b"%PDF-"
        pages_printed = pdf.count(b"/Type /Page\n") or pdf.count(b"/Type /Page ") or pdf.count(b"/Type/Page")
        assert pages_printed >= 2
    finally:
        tab.close()


def test_the_diff_page_opens_in_chromium_and_passes_axe(chromium, axe, tmp_path):
    out = tmp_path / "diff.html"
    result = CliRunner().invoke(main, ["diff", "reference", "aetna-cpb-0743", "--cases", str(ROOT / "examples"),
                                       "--jobs", "1", "--report", str(out)], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    for width, height in ((1280, 800), PHONE):
        tab = chromium.open(out, width, height)
        try:
            assert violations(tab, axe) == []
            if width == PHONE[0]:
                assert sideways(tab) == []
            assert tab.evaluate("document.querySelectorAll('#changed-cases section.case').length") > 0
            assert tab.errors() == [] and tab.requests() == [tab.url]
        finally:
            tab.close()


def test_in_print_every_blocking_criterions_title_is_whole(chromium, pages):
    tab = chromium.open(pages["source-003-reference"], 1280, 800, media="print")
    try:
        cut = tab.evaluate("[...document.querySelectorAll('td.blocked ul.refs li')]"
                           ".filter(li => li.scrollWidth > li.clientWidth + 1).length")
        assert cut == 0
    finally:
        tab.close()
