"""What a utilization reviewer reads (issue 23), held over every example under every policy.

Review actions in one vocabulary everywhere (certify, pend for information,
refer to a physician reviewer) read from the decision; every criterion id
beside its title; the rule's shape per level and item; the request's
context; and the wording defects the issue reproduced: internal names
("(at si_joint_fusion)", "criteria at case", "Requested: item", "1 cases"),
a documented absence that read as not documented, "→ fusion if ✗ not met"
read backwards, durations that switched units, levels out of order.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from engine.cli import main
from markup import parse

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ("reference", "aetna-cpb-0743", "cigna-cmm-609", "carelon-spine")
CASES = sorted((ROOT / "examples").glob("*.yaml")) + sorted((ROOT / "tests" / "data").glob("*.yaml"))
CONTEXT_CASE = ROOT / "tests" / "data" / "request-context.yaml"
LEVEL = r"(?:T1[0-2]-T1[1-2]|T12-L1|L[1-5]-L[2-5]|L5-S1|S1-pelvis)"
ORDER = ("T10-T11", "T11-T12", "T12-L1", "L1-L2", "L2-L3", "L3-L4", "L4-L5", "L5-S1", "S1-pelvis")
ACTION_WORDS = {"certify": "certify", "pend": "pend for information", "refer": "refer to a physician reviewer"}
ENGINE_NAMES = ("si_joint_fusion", "bone_marrow_aspirate", "interbody_device", "inpatient_setting",
                "cement_augmentation", "cellular_bone_matrix", "interspinous_device", "rhbmp2",
                "not_medically_necessary", "decompression_only", "not_addressed")


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


@lru_cache(maxsize=None)
def outputs(case: Path, policy: str) -> dict:
    """Every format of one case under one policy; the page as its text, the JSON parsed."""
    base = ("explain", str(case), "--policy", policy)
    html = run(*base, "--format", "html")
    return {
        "text": click.unstyle(run(*base, "--verbose")),
        "markdown": run(*base, "--format", "markdown"),
        "html": html,
        "page": parse(html),
        "json": json.loads(run(*base, "--format", "json")),
    }


def readable(case: Path, policy: str) -> dict[str, str]:
    out = outputs(case, policy)
    body = out["page"].one("body")
    shown = "".join(c if isinstance(c, str) else "" if c.tag == "script" else c.text() for c in body.children)
    letter = out["markdown"].split("## Your right to appeal")[0]  # the payer's own words, as written
    return {"text": out["text"], "letter": letter, "page": " ".join(shown.split())}


EVERY = [pytest.param(case, policy, id=f"{case.stem}-{policy}") for case in CASES for policy in POLICIES]


# ---------------------------------------------------------------------------
# wording, over every example under every policy
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("case, policy", EVERY)
def test_no_internal_identifier_reaches_a_reader(case: Path, policy: str):
    for fmt, text in readable(case, policy).items():
        where = f"{case.name} under {policy}, {fmt}"
        for leak in ("criteria at case", "Requested: item", "| item |", "(at case)", " at case "):
            assert leak not in text, f"{where}: {leak!r}"
        assert not re.search(r"\b1 cases\b", text), f"{where}: '1 cases'"
        assert not re.search(r"\(at [a-z]+_[a-z_]+", text), f"{where}: an item's engine name as a place"
        if fmt == "text":  # the text's criteria lines are allowed the scope's engine spelling nowhere either
            names = [n for n in ENGINE_NAMES if re.search(rf"\b{n}\b", text)]
        else:
            names = [n for n in ENGINE_NAMES if n in text]
        assert not names, f"{where}: engine names {names}"


@pytest.mark.parametrize("case, policy", EVERY)
def test_durations_are_in_weeks_never_switching_to_days(case: Path, policy: str):
    for fmt, text in readable(case, policy).items():
        days = [int(n) for n in re.findall(r"\b(\d+) days\b", text)]
        assert not [d for d in days if d >= 7], f"{case.name} under {policy}, {fmt}: {days} days beside weeks"


@pytest.mark.parametrize("case, policy", EVERY)
def test_a_documented_absence_never_reads_as_not_documented(case: Path, policy: str):
    doc = outputs(case, policy)["json"]
    absent = [e for s in doc["levels"] + doc["items"] for c in s["criteria"] for e in c["evidence"]
              if e["fact"].startswith("absent(") and e["text"].startswith("not in the record: ")]
    for fmt, text in readable(case, policy).items():
        assert "not in the record:" not in text, f"{case.name} under {policy}, {fmt}"
        for e in absent:
            assert "documented as absent: " + e["text"].removeprefix("not in the record: ") in text


@pytest.mark.parametrize("case, policy", EVERY)
def test_levels_are_listed_in_anatomical_order(case: Path, policy: str):
    for fmt, text in readable(case, policy).items():
        for run_ in re.findall(rf"{LEVEL}(?:(?:, | and ){LEVEL})+", text):
            levels = re.findall(LEVEL, run_)
            assert levels == sorted(levels, key=ORDER.index), f"{case.name} under {policy}, {fmt}: {run_!r}"
    rows = [e["data-level"] for e in outputs(case, policy)["page"].by_id("summary").all("tr", attr="data-level")]
    assert rows == sorted(rows, key=ORDER.index)


@pytest.mark.parametrize("case, policy", EVERY)
def test_every_imaging_finding_names_its_study_and_its_date(case: Path, policy: str):
    for fmt, text in readable(case, policy).items():
        bare = re.findall(r"\((MRI|CT|CT myelogram|x-ray|flexion-extension x-ray|supine-standing x-ray|"
                          r"standing full-length films)\)", text)
        assert not bare, f"{case.name} under {policy}, {fmt}: a finding without its study's date: {bare}"


@pytest.mark.parametrize("case, policy", EVERY)
def test_a_contradicted_finding_never_reads_backwards(case: Path, policy: str):
    page = readable(case, policy)["page"]
    assert not re.search(r"\bif [✗?] (not met|not documented)", page), f"{case.name} under {policy}"
    assert not re.search(r"→ \S+ if [✗?]", readable(case, policy)["text"])


# ---------------------------------------------------------------------------
# review actions: one vocabulary, read from the decision
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("case, policy", EVERY)
def test_every_format_says_the_same_action_as_the_json(case: Path, policy: str):
    out = outputs(case, policy)
    doc, page = out["json"], out["page"]
    assert doc["action"] in ACTION_WORDS
    assert page.one("h1").one(cls="act")["data-action"] == doc["action"]
    assert out["text"].splitlines()[0].endswith(f"· {ACTION_WORDS[doc['action']]}")
    assert f"**Review action:** {ACTION_WORDS[doc['action']]}" in out["markdown"]
    rows = page.by_id("summary").all("tr", where=lambda e: "data-level" in e.attrs or "data-item" in e.attrs)
    subjects = doc["levels"] + doc["items"]
    assert [r.one(cls="act")["data-action"] for r in rows] == [s["action"] for s in subjects]
    for s in subjects:
        assert ("to_request" in s) == (s["action"] == "pend"), s
        # read from the decision: certified exactly when the determination is what was asked
        asked = "medically_necessary" if "item" in s else "fusion" if "fusion" in s["requested"] else "decompression_only"
        met = s["determination"] == asked or (asked == "decompression_only" and s["determination"] == "fusion")
        assert (s["action"] == "certify") == met, s
        if s["determination"] == "not_addressed":
            assert s["action"] == "refer"
        if s["action"] == "pend":
            lines = [w for w in s["would_change"] if w["kind"] == "documentation"]
            named = {r["id"] for w in lines for r in w["requires_at"] + w.get("one_of", [])}
            assert {r["id"] for r in s["to_request"]} <= named
    parts = {s["action"] for s in subjects}
    want = "certify" if parts == {"certify"} else "pend" if "pend" in parts else "refer"
    assert doc["action"] == want


def test_source_004_under_aetna_is_pended_with_the_documents_to_request():
    # issue 23, defect 1: "denied" in red where every blocked row is blocked by "? not documented" only
    out = outputs(ROOT / "examples" / "source-004.yaml", "aetna-cpb-0743")
    doc = out["json"]
    assert doc["outcome"] == "denied" and doc["action"] == "pend"
    si = next(s for s in doc["items"] if s["item"] == "si_joint_fusion")
    assert si["action"] == "pend" and [r["id"] for r in si["to_request"]] == ["AET-A4"]
    assert si["to_request"][0]["documentation"].startswith("the provocative tests")
    blocked = [s for s in doc["levels"] if s["determination"] == "none"]
    assert blocked and all(s["action"] == "pend" for s in blocked)
    page = out["page"]
    assert page.one("h1").one(cls="act").text().split()[-3:] == ["pend", "for", "information"]
    wanted = " ".join(page.by_id("to-request").text().split())
    assert "AET-A4 SI joint fusion: 3 of 5 provocative tests" in wanted
    assert "AET-D4 At least 6 weeks of conservative care" in wanted
    assert "pend for information" in out["markdown"].split("## Decision by service")[1].split("##")[0]


# ---------------------------------------------------------------------------
# words beside every code
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("case, policy", EVERY)
def test_no_criterion_id_without_its_title(case: Path, policy: str):
    out = outputs(case, policy)
    titles = {c["id"]: c["title"] for s in out["json"]["levels"] + out["json"]["items"] for c in s["criteria"]}
    page = out["page"]
    for ref in page.all(cls="ref"):
        cref = ref.parent
        assert cref is not None and "cref" in cref.classes, f"{case.name}: {ref.text()} outside a cref"
        assert cref.get("data-cite"), f"{case.name}: {ref.text()} without its citation"
        title = cref.kids(cls="ctitle")
        assert title and title[0].text() == titles.get(ref.text(), title[0].text()), f"{case.name}: {ref.text()}"
    for li in page.all("li", cls="criterion"):
        assert li.kids("div", cls="head")[0].one(cls="title").text() == titles[li["data-criterion"]]
    # the text: every id the summary or the what-if names is in "the criteria named above" with its title
    text = out["text"]
    head = text.split("\ncase-level criteria")[0]
    named = set(re.findall(r"\b[A-Z]{3}-[A-Z]+\d+[a-z]?\b", head.split("the criteria named above:")[0]))
    glossary = head.split("the criteria named above:")[1] if named else ""
    for cid in named:
        assert re.search(rf"^  {re.escape(cid)} +{re.escape(titles[cid])}$", glossary, re.M), f"{case.name}: {cid}"
    # the letter: an id is followed by its title wherever it appears (but in a citation, the policy's own words)
    letter = out["markdown"].split("## Citations")[0]
    for cid in titles:
        for m in re.finditer(rf"\b{re.escape(cid)}\b(?![a-z0-9])", letter):
            after = letter[m.end():m.end() + len(titles[cid]) + 4]
            before = letter[max(0, m.start() - 12):m.start()]
            assert titles[cid].replace("_", "\\_") in after or "waived by" in before, (
                f"{case.name} under {policy}: {cid} without its title in the letter: ...{after!r}")


# ---------------------------------------------------------------------------
# the rule's shape
# ---------------------------------------------------------------------------


def test_source_003_l4_l5_shows_the_declared_fusion_tree_and_the_case_level_blocker_inside_it():
    """reference declares fusion as the case-level gate and one of: REF-D1 with one of REF-F1..F4, or
    REF-F5 alone (justifies/2); the shape is that tree (engine/deciding/trees.py), not REF-D1 beside
    one flat group of REF-F1..F5."""
    out = outputs(ROOT / "examples" / "source-003.yaml", "reference")
    shape = out["page"].one("div", where=lambda e: e.get("data-shape-of") == "L4-L5")
    root = shape.one("ul", cls="shape-tree").kids("li")[0]
    kinds = [li["data-shape"] for li in root.kids("ul")[0].kids("li")]
    assert kinds == ["gate", "one_of"], kinds
    gate, one_of = root.kids("ul")[0].kids("li")
    gate_ids = [li["data-ref"] for li in gate.all("li", attr="data-ref")]
    assert "REF-D4a" in gate_ids and "REF-D4" in gate_ids and "REF-W1" in gate_ids
    d4a = gate.one("li", where=lambda e: e.get("data-ref") == "REF-D4a")
    assert d4a["data-status"] == "not_documented"
    assert one_of["data-status"] == "met"
    either = one_of.kids("ul")[0].kids("li")
    assert [li["data-shape"] for li in either] == ["all", "criterion"] and either[1]["data-ref"] == "REF-F5"
    d1, instability = either[0].kids("ul")[0].kids("li")
    assert d1["data-ref"] == "REF-D1" and instability["data-shape"] == "one_of"
    assert [li["data-ref"] for li in instability.kids("ul")[0].kids("li")] == ["REF-F1", "REF-F2", "REF-F3", "REF-F4"]
    # the same tree in the text under --verbose
    text = out["text"].split("the rule's shape, per level and item")[1]
    block = text.split("  ? L5-S1")[0].split("L4-L5: decompression and fusion, all of")[1]
    assert "? the case-level criteria, all of" in block and "? REF-D4a not documented" in block
    assert "✓ one of\n          ✓ all of\n              ✓ REF-D1 met" in block and "✓ REF-F1 met" in block
    # S1-pelvis is decided by a raw rule (REF-X1): its shape is derived, as before
    assert out["page"].one("div", where=lambda e: e.get("data-shape-of") == "S1-pelvis").all(
        "li", where=lambda e: e.get("data-ref") == "REF-X1")


# ---------------------------------------------------------------------------
# the request's context, notes, the letter
# ---------------------------------------------------------------------------


def test_the_request_context_is_shown_in_text_letter_and_page():
    base = ("explain", str(CONTEXT_CASE), "--decided-at", "2026-01-05T10:00Z")
    text = click.unstyle(run(*base))
    letter = run(*base, "--format", "markdown")
    page = " ".join(parse(run(*base, "--format", "html")).one("header").text().split())
    for shown in (text, letter, page):
        for value in ("M-0042", "Pat Example", "1961-04-02", "Dr A. Surgeon", "General Hospital", "2025-12-15",
                      "2026-03-10", "2026-01-05T10:00Z", "CPT 22612", "ICD-10-CM M43.16"):
            assert value in shown, value
    assert "**Member id:** M-0042" in letter and "**Decision time:** 2026-01-05T10:00Z" in letter
    # the JSON is the contract: no context key is added to it
    doc = json.loads(run("explain", str(CONTEXT_CASE), "--format", "json"))
    assert "M-0042" not in json.dumps(doc)


def test_without_a_decision_time_the_same_input_gives_the_same_bytes():
    assert run("explain", str(CONTEXT_CASE), "--format", "html") == run("explain", str(CONTEXT_CASE), "--format", "html")
    assert "Decision time" not in run("explain", str(CONTEXT_CASE), "--format", "markdown")


def test_case_notes_are_shown_and_an_attested_fact_is_marked():
    out = outputs(ROOT / "examples" / "source-000.yaml", "reference")
    notes = out["page"].by_id("notes")
    attested = [" ".join(li.text().split()) for li in notes.all("li", cls="attested")]
    assert any(n.startswith("attested conservative care, episode 1:") for n in attested), attested
    assert "conservative care, episode 1 [attested fact]: attested: duration and recency" in out["text"]


def test_the_letter_ends_with_the_policys_appeal_rights_when_it_has_them():
    letter = outputs(ROOT / "examples" / "source-003.yaml", "reference")["markdown"]
    assert letter.split("## ")[-1].startswith("Your right to appeal\n\nYou or your provider may appeal")
    assert "right to appeal" not in outputs(ROOT / "examples" / "source-003.yaml", "aetna-cpb-0743")["markdown"]


def test_the_letter_says_per_service_what_was_decided_why_and_what_would_change_it():
    letter = outputs(ROOT / "examples" / "source-003.yaml", "reference")["markdown"]
    assert "**Request date:** 2025-12-15" in letter
    assert ("| L4-L5 | decompression and fusion | not approved on the record as it stands; pended for the "
            "documentation below | pend for information |") in letter
    # REF-D4a is of raw rules: what it needs, never a claim about the record (issue 20, point 5)
    assert ("**L4-L5** (not approved on the record as it stands; pended for the documentation below): Not "
            "documented: REF-D4a (Supervised in-person physical therapy for at least 6 weeks), which needs "
            "duration of formal, supervised, in-person physical therapy.") in letter


def test_print_repeats_the_case_on_every_page():
    out = outputs(ROOT / "examples" / "source-003.yaml", "reference")
    style = out["page"].one("style").text()
    assert re.search(r'@page \{[^}]*@top-left \{ content: "source\\00002d003 ', style)
    assert "break-after: avoid" in style


# ---------------------------------------------------------------------------
# diff --cases --report: what a policy edit changes, as a page
# ---------------------------------------------------------------------------


def diff_page(tmp_path: Path) -> tuple[str, dict]:
    out = tmp_path / "diff.html"
    result = CliRunner().invoke(main, ["diff", "reference", "aetna-cpb-0743", "--cases", str(ROOT / "examples"),
                                       "--jobs", "1", "--format", "json", "--report", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 1, result.output  # the decisions differ
    return out.read_text(encoding="utf-8"), json.loads(result.stdout)


def test_the_diff_page_groups_the_changed_cases_and_shows_both_decisions(tmp_path):
    html, doc = diff_page(tmp_path)
    page = parse(html)
    cases = [s["data-case"] for s in page.by_id("changed-cases").all("section", cls="case")]
    assert cases == [c["case"] for c in doc["changed_cases"]]
    outcomes = page.one("table", where=lambda e: e.get("data-what") == "outcomes")
    rows = [[" ".join(c.text().split()) for c in tr.kids()] for tr in outcomes.one("tbody").kids("tr")]
    for group in doc["outcomes"]:
        assert [f"{group['a'].replace('_', ' ')} → {group['b'].replace('_', ' ')}", str(group["count"]),
                ", ".join(group["cases"])] in rows, rows
    for want in doc["changed_cases"]:
        section = page.one("section", where=lambda e: e.get("data-case") == want["case"])
        sides = {" ".join(tr.kids("th")[0].text().split()).removesuffix(" changed"):
                 [" ".join(td.text().split()) for td in tr.kids("td")] for tr in section.one("tbody").kids("tr")}
        if want["outcome"]:
            assert sides["the request"] == [want["outcome"]["a"].replace("_", " "), want["outcome"]["b"].replace("_", " ")]
        for lv in want["levels"]:
            assert sides[lv["level"]][0].startswith(lv["a"].replace("_", " ")), (lv, sides)
    by_criterion = page.by_id("by-criterion")
    assert by_criterion.all("tr", attr="data-criterion"), "no criterion is named as a cause"
    for tr in by_criterion.all("tr", attr="data-criterion"):
        assert tr.one(cls="ctitle").text(), tr["data-criterion"]


def test_a_diff_report_without_cases_is_refused(tmp_path):
    result = CliRunner().invoke(main, ["diff", "reference", "aetna-cpb-0743", "--report", str(tmp_path / "d.html")])
    assert result.exit_code == 2 and "--report needs --cases" in result.output
    assert not (tmp_path / "d.html").exists()
