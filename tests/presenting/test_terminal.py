"""The text a reviewer reads at a terminal: the answer first, every line true.

Issue 11, defects 5 and 7: REF-D4c asked for "the request date" the record
has; REF-A2 said "not in the record: prior decompression" of a record that
documents no prior surgery at all; a waiver was listed as failing although
the criterion it waives was met; and the answer was buried under ~250 lines
with every case-level criterion repeated under every level.
"""

from __future__ import annotations

from pathlib import Path

import click

from casebuilder import baseline, decide, merge
from engine.deciding.policy import load
from engine.deciding.solver import Engine
from engine.presenting.terminal import to_text
from facts import load_case

ROOT = Path(__file__).resolve().parents[2]
LINES_BEFORE = 246  # `necessity explain examples/source-003.yaml` before issue 11


def text_of(decision, **kwargs) -> str:
    return click.unstyle(to_text(decision, **kwargs))


def test_source_003_leads_with_the_answer_and_says_each_criterion_once():
    decision = Engine(load("reference")).decide(load_case(ROOT / "examples" / "source-003.yaml"))
    lines = text_of(decision).splitlines()
    assert len(lines) <= LINES_BEFORE // 2
    head = lines[:15]
    assert head[0] == "source-003 under reference 1.1 (effective 2025-01-01): denied"
    for lv in decision.levels:
        assert any(line.split()[:1] == [lv.level] and "→ none" in line for line in head), lv.level
    assert any("blocked by ? REF-D4a" in line for line in head)
    # each case-level criterion is shown once, in its own section
    assert sum(line.strip().startswith("? REF-D4a not documented") for line in lines) == 1
    assert "case-level criteria" in lines


def test_verbose_adds_the_criteria_not_on_the_way_to_any_answer():
    decision = decide(merge(baseline(), {"request": {"levels": [{"level": "L4-L5", "decompression": True}]}}))
    plain, verbose = text_of(decision), text_of(decision, verbose=True)
    assert "REF-F1" not in plain
    assert "other criteria the policy evaluated" in verbose and "REF-F1" in verbose


def test_a_present_request_date_is_never_asked_for():
    data = merge(baseline(), {"conservative_care": {"episodes": [
        {"modality": "physical_therapy", "delivery": "supervised_in_person", "weeks": 8, "outcome": "failed"}]}})
    text = text_of(decide(data))
    assert "REF-D4c not documented" in text
    assert "request date" not in text and "date of the request" not in text


def test_no_prior_surgery_at_all_is_said_as_such():
    data = merge(baseline(), {
        "request": {"levels": [{"level": "L4-L5", "decompression": "laminectomy", "fusion": True}],
                    "items": [{"item": "rhbmp2"}]},
        "imaging": [{"study": "flexion_extension_xray", "date": "2025-10-02",
                     "levels": [{"level": "L4-L5", "translation_mm": 4.5}]},
                    baseline()["imaging"][0]],
    })
    decision = decide(data)
    assert decision.level("L4-L5").determination == "fusion"
    a2 = next(c for c in decision.item("rhbmp2").criteria if c.id == "REF-A2")
    assert a2.status == "not_met"
    assert [e.text for e in a2.evidence] == [
        "the surgical history documents no prior spine surgery, so no prior surgery at L4-L5"]
    assert "not in the record" not in text_of(decision)


def test_a_waiver_is_not_listed_as_failing_when_what_it_waives_is_met():
    # the level fails on REF-D1 (mild stenosis); REF-D4 is met, so REF-W1 is not needed
    data = merge(baseline(), {"imaging": [{"study": "mri", "date": "2025-10-01",
                                           "levels": [{"level": "L4-L5", "stenosis": [{"zone": "central", "grade": "mild"}]}]}]})
    decision = decide(data)
    level = decision.level("L4-L5")
    assert level.determination == "none"
    assert "REF-W1" not in {c.id for c in level.criteria}
    assert "REF-W1" not in text_of(decision)


def test_a_waived_criterion_is_shown_beside_its_waiver():
    data = merge(baseline(), {"clinical": {"cauda_equina_syndrome": True}, "conservative_care": {"episodes": None}})
    decision = decide(data)
    level = decision.level("L4-L5")
    d4 = next(c for c in level.criteria if c.id == "REF-D4")
    assert d4.waived_by == "REF-W1"
    assert not any(c.id.startswith("REF-D4") and c.id != "REF-D4" for c in level.criteria), "its parts are excused"
    assert "↷ REF-D4 waived by REF-W1" in text_of(decision)
