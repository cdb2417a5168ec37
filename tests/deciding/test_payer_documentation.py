"""The Documentation rules of reference.md 1.1 under the three payer policies.

tests/test_documentation_rules.py holds the reference policy to them; the same
four behaviours must hold wherever a payer policy reads the same facts (issue
11, defects 2 to 5):

1. a date known only to the month is every day of that month: a criterion that
   differs between those days is not documented (the exact date would settle
   it), never decided against the patient; a month surely inside or outside
   decides it;
2. ``episodes: []`` documents that no conservative care was given: every
   conservative-care criterion is not met on that finding, and no what-if asks
   for documentation of care that never happened;
3. where an older MRI and a newer CT disagree, the CT governs and the MRI's
   finding is shown superseded; with the MRI undated, the order is not
   documented and neither is the criterion;
4. a documented absence reads as what the record documents, never as "not in
   the record".

Each payer is one row of data; the tests are the same for all three.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import pytest

from casebuilder import decide, engine, merge
from engine.authoring.golden import discover, golden_case, load_golden
from engine.deciding.policy import DEFAULT_POLICIES_DIR

REQUEST = "2026-01-15"
PT = {"modality": "physical_therapy", "delivery": "supervised_in_person", "sessions": 12, "source": "pt_notes",
      "outcome": "failed"}

# An older MRI (moderate stenosis, a grade II slip) and a newer CT (mild, no
# slip) at L4-L5, with flexion-extension films that measure 1 mm there, so
# the instability criteria are decided once the slip is.
MRI = {"study": "mri", "date": "2025-03-03", "levels": [
    {"level": "L4-L5", "stenosis": [{"zone": "central", "grade": "moderate"}],
     "spondylolisthesis": {"present": True, "meyerding_grade": 2, "type": "degenerative"}}]}
CT = {"study": "ct", "date": "2025-10-01", "levels": [
    {"level": "L4-L5", "stenosis": [{"zone": "central", "grade": "mild"}], "spondylolisthesis": {"present": False}}]}
FILMS = {"study": "flexion_extension_xray", "date": "2025-10-08", "levels": [{"level": "L4-L5", "translation_mm": 1}]}


def _base(clinical: dict[str, Any]) -> dict[str, Any]:
    """A case that meets every case-level criterion of the payer, with L4-L5 requested."""
    return {
        "case": "payer-documentation",
        "request": {"date": REQUEST,
                    "levels": [{"level": "L4-L5", "decompression": "laminectomy", "fusion": {"approaches": ["tlif"]}}]},
        "imaging": [{"study": "mri", "date": "2025-10-01",
                     "levels": [{"level": "L4-L5", "stenosis": [{"zone": "central", "grade": "moderate"}]}]}],
        "clinical": {"radiculopathy": {"present": True}, "adl_limitation": True, **clinical},
        "conservative_care": {"episodes": [
            {**PT, "start": "2025-06-02", "end": "2025-08-04"},
            {"modality": "nsaids", "start": "2025-05-01", "end": "2025-10-01", "outcome": "failed"}]},
        "history": {"prior_surgeries": [], "smoking": {"status": "never"}, "diabetes": {"present": False}},
    }


def _care(*episodes: dict[str, Any]) -> dict[str, Any]:
    return {"conservative_care": {"episodes": list(episodes)}}


@dataclass(frozen=True)
class Payer:
    policy: str
    base: dict[str, Any]
    #: conservative-care criteria (id, scope), and the SI joint item's, that
    #: an empty list of care refutes
    care_criteria: tuple[tuple[str, str], ...]
    #: the conflict: its imaging, each criterion's status once the CT governs,
    #: and the criteria that read (and so supersede) the MRI's finding
    conflict_imaging: tuple[dict[str, Any], ...]
    governed: dict[tuple[str, str], str]
    superseded: tuple[str, ...]
    #: record changes the empty list of care is tried with (an applicable
    #: criterion, an SI joint fusion requested)
    empty_extra: dict[str, Any] = field(default_factory=dict)


PAYERS = (
    Payer(
        policy="aetna-cpb-0743",
        base=_base({}),
        care_criteria=(("AET-D4", "case"), ("AET-A4", "si_joint_fusion")),
        conflict_imaging=(MRI, CT, FILMS),
        governed={("AET-D1", "L4-L5"): "not_met", ("AET-F1", "L4-L5"): "not_met"},
        superseded=("AET-D1", "AET-F1"),
        empty_extra={"request": {"items": [{"item": "si_joint_fusion", "side": "left"}]}},
    ),
    Payer(
        policy="cigna-cmm-609",
        base=_base({"concordant_levels": ["L4-L5"]}),
        care_criteria=(("CIG-D1b", "L4-L5"), ("CIG-F4", "L4-L5"), ("CIG-A3b", "si_joint_fusion")),
        conflict_imaging=(MRI, CT, FILMS),
        governed={("CIG-D1a", "L4-L5"): "not_met", ("CIG-F1", "L4-L5"): "not_met"},
        superseded=("CIG-D1a", "CIG-F1", "CIG-F4"),
        # a degenerative slip makes CIG-F4's 3 months apply
        empty_extra={"request": {"items": [{"item": "si_joint_fusion", "side": "left"}]},
                     "imaging": [{"study": "mri", "date": "2025-10-01", "levels": [
                         {"level": "L4-L5", "stenosis": [{"zone": "central", "grade": "moderate"}],
                          "spondylolisthesis": {"present": True, "meyerding_grade": 1, "type": "degenerative"}}]}]},
    ),
    Payer(
        policy="carelon-spine",
        base=_base({"concordant_levels": ["L4-L5"], "pain_scores": [{"scale": "vas", "score": 6}],
                    "limited_activities": ["walking", "dressing"]}),
        care_criteria=(("CAR-D4", "case"), ("CAR-D4a", "case"), ("CAR-D4b", "case"), ("CAR-D4c", "case"),
                       ("CAR-A1e", "si_joint_fusion")),
        conflict_imaging=(MRI, CT, FILMS),
        # any stenosis is compression under Carelon: the mild CT agrees with
        # the MRI on CAR-D1, and disagrees on the slip
        governed={("CAR-D1", "L4-L5"): "met", ("CAR-F1", "L4-L5"): "not_met"},
        superseded=("CAR-F1",),
        empty_extra={"request": {"items": [{"item": "si_joint_fusion", "side": "left"}]}},
    ),
)
IDS = [p.policy for p in PAYERS]
BASE = {p.policy: p.base for p in PAYERS}

SI_FUSION = {"request": {"items": [{"item": "si_joint_fusion", "side": "left"}]}}
SI_WORKUP = {"si_joint": {"provocative_tests_positive": 3, "provocative_tests_performed": 5,
                          "diagnostic_blocks": [{"relief_pct": 80}, {"relief_pct": 80}]}}
MRI_DEGENERATIVE = {"imaging": [{"study": "mri", "date": "2025-10-01", "levels": [
    {"level": "L4-L5", "stenosis": [{"zone": "central", "grade": "moderate"}],
     "spondylolisthesis": {"present": True, "meyerding_grade": 1, "type": "degenerative"}}]}]}


@dataclass(frozen=True)
class Month:
    """A date known only to the month, and the criterion it decides."""

    policy: str
    criterion: str
    scope: str
    #: the record change that puts the month into the case
    record: Callable[[str], dict[str, Any]]
    #: months that straddle the criterion's figure, fall surely inside it and surely outside
    straddling: str
    inside: str
    outside: str

    def case(self, month: str) -> dict[str, Any]:
        return merge(BASE[self.policy], self.record(month))

    def __str__(self) -> str:
        return f"{self.policy}/{self.criterion}"


def _with(*changes: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for change in changes:
        out = merge(out, change)
    return out


MONTHS = (
    # The 12 months before 2026-01-15 open on 2025-01-15: PT that ended in
    # "2025-01" may have ended inside the window or before it.
    Month("aetna-cpb-0743", "AET-D4", "case",
          lambda end: _care({**PT, "start": "2024-06-03", "end": end},
                            {"modality": "nsaids", "start": "2025-02-06", "end": "2025-03-20", "outcome": "failed"}),
          straddling="2025-01", inside="2025-02", outside="2024-12"),
    # 3 months of in-person PT: from "2025-08" to 2025-11-03 is 64 to 94 days.
    Month("aetna-cpb-0743", "AET-A4", "si_joint_fusion",
          lambda start: _with(SI_FUSION, {"history": SI_WORKUP}, _care({**PT, "start": start, "end": "2025-11-03"})),
          straddling="2025-08", inside="2025-07", outside="2025-09"),
    # Imaging no older than 6 months before 2026-01-15: an MRI of "2025-07"
    # may be older or younger than 2025-07-15.
    Month("cigna-cmm-609", "CIG-D1c", "L4-L5",
          lambda date: {"imaging": [{"study": "mri", "date": date, "levels": [
              {"level": "L4-L5", "stenosis": [{"zone": "central", "grade": "moderate"}]}]}]},
          straddling="2025-07", inside="2025-08", outside="2025-06"),
    # About 6 weeks: PT from "2025-06" to 2025-08-10 spans 41 to 70 days.
    Month("cigna-cmm-609", "CIG-D1b", "L4-L5",
          lambda start: _care({**PT, "start": start, "end": "2025-08-10"},
                              {"modality": "nsaids", "start": "2025-07-01", "end": "2025-07-20", "outcome": "failed"}),
          straddling="2025-06", inside="2025-05", outside="2025-07"),
    # 3 months for a degenerative slip: from "2025-08" to 2025-11-15 is 76 to 106 days.
    Month("cigna-cmm-609", "CIG-F4", "L4-L5",
          lambda start: _with(MRI_DEGENERATIVE, _care(
              {**PT, "start": start, "end": "2025-11-15"},
              {"modality": "nsaids", "start": "2025-09-01", "end": "2025-10-30", "outcome": "failed"})),
          straddling="2025-08", inside="2025-07", outside="2025-09"),
    # 6 months, with an SI injection: from "2025-06" to 2025-12-01 is 154 to 183 days.
    Month("cigna-cmm-609", "CIG-A3b", "si_joint_fusion",
          lambda start: _with(SI_FUSION, _care(
              {**PT, "start": start, "end": "2025-12-01"},
              {"modality": "si_joint_injection", "start": "2025-10-01", "end": "2025-10-01", "outcome": "failed"})),
          straddling="2025-06", inside="2025-05", outside="2025-07"),
    # 6 weeks of therapy: PT from "2025-06" to 2025-07-20 ran 20 to 49 days.
    Month("carelon-spine", "CAR-D4a", "case",
          lambda start: _care({**PT, "start": start, "end": "2025-07-20"},
                              {"modality": "nsaids", "start": "2025-05-01", "end": "2025-10-01", "outcome": "failed"}),
          straddling="2025-06", inside="2025-05", outside="2025-07"),
    # 3 months of therapy before fusion: from "2025-06" to 2025-09-20 is 82 to 111 days.
    Month("carelon-spine", "CAR-D4b", "case",
          lambda start: _care({**PT, "start": start, "end": "2025-09-20"},
                              {"modality": "nsaids", "start": "2025-07-01", "end": "2025-08-01", "outcome": "failed"}),
          straddling="2025-06", inside="2025-05", outside="2025-07"),
    # 6 months of care before SI joint fusion: "2025-06" to 2025-12-01 is 154 to 183 days.
    Month("carelon-spine", "CAR-A1e", "si_joint_fusion",
          lambda start: _with(SI_FUSION, _care(
              {**PT, "start": start, "end": "2025-12-01"},
              {"modality": "nsaids", "start": "2025-09-01", "end": "2025-10-01", "outcome": "failed"})),
          straddling="2025-06", inside="2025-05", outside="2025-07"),
)


def _criterion(decision, cid: str, scope: str):
    """The reported result for (cid, scope), from whichever subject reports it."""
    for subject in (*decision.levels, *decision.items):
        for c in subject.criteria:
            if c.id == cid and c.scope == scope:
                return c
    raise AssertionError(f"{cid}@{scope} is not reported; statuses: {decision.statuses}")


def _documentation_asked(decision) -> set[str]:
    return {a.criterion for subject in (*decision.levels, *decision.items) for w in subject.would_change
            if w.kind == "documentation" for a in (*w.requires, *w.one_of)}


# ---------------------------------------------------------------------------
# 1. Dates known only to the month
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("month", MONTHS, ids=str)
def test_a_month_that_straddles_the_figure_leaves_the_criterion_open(month: Month):
    decision = decide(month.case(month.straddling), month.policy)
    cid, scope = month.criterion, month.scope
    got = decision.status_of(cid, scope)
    assert got == "not_documented", f"{month.policy} {cid}@{scope} on {month.straddling}: expected not_documented, got {got}"
    c = _criterion(decision, cid, scope)
    texts = [e.text for e in c.unsettled]
    assert texts and all(t.endswith("the exact date would settle it") for t in texts), (month.policy, cid, texts)
    assert any(month.straddling in t for t in texts), f"{cid}: the month must be shown as written: {texts}"
    assert cid in _documentation_asked(decision), f"{month.policy}: the exact date is documentation to obtain for {cid}"


@pytest.mark.parametrize("month", MONTHS, ids=str)
def test_a_month_surely_inside_or_outside_decides_the_criterion(month: Month):
    for date, want in ((month.inside, "met"), (month.outside, "not_met")):
        got = decide(month.case(date), month.policy).status_of(month.criterion, month.scope)
        assert got == want, f"{month.policy} {month.criterion}@{month.scope} on {date}: expected {want}, got {got}"


# ---------------------------------------------------------------------------
# 2. A documented absence of conservative care
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("care", [{"episodes": []}, {"episodes": [], "total_weeks": 0}], ids=["empty", "zero-weeks"])
@pytest.mark.parametrize("payer", PAYERS, ids=IDS)
def test_an_empty_list_of_care_refutes_every_conservative_care_criterion(payer: Payer, care: dict[str, Any]):
    case = merge(merge(payer.base, payer.empty_extra), {"conservative_care": care})
    decision = decide(case, payer.policy)
    for cid, scope in payer.care_criteria:
        got = decision.status_of(cid, scope)
        assert got == "not_met", f"{payer.policy} {cid}@{scope} with episodes: []: expected not_met, got {got}"
        c = _criterion(decision, cid, scope)
        if not c.parts:
            assert "the record documents that no nonoperative care was given" in [e.text for e in c.evidence], (
                f"{cid}@{scope}: {[e.text for e in c.evidence]}")
    asked = _documentation_asked(decision) & {cid for cid, _ in payer.care_criteria}
    assert not asked, f"{payer.policy}: documentation asked of care the record says was never given: {sorted(asked)}"


# ---------------------------------------------------------------------------
# 3. Conflicting studies
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("payer", PAYERS, ids=IDS)
def test_the_newer_study_governs_and_the_older_finding_is_superseded(payer: Payer):
    decision = decide(merge(payer.base, {"imaging": list(payer.conflict_imaging)}), payer.policy)
    for (cid, scope), want in payer.governed.items():
        got = decision.status_of(cid, scope)
        assert got == want, f"{payer.policy} {cid}@{scope}: expected {want} once the CT governs, got {got}"
    assert decision.level("L4-L5").determination in ("none", "decompression_only"), "the CT shows no slip: no fusion"
    for cid in payer.superseded:
        c = _criterion(decision, cid, "L4-L5")
        texts = [e.text for e in c.superseded]
        assert texts and all("(MRI 2025-03-03), superseded by the later CT 2025-10-01" in t for t in texts), (cid, texts)


@pytest.mark.parametrize("payer", PAYERS, ids=IDS)
def test_conflicting_studies_in_undocumented_order_leave_the_finding_open(payer: Payer):
    undated = [{k: v for k, v in s.items() if not (s is MRI and k == "date")} for s in payer.conflict_imaging]
    decision = decide(merge(payer.base, {"imaging": undated}), payer.policy)
    for cid in payer.superseded:
        c = _criterion(decision, cid, "L4-L5")
        assert c.status == "not_documented", f"{payer.policy} {cid}: studies in no documented order decided it: {c.status}"
        assert any("the dates of the studies would settle which governs" in e.text for e in c.unsettled), (
            cid, [e.text for e in c.unsettled])


# ---------------------------------------------------------------------------
# 4. Every documented absence reads as what the record documents
# ---------------------------------------------------------------------------

GOLDENS = [(p.policy, path) for p in PAYERS for path in discover(DEFAULT_POLICIES_DIR / p.policy)]


@pytest.mark.parametrize("policy,path", GOLDENS, ids=[f"{p}/{path.stem}" for p, path in GOLDENS])
def test_no_documented_absence_reads_as_missing(policy: str, path):
    decision = engine(policy).decide(golden_case(load_golden(path)))
    for subject in (*decision.levels, *decision.items):
        for c in subject.criteria:
            for e in c.evidence:
                if e.atom.startswith("absent("):
                    assert not e.text.startswith("not in the record"), (
                        f"{policy}/{path.stem} {c.id}@{c.scope}: {e.atom} reads {e.text!r}")


NSAIDS_ONLY = _care({"modality": "nsaids", "start": "2025-01-06", "end": "2025-10-01", "outcome": "failed"})
ABSENCES = (
    ("aetna-cpb-0743", NSAIDS_ONLY, "AET-D4", "case",
     "the record's list of nonoperative care holds no physical therapy"),
    ("cigna-cmm-609", _with(SI_FUSION, NSAIDS_ONLY), "CIG-A3b", "si_joint_fusion",
     "the record's list of nonoperative care holds no SI joint injection"),
    ("cigna-cmm-609", _with(SI_FUSION, NSAIDS_ONLY), "CIG-A3b", "si_joint_fusion",
     "the record's list of nonoperative care holds no supervised in-person physical therapy"),
    ("cigna-cmm-609", {"request": {"items": [{"item": "bone_marrow_aspirate"}, {"item": "allograft"}]}},
     "CIG-A2", "bone_marrow_aspirate", "no autograft is requested"),
    ("cigna-cmm-609", {"request": {"items": [{"item": "bone_marrow_aspirate"}]}},
     "CIG-A2", "bone_marrow_aspirate", "no bone graft is requested"),
    ("carelon-spine", _care({**PT, "start": "2025-06-02", "end": "2025-08-04"}), "CAR-D4c", "case",
     "the record's list of nonoperative care holds no modality beside physical therapy"),
    ("carelon-spine", {"clinical": {"limited_activities": []}}, "CAR-D2", "case",
     "the record's list of limited activities of daily living is empty"),
)


@pytest.mark.parametrize("policy,change,cid,scope,sentence", ABSENCES,
                         ids=[f"{row[0]}/{row[2]}:{row[4][-30:]}" for row in ABSENCES])
def test_each_documented_absence_says_what_the_record_holds(policy, change, cid, scope, sentence):
    decision = decide(merge(BASE[policy], change), policy)
    c = _criterion(decision, cid, scope)
    assert c.status == "not_met", f"{policy} {cid}@{scope}: expected not_met, got {c.status}"
    assert sentence in [e.text for e in c.evidence], f"{policy} {cid}@{scope}: {[e.text for e in c.evidence]}"
