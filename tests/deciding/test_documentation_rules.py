"""reference.md 1.1, Documentation: conflicting studies, dates known only to the
month, and a documented absence of conservative care, under the reference
policy (tests/test_payer_documentation.py holds the payer policies to the same).

Issue 11, defects 2 to 4: a newer CT that contradicted an older MRI was hidden
and fusion granted; PT that ended "2024-12" was shown as 2024-12-01 and
REF-D4c decided against the patient; `episodes: []` read as silence.
"""

from __future__ import annotations

import json

import click
import pytest

from casebuilder import baseline, decide, merge
from engine.presenting.render import dumps, to_json
from engine.presenting.terminal import to_text

# ---------------------------------------------------------------------------
# Conflicting studies: the most recent governs; undated order is not documented
# ---------------------------------------------------------------------------

MRI_2025_03 = {"study": "mri", "date": "2025-03-01", "levels": [
    {"level": "L4-L5", "stenosis": [{"zone": "central", "grade": "moderate"}],
     "spondylolisthesis": {"present": True}}]}
CT_2025_10 = {"study": "ct", "date": "2025-10-01", "levels": [
    {"level": "L4-L5", "stenosis": [{"zone": "central", "grade": "mild"}],
     "spondylolisthesis": {"present": False}}]}


def criterion(decision, cid: str, level: str = "L4-L5"):
    return next(c for c in decision.level(level).criteria if c.id == cid)


def test_a_newer_study_governs_and_the_older_finding_is_shown_superseded():
    decision = decide(merge(baseline(), {"imaging": [MRI_2025_03, CT_2025_10]}))
    level = decision.level("L4-L5")
    assert level.determination == "none", "the newer CT shows mild stenosis and no slip: nothing is justified"
    d1, f1 = criterion(decision, "REF-D1"), criterion(decision, "REF-F1")
    assert (d1.status, f1.status) == ("not_met", "not_met")
    assert [e.text for e in d1.evidence] == ["L4-L5 central mild stenosis (CT 2025-10-01)"]
    assert [e.text for e in d1.superseded] == [
        "L4-L5 central moderate stenosis (MRI 2025-03-01), superseded by the later CT 2025-10-01"]
    assert [e.text for e in f1.superseded] == [
        "L4-L5 spondylolisthesis (MRI 2025-03-01), superseded by the later CT 2025-10-01"]
    text = click.unstyle(to_text(decision))
    assert "- superseded: L4-L5 central moderate stenosis (MRI 2025-03-01)" in text
    data = json.loads(dumps(to_json(decision)))
    d1_json = next(c for c in data["levels"][0]["criteria"] if c["id"] == "REF-D1")
    assert d1_json["superseded"][0]["fact"].startswith("stenosis(\"L4-L5\",central,unspecified,moderate,1)")


def test_the_newer_study_governs_whichever_way_it_points():
    older_ct = {**CT_2025_10, "date": "2025-01-15"}
    decision = decide(merge(baseline(), {"imaging": [MRI_2025_03, older_ct]}))
    assert criterion(decision, "REF-D1").status == "met"
    assert criterion(decision, "REF-F1").status == "met"
    assert decision.level("L4-L5").determination == "fusion"
    assert criterion(decision, "REF-F1").superseded  # the older CT's "no slip" is named


@pytest.mark.parametrize("undated", ["mri", "ct"])
def test_studies_in_undocumented_order_leave_the_finding_open(undated):
    imaging = [dict(s) for s in (MRI_2025_03, CT_2025_10)]
    for study in imaging:
        if study["study"] == undated:
            del study["date"]
    decision = decide(merge(baseline(), {"imaging": imaging}))
    for cid in ("REF-D1", "REF-F1"):
        c = criterion(decision, cid)
        assert c.status == "not_documented", f"{cid}: conflicting studies with no order must not decide it"
        assert len(c.unsettled) == 2
        assert all("the dates of the studies would settle which governs" in e.text for e in c.unsettled)
    text = click.unstyle(to_text(decision))
    assert "- open: L4-L5 central moderate stenosis (MRI" in text


def test_agreeing_studies_are_both_cited():
    ct_agrees = {"study": "ct", "date": "2025-10-01", "levels": [
        {"level": "L4-L5", "stenosis": [{"zone": "central", "grade": "severe"}]}]}
    decision = decide(merge(baseline(), {"imaging": [MRI_2025_03, ct_agrees]}))
    d1 = criterion(decision, "REF-D1")
    assert d1.status == "met" and len(d1.evidence) == 2 and not d1.superseded


def test_an_ungraded_newer_report_leaves_an_older_mild_grade_open():
    mri_mild = {"study": "mri", "date": "2025-03-01",
                "levels": [{"level": "L4-L5", "stenosis": [{"zone": "central", "grade": "mild"}]}]}
    ct_ungraded = {"study": "ct", "date": "2025-10-01", "levels": [{"level": "L4-L5", "stenosis": [{"zone": "central"}]}]}
    decision = decide(merge(baseline(), {"imaging": [mri_mild, ct_ungraded]}))
    d1 = criterion(decision, "REF-D1")
    assert d1.status == "not_documented"
    assert [e.text for e in d1.unsettled] == ["L4-L5 central stenosis, no grade reported (CT 2025-10-01)"]
    # graded after the ungraded report, the mild grade stands
    decision = decide(merge(baseline(), {"imaging": [{**mri_mild, "date": "2025-11-01"}, ct_ungraded]}))
    assert criterion(decision, "REF-D1").status == "not_met"


# ---------------------------------------------------------------------------
# Dates known only to the month: never decided against the patient, shown as written
# ---------------------------------------------------------------------------


def with_pt(end: str, request: str = "2025-12-15", start: str = "2024-09") -> dict:
    return merge(baseline(), {
        "request": {"date": request},
        "conservative_care": {"episodes": [
            {"modality": "physical_therapy", "delivery": "supervised_in_person", "start": start, "end": end,
             "sessions": 12, "outcome": "failed"},
            {"modality": "nsaids", "start": "2024-08-01", "end": "2025-09-01", "outcome": "failed"},
        ]},
    })


def test_a_month_that_straddles_the_window_leaves_the_criterion_open():
    # the 12 months before 2025-12-15 open on 2024-12-15: "2024-12" may fall either side
    decision = decide(with_pt("2024-12"))
    assert decision.status_of("REF-D4c") == "not_documented"
    d4c = next(c for c in decision.level("L4-L5").criteria if c.id == "REF-D4c")
    assert [e.text for e in d4c.unsettled] == [
        "physical therapy (supervised in person) ended 2024-12: the exact date would settle it"]
    text = click.unstyle(to_text(decision))
    assert "2024-12-01" not in text and "ended 2024-12:" in text
    # documentation, not a refuted finding: the exact date is what to obtain
    docs = [w for w in decision.level("L4-L5").would_change if w.kind == "documentation"]
    assert any(a.criterion == "REF-D4c" for w in docs for a in w.requires + w.one_of)


@pytest.mark.parametrize("end,status", [("2025-01", "met"), ("2024-11", "not_met"), ("2024-12-20", "met"),
                                        ("2024-12-10", "not_met")])
def test_a_month_wholly_inside_or_outside_the_window_decides_it(end, status):
    assert decide(with_pt(end)).status_of("REF-D4c") == status


def test_month_precision_lengths_meet_six_weeks_only_when_every_day_would():
    # 2025-06 to 2025-07 spans 0 to 60 days: 6 weeks may or may not have been reached
    open_case = merge(baseline(), {"conservative_care": {"episodes": [
        {"modality": "physical_therapy", "delivery": "supervised_in_person", "start": "2025-06", "end": "2025-07",
         "outcome": "failed"},
        {"modality": "nsaids", "start": "2025-05-01", "end": "2025-09-01", "outcome": "failed"}]}})
    decision = decide(open_case)
    assert decision.status_of("REF-D4a") == "not_documented"
    d4a = next(c for c in decision.level("L4-L5").criteria if c.id == "REF-D4a")
    assert {e.text for e in d4a.unsettled} == {
        "physical therapy (supervised in person) started 2025-06: the exact date would settle it",
        "physical therapy (supervised in person) ended 2025-07: the exact date would settle it"}
    # 2025-03 to 2025-07 is at least 92 days: met whatever the days
    met_case = merge(open_case, {"conservative_care": {"episodes": [
        {"modality": "physical_therapy", "delivery": "supervised_in_person", "start": "2025-03", "end": "2025-07",
         "outcome": "failed"}]}})
    assert decide(met_case).status_of("REF-D4a") == "met"


# ---------------------------------------------------------------------------
# A documented absence of conservative care
# ---------------------------------------------------------------------------


def test_an_empty_list_of_care_documents_that_none_was_given():
    decision = decide(merge(baseline(), {"conservative_care": {"episodes": []}}))
    for cid in ("REF-D4a", "REF-D4b", "REF-D4c", "REF-D4d"):
        assert decision.status_of(cid) == "not_met", cid
    d4a = next(c for c in decision.level("L4-L5").criteria if c.id == "REF-D4a")
    assert [e.text for e in d4a.evidence] == ["the record documents that no nonoperative care was given"]
    # no documentation of care that never happened is asked for
    for w in decision.level("L4-L5").would_change:
        if w.kind == "documentation":
            assert not {a.criterion for a in (*w.requires, *w.one_of)} & {"REF-D4a", "REF-D4b", "REF-D4c", "REF-D4d"}


def test_a_list_without_physical_therapy_leaves_therapy_not_documented():
    decision = decide(merge(baseline(), {"conservative_care": {"episodes": [
        {"modality": "nsaids", "start": "2025-05-01", "end": "2025-09-01", "outcome": "failed"}]}}))
    assert decision.status_of("REF-D4a") == "not_documented"


def test_an_older_study_agreeing_with_the_latest_is_cited_and_the_one_between_superseded():
    mri_2024 = {"study": "mri", "date": "2024-06-01",
                "levels": [{"level": "L4-L5", "spondylolisthesis": {"present": False},
                            "stenosis": [{"zone": "central", "grade": "moderate"}]}]}
    ct_2025_03 = {"study": "ct", "date": "2025-03-01", "levels": [{"level": "L4-L5", "spondylolisthesis": {"present": True}}]}
    mri_2025_10 = {"study": "mri", "date": "2025-10-01", "levels": [{"level": "L4-L5", "spondylolisthesis": {"present": False}}]}
    decision = decide(merge(baseline(), {"imaging": [mri_2024, ct_2025_03, mri_2025_10]}))
    f1 = criterion(decision, "REF-F1")
    assert f1.status == "not_met"
    assert [e.text for e in f1.evidence] == ["L4-L5 no spondylolisthesis (MRI 2024-06-01)",
                                            "L4-L5 no spondylolisthesis (MRI 2025-10-01)"]
    assert [e.text for e in f1.superseded] == [
        "L4-L5 spondylolisthesis (CT 2025-03-01), superseded by the later MRI 2025-10-01"]


def test_an_empty_list_beside_a_total_of_zero_documents_no_care():
    decision = decide(merge(baseline(), {"conservative_care": {"episodes": [], "total_weeks": 0}}))
    for cid in ("REF-D4a", "REF-D4b", "REF-D4c", "REF-D4d"):
        assert decision.status_of(cid) == "not_met", cid
