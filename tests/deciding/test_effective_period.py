"""The decision names the policy version applied and flags a request dated
outside the policy's effective period, in every format (shared/criteria/README.md)."""

from __future__ import annotations

import json

import click
import pytest

from casebuilder import baseline, decide, merge
from engine.presenting.letter import to_markdown
from engine.presenting.render import dumps, to_json
from engine.presenting.terminal import to_text

@pytest.mark.parametrize("date,code,words", [
    ("2025-12-15", "outside_effective_period", "before aetna-cpb-0743 CPB 0743 as summarised 2026-01 took effect"),
    (None, "request_undated", "the request is undated"),
])
def test_a_request_outside_the_period_is_flagged_in_every_format(date, code, words):
    data = merge(baseline(), {"request": {"date": date}})  # None removes the date
    decision = decide(data, policy="aetna-cpb-0743")  # CPB 0743 took effect 2026-01-01
    assert [n.code for n in decision.notices] == [code]
    assert words in decision.notices[0].text
    assert json.loads(dumps(to_json(decision)))["notices"][0]["code"] == code
    assert words in click.unstyle(to_text(decision)).splitlines()[1]
    assert words in to_markdown(decision)


def test_a_month_that_may_fall_before_the_start_is_flagged_as_such():
    data = merge(baseline(), {"request": {"date": "2025-01"},
                              "imaging": [{**baseline()["imaging"][0], "date": "2024-12-01"}],
                              "conservative_care": {"episodes": [
                                  {"modality": "physical_therapy", "delivery": "supervised_in_person",
                                   "start": "2024-06-01", "end": "2024-09-01", "outcome": "failed"}]}})
    decision = decide(data)  # reference 1.1 took effect 2025-01-01
    assert decision.notices == ()  # the whole month lies in the period
    decision = decide(merge(data, {"request": {"date": "2024-12"}}))
    assert [n.code for n in decision.notices] == ["outside_effective_period"]


def test_the_version_applied_is_named():
    decision = decide(baseline())
    assert (decision.policy.id, decision.policy.version) == ("reference", "1.1")
    assert click.unstyle(to_text(decision)).startswith("baseline under reference 1.1 (effective 2025-01-01)")
    assert "reference version 1.1" in to_markdown(decision)
    assert json.loads(dumps(to_json(decision)))["policy"] == {"id": "reference", "version": "1.1", "effective": "2025-01-01"}
    assert decision.notices == ()
