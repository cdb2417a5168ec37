"""What a formula left open lacks (core.lp's ``lacking/3``): only leaves the record is silent on.

A leaf the record documents either way is never lacking; a node with a value (met or not met)
is not looked into; a two-valued ``lacks``/``asserted`` is read through to its part; a finding
documented absent inside an ``any`` leaves only the others lacking.  Every measurement and
category the core knows has words (engine/deciding/lacking.py).
"""

from __future__ import annotations

import json

import pytest

from engine.deciding import lacking
from engine.deciding.blocks import measures
from engine.deciding.solver import Engine
from facts.load import parse_case
from small_policy import case_criteria, header, written

HEADER = header("lacking", "what a formula left open lacks", "tests/deciding/test_lacking.py")

CRITERIA = {
    # the shape: smoking status AND something else
    "T-BOTH": "all(is(smoking_status, never), at_most(hba1c, 70))",
    "T-ANY": "any(finding(radiculopathy), finding(sensory_deficit), at_least(oswestry_disability_index, 300))",
    # aetna's AET-N1: read through asserted/lacks to the silent category
    "T-N1": "any(asserted(is(smoking_status, never)), "
            "all(at_least(nicotine_free_days, 42), at_most(cotinine, 100), lacks(is(smoking_status, current))))",
    "T-NOT": "all(negate(finding(diabetes)), given(finding(adl_limitation)))",
}
LEVEL = """
criterion("T-IMG", "imaging", "test").
scope("T-IMG", level).
bears_on("T-IMG", decompression_only).
formula("T-IMG", all(imaging(stenosis_grade), concordant)).
study_answer(at(stenosis_grade, L), St, yes, stenosis(L, Z, S, G, St)) :- stenosis(L, Z, S, G, St), G = severe.
study_answer(at(stenosis_grade, L), St, no, stenosis(L, Z, S, G, St)) :- stenosis(L, Z, S, G, St), G = mild.
justifies(decompression_only, criterion("T-IMG")).
"""


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    return Engine(written(tmp_path_factory.mktemp("lacking"), "lacking", HEADER + case_criteria(CRITERIA) + LEVEL))


def _lacking(engine, clinical=None, history=None, grade="severe", concordant=None):
    record = {
        "case": "t",
        "request": {"date": "2026-01-10", "levels": [{"level": "L4-L5", "decompression": "laminectomy"}]},
        "imaging": [{"study": "mri", "date": "2026-01-02",
                     "levels": [{"level": "L4-L5", "stenosis": [{"zone": "central", "grade": grade}]}]}],
    }
    if clinical:
        record["clinical"] = clinical
    if history:
        record["history"] = history
    if concordant is not None:
        record.setdefault("clinical", {})["concordant_levels"] = concordant
    decision = Engine.decide(engine, parse_case(json.dumps(record), "t.json", fmt="json"), would_change=False,
                             explain=True)
    statuses = {(cid, scope): st for cid, scope, st in decision.statuses}
    out = {}
    for s in (*decision.levels, *decision.items):
        for c in s.criteria:
            out[c.id] = [e.atom for e in c.lacking]
            assert not c.lacking or statuses[(c.id, c.scope)] == "not_documented"
    return out


def test_a_documented_category_is_never_lacking(engine):
    got = _lacking(engine, history={"smoking": {"status": "never"}})
    assert got.get("T-BOTH") == ["at_most(hba1c,70)"]


def test_nothing_documented_lacks_every_leaf_once_per_words(engine):
    got = _lacking(engine)
    assert got["T-BOTH"] == ["is(smoking_status,never)", "at_most(hba1c,70)"]
    # is(smoking_status, never) and is(smoking_status, current): one "smoking status"
    assert got["T-N1"] == ["is(smoking_status,never)", "at_least(nicotine_free_days,42)", "at_most(cotinine,100)"]


def test_a_former_smoker_without_cotinine_lacks_the_cotinine_alone(engine):
    got = _lacking(engine, history={"smoking": {"status": "former", "nicotine_free_weeks": 10}})
    assert got["T-N1"] == ["at_most(cotinine,100)"]


def test_a_finding_documented_absent_is_not_lacking_in_an_any(engine):
    got = _lacking(engine, clinical={"radiculopathy": {"present": False}})
    assert got["T-ANY"] == ["finding(sensory_deficit)", "at_least(oswestry_disability_index,300)"]


def test_a_node_with_a_value_is_not_looked_into(engine):
    # negate(finding(diabetes)) is t; given(finding(adl_limitation)) is silent
    assert _lacking(engine, history={"diabetes": {"present": False}})["T-NOT"] == ["finding(adl_limitation)"]
    # documented diabetes fails the all: not met, nothing lacking
    assert _lacking(engine, history={"diabetes": {"present": True}}).get("T-NOT", []) == []


def test_imaging_answered_and_concordance_silent(engine):
    got = _lacking(engine)
    assert got["T-IMG"] == ["concordant"]
    assert _lacking(engine, concordant=["L4-L5"]).get("T-IMG", []) == []
    # a grade the policy's study_answer rules do not read: no study answers the question
    assert _lacking(engine, grade="moderate")["T-IMG"] == ["imaging(stenosis_grade)", "concordant"]


def test_every_measurement_and_category_the_core_knows_has_words():
    known = measures()
    assert set(known["measured"]) <= set(lacking.MEASUREMENTS), set(known["measured"]) - set(lacking.MEASUREMENTS)
    assert set(known["category"]) <= set(lacking.CATEGORIES), set(known["category"]) - set(lacking.CATEGORIES)
