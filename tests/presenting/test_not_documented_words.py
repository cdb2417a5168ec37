"""A "not documented" sentence says what THIS record lacks, never a fixed string that can be false.

Issue 20, point 5: a criterion's "the record does not document ..." sentence was its policy's
``documentation/2`` text, the same for every record, so a criterion needing smoking status AND
something else said "does not document smoking status" of a record that documents it.  Now a
formula-defined criterion names the leaves of its formula the record is silent on (the core's
``lacking/3``), in words; a criterion of raw rules, whose reads the engine cannot split, shows its
declared text as what it needs ("needs: ..."), which claims nothing about the record.  The
declared text stays what to obtain (the what-if's documentation to obtain).
"""

from __future__ import annotations

import html
import json
import re

import click
import pytest

from casebuilder import case_from
from engine.deciding.policy import load
from engine.deciding.solver import Engine
from engine.presenting.render import render
from small_policy import header, written

HEADER = header("words", "not documented sentences from the record", "tests/presenting/test_not_documented_words.py")

POLICY = HEADER + """
criterion("T-D1", "Stenosis graded at the level", "test §D1").
scope("T-D1", level).
bears_on("T-D1", decompression_only).
documentation("T-D1", "the grade of stenosis at the level").
formula("T-D1", imaging(stenosis_grade)).
study_answer(at(stenosis_grade, L), St, yes, stenosis(L, Z, S, G, St)) :- stenosis(L, Z, S, G, St), G = severe.
study_answer(at(stenosis_grade, L), St, no, stenosis(L, Z, S, G, St)) :- stenosis(L, Z, S, G, St), G = mild.

% needs smoking status AND an HbA1c: a record documenting the one and not the other
criterion("T-N1", "Never-smoker with HbA1c 7% or less", "test §N1").
scope("T-N1", case).
bears_on("T-N1", decompression_only).
documentation("T-N1", "smoking status and an HbA1c level").
formula("T-N1", all(is(smoking_status, never), at_most(hba1c, 70))).

% raw rules: limitation of activities AND the activities limited
criterion("T-R1", "Limitation of activities of daily living, the activities named", "test §R1").
scope("T-R1", case).
bears_on("T-R1", decompression_only).
documentation("T-R1", "limitation of activities of daily living and the activities it limits").
met("T-R1", case, limited_activity(A)) :- evaluated("T-R1", case), finding(adl_limitation, yes), limited_activity(A).
not_met("T-R1", case, finding(adl_limitation, no)) :- evaluated("T-R1", case), finding(adl_limitation, no).

justifies(decompression_only, all(criterion("T-D1"), criterion("T-N1"), criterion("T-R1"))).
"""

RECORD = {
    "case": "words",
    "request": {"date": "2026-01-10", "levels": [{"level": "L4-L5", "decompression": "laminectomy"}]},
    "imaging": [{"study": "mri", "date": "2026-01-02",
                 "levels": [{"level": "L4-L5", "stenosis": [{"zone": "central", "grade": "severe"}]}]}],
    "clinical": {"adl_limitation": True},
    "history": {"smoking": {"status": "never"}},
}

FORMATS = ("text", "json", "markdown", "html")


def visible(fmt: str, out: str) -> str:
    """What a reader reads: the page without its tags, style and script; the letter unescaped."""
    if fmt == "html":
        out = re.sub(r"<(script|style)\b.*?</\1>", " ", out, flags=re.S)
        out = html.unescape(re.sub(r"<[^>]+>", " ", out))
    if fmt == "markdown":
        out = out.replace("\\", "")
    return re.sub(r"[ \t]+", " ", click.unstyle(out))


def said_missing(text: str) -> list[str]:
    """Each clause that says the record does not document something, up to its end."""
    return [m.group(1) for m in re.finditer(r"does not document([^.\n(]*)", text, flags=re.I)]


@pytest.fixture(scope="module")
def decision(tmp_path_factory):
    return Engine(written(tmp_path_factory.mktemp("words"), "words", POLICY)).decide(case_from(RECORD))


def _criterion(decision, cid):
    return next(c for s in (*decision.levels, *decision.items) for c in s.criteria if c.id == cid)


def test_the_policy_variant_leaves_both_criteria_not_documented(decision):
    assert decision.level("L4-L5").determination == "none"
    assert _criterion(decision, "T-N1").status == "not_documented"
    assert _criterion(decision, "T-R1").status == "not_documented"


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "json"])
def test_no_sentence_says_a_documented_fact_is_not_documented(decision, fmt):
    text = visible(fmt, render(decision, fmt))
    clauses = said_missing(text)
    assert not [c for c in clauses if "smoking" in c], clauses  # smoking status is documented: never
    assert not [c for c in clauses if "limitation of activities" in c], clauses  # documented too
    assert [c for c in clauses if "HbA1c" in c], clauses  # what the record does lack is named


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "json"])
def test_a_criterion_of_raw_rules_says_what_it_needs(decision, fmt):
    text = visible(fmt, render(decision, fmt))
    assert re.search(r"needs:? limitation of activities of daily living and the activities it limits", text), text


def test_the_json_lists_what_the_record_lacks_beside_the_declared_text(decision):
    doc = json.loads(render(decision, "json"))
    by_id = {c["id"]: c for s in (*doc["levels"], *doc["items"]) for c in s["criteria"]}
    assert by_id["T-N1"]["lacking"] == [{"term": "at_most(hba1c,70)", "text": "an HbA1c level"}]
    assert by_id["T-N1"]["documentation"] == "smoking status and an HbA1c level"  # what to obtain, unchanged
    assert "lacking" not in by_id["T-R1"]  # raw rules: the engine cannot say which part is missing
    assert "lacking" not in by_id["T-D1"]  # met


def test_a_shipped_policy_says_only_what_is_missing():
    """aetna-cpb-0743's AET-N1 (smoking status, and for anyone who used nicotine the weeks since and
    a cotinine level) of a former smoker nicotine-free 10 weeks with no cotinine level."""
    data = {**RECORD, "history": {"smoking": {"status": "former", "nicotine_free_weeks": 10}},
            "request": {"date": "2026-01-10",
                        "levels": [{"level": "L4-L5", "decompression": "laminectomy", "fusion": True}]}}
    decision = Engine(load("aetna-cpb-0743")).decide(case_from(data))
    assert _criterion(decision, "AET-N1").status == "not_documented"
    for fmt in ("text", "markdown", "html"):
        text = visible(fmt, render(decision, fmt))
        clauses = said_missing(text)
        assert not [c for c in clauses if "smoking" in c or "weeks since" in c], (fmt, clauses)
        assert [c for c in clauses if "cotinine" in c], (fmt, clauses)
