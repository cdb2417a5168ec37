"""Reading PAS request Bundles as strictly as a case file, and as real PAS clients send them (issues 21 and 22).

The request fixtures in the style of the Da Vinci PAS guide's examples are
written here (``_pas_request``), never copied from the guide.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from casebuilder import baseline, case_from, merge
from engine.cli import main
from engine.deciding.decision import Notice
from exchange.bundle import BundleError
from exchange.claim import to_bundle
from exchange.request import from_bundle, noticed, read_text

CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
POS = "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
X12_1525 = "https://codesystem.x12.org/005010/1525"
REQUEST_TYPE = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-serviceItemRequestType"
CANCELLED = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/modifierextension-infoCancelled"
LOINC_DEXA = "38267-8"


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def _explain(tmp_path: Path, bundle: dict | str, *args: str):
    path = tmp_path / "request.json"
    path.write_text(bundle if isinstance(bundle, str) else json.dumps(bundle), encoding="utf-8")
    return CliRunner().invoke(main, ["explain", str(path), *args])


def _refused(tmp_path: Path, bundle: dict | str) -> str:
    result = _explain(tmp_path, bundle)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "please report" not in result.output, result.output
    return result.output


def _codes(response: dict) -> dict[int, str]:
    """Each Claim item's X12 306 review action code, wherever in its adjudication's extensions it is written."""
    out = {}
    for item in response["entry"][0]["resource"]["item"]:
        text = json.dumps(item["adjudication"])
        out[item["itemSequence"]] = next(c for c in ("A1", "A2", "A3", "A4", "A6", "A7", "C") if f'"code": "{c}"' in text)
    return out


def _answered(tmp_path: Path, bundle: dict) -> tuple[dict, str]:
    result = _explain(tmp_path, bundle, "--format", "fhir")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), result.stderr


def _case_bundle(changes: dict | None = None) -> dict:
    return to_bundle(case_from(merge(baseline(), changes or {})))


def _entry(bundle: dict, kind: str) -> tuple[int, dict]:
    return next((i, e["resource"]) for i, e in enumerate(bundle["entry"]) if e["resource"]["resourceType"] == kind)


def _with_dexa(t_score: float = -2.8) -> dict:
    return _case_bundle({"request": {"items": [{"item": "cement_augmentation"}]},
                         "history": {"bone_density": {"dexa_t_score": t_score}}})


def _find(items: list[dict], link: str) -> dict:
    for item in items:
        if item["linkId"] == link:
            return item
        inner = _find(item.get("item", []), link) if item.get("item") else None
        if inner:
            return inner
    return {}


def _pas_request(items: list[dict], *, claim_type: str = "professional", created: str = "2025-11-03T07:34:00+05:00",
                 entries: list[dict] | None = None) -> dict:
    """A request Bundle written the way the PAS guide's examples are: http fullUrls, relative references."""
    base = "http://example.org/fhir"
    claim = {
        "resourceType": "Claim", "id": "LumbarRequest",
        "identifier": [{"system": "http://example.org/PATIENT_EVENT_TRACE_NUMBER", "value": "16139462398"}],
        "status": "active",
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": claim_type}]},
        "use": "preauthorization", "patient": {"reference": "Patient/Subscriber"}, "created": created,
        "insurer": {"reference": "Organization/Insurer"}, "provider": {"reference": "Organization/Requestor"},
        "priority": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority", "code": "normal"}]},
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": "Coverage/Insurance"}}],
        "item": items,
    }
    return {
        "resourceType": "Bundle",
        "identifier": {"system": "http://example.org/SUBMITTER_TRANSACTION_IDENTIFIER", "value": "A1"},
        "type": "collection", "timestamp": created,
        "entry": [
            {"fullUrl": f"{base}/Claim/LumbarRequest", "resource": claim},
            {"fullUrl": f"{base}/Organization/Requestor", "resource": {"resourceType": "Organization", "id": "Requestor",
                                                                       "name": "Requesting practice"}},
            {"fullUrl": f"{base}/Organization/Insurer", "resource": {"resourceType": "Organization", "id": "Insurer",
                                                                     "name": "Payer"}},
            {"fullUrl": f"{base}/Coverage/Insurance", "resource": {
                "resourceType": "Coverage", "id": "Insurance", "status": "active",
                "beneficiary": {"reference": "Patient/Subscriber"}, "payor": [{"reference": "Organization/Insurer"}]}},
            {"fullUrl": f"{base}/Patient/Subscriber", "resource": {"resourceType": "Patient", "id": "Subscriber",
                                                                   "name": [{"family": "Doe"}]}},
            *(entries or []),
        ],
    }


def _line(sequence: int, system: str, code: str, *, request_type: str = "HS", site: dict | None = None,
          place: str = "22", **extra) -> dict:
    item = {
        "extension": [{"url": REQUEST_TYPE, "valueCodeableConcept": {"coding": [{"system": X12_1525, "code": request_type}]}}],
        "sequence": sequence,
        "category": {"coding": [{"system": "https://codesystem.x12.org/005010/1365", "code": "2"}]},
        "productOrService": {"coding": [{"system": system, "code": code}]},
        "locationCodeableConcept": {"coding": [{"system": POS, "code": place}]},
        **extra,
    }
    if site is not None:
        item["bodySite"] = site
    return item


# ---------------------------------------------------------------------------
# issue 21: whose documentation, and when
# ---------------------------------------------------------------------------


def test_an_observation_with_no_subject_is_refused(tmp_path: Path) -> None:
    bundle = _with_dexa()
    k, obs = _entry(bundle, "Observation")
    del obs["subject"]
    assert f"Bundle.entry[{k}].resource.subject: an Observation names no subject" in _refused(tmp_path, bundle)


def test_answers_with_no_subject_are_refused(tmp_path: Path) -> None:
    bundle = _case_bundle()
    k, answers = _entry(bundle, "QuestionnaireResponse")
    del answers["subject"]
    assert f"Bundle.entry[{k}].resource.subject: a QuestionnaireResponse names no subject" in _refused(tmp_path, bundle)


@pytest.mark.parametrize("when, said", [("2031-01-05", "is in the future"), ("2025-12-02", "is after the request"),
                                        ("2025-12-02T01:00:00+05:00", "is after the request"),
                                        ("2031-01-05T10:00:00Z", "is in the future")])
def test_an_observation_after_the_request_or_in_the_future_is_refused(tmp_path: Path, when: str, said: str) -> None:
    bundle = _with_dexa()
    k, obs = _entry(bundle, "Observation")
    obs["effectiveDateTime"] = when
    out = _refused(tmp_path, bundle)
    assert f"Bundle.entry[{k}].resource.effectiveDateTime: {when[:10]}" in out and said in out, out


def test_an_observation_of_the_request_day_in_another_time_zone_is_read() -> None:
    """The request is dated by its day: a result of that day, late in the evening west of UTC, is not after it."""
    bundle = _with_dexa()
    _, obs = _entry(bundle, "Observation")
    obs["effectiveDateTime"] = "2025-12-01T23:00:00-05:00"
    assert from_bundle(bundle, "evening").case.history.bone_density.dexa_t_score == -2.8


def test_an_observation_whose_period_starts_in_the_future_is_refused(tmp_path: Path) -> None:
    bundle = _with_dexa()
    k, obs = _entry(bundle, "Observation")
    obs["effectivePeriod"] = {"start": "2031-01-05"}
    assert f"Bundle.entry[{k}].resource.effectivePeriod.start: 2031-01-05 is in the future" in _refused(tmp_path, bundle)


@pytest.mark.parametrize("when", ["9999-12-31", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_calendar_extremes_are_refused_without_a_traceback(tmp_path: Path, when: str) -> None:
    """9999-12-31 and year 1 at +14:00 raised OverflowError in exchange/request.py."""
    bundle = _with_dexa()
    k, obs = _entry(bundle, "Observation")
    obs["effectiveDateTime"] = when
    assert f"Bundle.entry[{k}].resource.effectiveDateTime" in _refused(tmp_path, bundle)


# ---------------------------------------------------------------------------
# issue 21: the JSON itself
# ---------------------------------------------------------------------------


def test_a_key_given_twice_is_refused_at_its_path(tmp_path: Path) -> None:
    """A second subject naming another patient won, silently."""
    bundle = _with_dexa()
    k, obs = _entry(bundle, "Observation")
    text = json.dumps(bundle)
    mine = json.dumps({"subject": obs["subject"]})[1:-1]
    text = text.replace(mine, mine + ', "subject": {"reference": "Patient/someone-else"}', 1)
    out = _refused(tmp_path, text)
    assert ".resource.subject: given twice in one object" in out and k, out


def test_decimals_are_read_exactly_before_any_rounding(tmp_path: Path) -> None:
    """-2.4999999999999999999 was read as -2.5 (REF-A5 met, cement approved)."""
    bundle = _with_dexa()
    k, obs = _entry(bundle, "Observation")
    text = json.dumps(bundle).replace('"value": -2.8', '"value": -2.4999999999999999999', 1)
    out = _refused(tmp_path, text)
    assert f"Bundle.entry[{k}].resource.valueQuantity.value: -2.4999999999999999999 has more than one decimal place; round it to tenths" in out


def test_an_answer_with_more_precision_than_the_case_keeps_is_refused(tmp_path: Path) -> None:
    """11.99999999999999999999 weeks of care was read as 12 (fusion approved)."""
    bundle = _case_bundle({"conservative_care": {"total_weeks": 11.5}})
    _, answers = _entry(bundle, "QuestionnaireResponse")
    assert [a["valueDecimal"] for a in _find(answers["item"], "conservative_care.total_weeks")["answer"]] == [11.5]
    text = json.dumps(bundle).replace('"valueDecimal": 11.5', '"valueDecimal": 11.99999999999999999999', 1)
    assert "11.99999999999999999999 has more than one decimal place" in _refused(tmp_path, text)


def test_a_5000_digit_number_is_named_by_its_element(tmp_path: Path) -> None:
    """Reported as a broken case file (ValueError from int())."""
    bundle = _with_dexa()
    k, obs = _entry(bundle, "Observation")
    text = json.dumps(bundle).replace('"value": -2.8', '"value": ' + "9" * 5000, 1)
    out = _refused(tmp_path, text)
    assert f"Bundle.entry[{k}].resource.valueQuantity.value: the number 99999" in out and "case file" not in out


@pytest.mark.parametrize("kind", ["Patient", "Claim", "QuestionnaireResponse", "OperationOutcome"])
def test_a_resource_other_than_a_bundle_is_refused(tmp_path: Path, kind: str) -> None:
    """AttributeError ('Patient' object has no attribute 'type')."""
    resource = {"resourceType": kind}
    if kind == "Claim":
        resource = _pas_request([_line(1, CPT, "63047")])["entry"][0]["resource"]
    out = _refused(tmp_path, resource)
    assert f"a {kind} on its own, not a Bundle" in out


def test_a_link_id_with_an_escape_sequence_is_shown_escaped(tmp_path: Path) -> None:
    bundle = _case_bundle()
    _, answers = _entry(bundle, "QuestionnaireResponse")
    answers["item"].append({"linkId": "evil\x1b[2J\x1b]0;owned\x07", "answer": [{"valueBoolean": True}]})
    result = _explain(tmp_path, bundle)
    assert result.exit_code == 0, result.output
    assert "\x1b[2J" not in result.output and "\x07" not in result.output
    assert "evil\\x1b[2J" in result.output
    text = json.dumps(bundle).replace('"status": "completed"', '"status": "completed", "status": "x\\u001b[2J"', 1)
    out = _refused(tmp_path, text)  # a key given twice: refused, and the value never printed raw
    assert "\x1b" not in out, out


# ---------------------------------------------------------------------------
# issue 21: what is sent and not read
# ---------------------------------------------------------------------------


def test_documentation_nested_under_an_answer_is_a_notice_and_pends(tmp_path: Path) -> None:
    """A prior surgery nested under the gate's answer vanished: fusion and three items denied for want of it."""
    bundle = _case_bundle({"history": {"prior_surgeries": [{"type": "fusion", "level": "L4-L5", "date": "2020-01"}]}})
    k, answers = _entry(bundle, "QuestionnaireResponse")
    history = _find(answers["item"], "history")
    gate = next(i for i in history["item"] if i["linkId"] == "history.prior_surgeries")
    entries = [i for i in history["item"] if i["linkId"] == "history.prior_surgeries[]"]
    history["item"] = [i for i in history["item"] if i["linkId"] != "history.prior_surgeries[]"]
    gate["answer"][0]["item"] = entries
    response, warnings = _answered(tmp_path, bundle)
    assert "not read: items nested under an answer" in warnings
    assert set(_codes(response).values()) == {"A4"}
    assert "nested under an answer" in json.dumps(response)


def test_answers_on_a_criteria_help_item_are_a_notice_and_pend(tmp_path: Path) -> None:
    bundle = _case_bundle()
    _, answers = _entry(bundle, "QuestionnaireResponse")
    answers["item"].append({"linkId": "clinical.motor_weakness#criteria", "answer": [{"valueBoolean": True}]})
    response, warnings = _answered(tmp_path, bundle)
    assert "the help item clinical.motor_weakness#criteria" in warnings
    assert set(_codes(response).values()) == {"A4"}


def test_an_empty_help_item_where_the_questionnaire_puts_it_is_no_notice() -> None:
    bundle = _case_bundle()
    _, answers = _entry(bundle, "QuestionnaireResponse")
    question = _find(answers["item"], "clinical.adl_limitation")
    question["item"] = [{"linkId": "clinical.adl_limitation#criteria"}]
    request = from_bundle(bundle, "help")
    assert request.warnings == () and all(i.subject is not None for i in request.items)


def test_answers_contained_in_the_claim_are_read() -> None:
    """A QuestionnaireResponse contained in the Claim was ignored, and every item pended."""
    bundle = _case_bundle()
    plain = from_bundle(copy.deepcopy(bundle), "entry").case
    k, answers = _entry(bundle, "QuestionnaireResponse")
    del bundle["entry"][k]
    answers = {**answers, "id": "qr"}
    bundle["entry"][0]["resource"]["contained"] = [answers]
    assert from_bundle(bundle, "contained").case == plain


def test_documentation_the_requester_withdrew_is_not_read() -> None:
    """A supportingInfo flagged infoCancelled ("this piece of information is not to be used") was read all the same."""
    bundle = _with_dexa(-2.8)
    k, _ = _entry(bundle, "Observation")
    info = next(i for i in bundle["entry"][0]["resource"]["supportingInfo"]
                if i["valueReference"]["reference"] == bundle["entry"][k]["fullUrl"])
    info["modifierExtension"] = [{"url": CANCELLED, "valueBoolean": True}]
    request = from_bundle(bundle, "withdrawn")
    assert request.case.history.bone_density is None or request.case.history.bone_density.dexa_t_score is None
    assert any("withdrawn by the requester" in w for w in request.warnings)


def test_two_codings_that_disagree_are_refused(tmp_path: Path) -> None:
    bundle = _case_bundle()
    bundle["entry"][0]["resource"]["item"][1]["productOrService"]["coding"].append({"system": CPT, "code": "22612"})
    out = _refused(tmp_path, bundle)
    assert "Bundle.entry[0].resource.item[1].productOrService.coding[1]: http://www.ama-assn.org/go/cpt|22612" in out


def test_a_second_coding_no_row_reads_is_a_notice_unless_it_is_a_category() -> None:
    bundle = _case_bundle()
    coding = bundle["entry"][0]["resource"]["item"][0]["productOrService"]["coding"]
    coding.append({"system": "https://codesystem.x12.org/005010/1365", "code": "2", "display": "Surgical"})
    assert from_bundle(copy.deepcopy(bundle), "category").warnings == ()
    coding.append({"system": "http://snomed.info/sct", "code": "5001"})
    assert [w for w in from_bundle(bundle, "translation").warnings if "coding[2]: http://snomed.info/sct|5001 has no row" in w]


def test_a_body_site_with_two_levels_is_refused(tmp_path: Path) -> None:
    bundle = _case_bundle()
    bundle["entry"][0]["resource"]["item"][0]["bodySite"]["text"] = "L5-S1"
    out = _refused(tmp_path, bundle)
    assert "Bundle.entry[0].resource.item[0].bodySite.text: names L5-S1, while" in out


def test_left_and_right_on_one_si_joint_item_are_refused(tmp_path: Path) -> None:
    """Read as one side: Cigna's unilateral-only criterion met."""
    bundle = _case_bundle({"request": {"items": [{"item": "si_joint_fusion", "side": "left"}]}})
    item = next(i for i in bundle["entry"][0]["resource"]["item"] if i.get("modifier"))
    item["modifier"].append({"coding": [{"system": HCPCS, "code": "RT"}]})
    assert "modifier[1]: says the right side, while" in _refused(tmp_path, bundle)


def test_a_sequence_given_twice_is_refused(tmp_path: Path) -> None:
    bundle = _case_bundle()
    bundle["entry"][0]["resource"]["item"][1]["sequence"] = 1
    assert "Bundle.entry[0].resource.item[1].sequence: 1 is the sequence of" in _refused(tmp_path, bundle)


def test_an_answer_from_another_code_system_is_refused(tmp_path: Path) -> None:
    bundle = _case_bundle()
    _, answers = _entry(bundle, "QuestionnaireResponse")
    study = _find(answers["item"], "imaging[].study")
    study["answer"][0]["valueCoding"]["system"] = "http://snomed.info/sct"
    assert "valueCoding.system: http://snomed.info/sct is not the code system of imaging[].study" in _refused(tmp_path, bundle)


def test_a_t_score_in_milligrams_is_refused(tmp_path: Path) -> None:
    bundle = _with_dexa()
    k, obs = _entry(bundle, "Observation")
    obs["valueQuantity"].update(unit="mg", code="mg", system="http://unitsofmeasure.org")
    assert f"Bundle.entry[{k}].resource.valueQuantity: DXA Lumbar spine [T-score] Bone density in 'mg'" in \
        _refused(tmp_path, bundle)


# ---------------------------------------------------------------------------
# issue 21: bounded work
# ---------------------------------------------------------------------------


def test_too_many_items_are_refused_before_the_models_read_them(monkeypatch) -> None:
    """10k unmapped items ran --format fhir for over five minutes; they are counted before the models see them."""
    import exchange.request

    validated = []
    monkeypatch.setattr(exchange.request, "validate", lambda *a: validated.append(a))
    bundle = _pas_request([_line(n, CPT, "22899") for n in range(1, 10_001)])
    with pytest.raises(BundleError, match=r"Bundle.entry\[0\].resource.item: 10000 items: a request holds at most"):
        from_bundle(bundle, "many")
    assert validated == []


def test_too_many_episodes_are_refused_while_reading() -> None:
    """2,000 dated PT episodes took 29 s and 1.5 GB to ground; the entries of one list are bounded in the answers."""
    bundle = _case_bundle()
    k, answers = _entry(bundle, "QuestionnaireResponse")
    care = _find(answers["item"], "conservative_care")
    episode = next(i for i in care["item"] if i["linkId"] == "conservative_care.episodes[]")
    care["item"] += [copy.deepcopy(episode) for _ in range(2_000)]
    with pytest.raises(BundleError, match="entries of conservative_care.episodes\\[\\]: a request holds at most 100"):
        from_bundle(bundle, "episodes")


def test_noticed_is_linear_in_the_notices(monkeypatch) -> None:
    """noticed() tested each of the request's notices against every notice of the decision: 10k unmapped items
    made 10^8 comparisons (over five minutes with --format fhir)."""
    import dataclasses

    from engine.deciding.decision import Decision, PolicyRef
    from exchange.request import Request

    n = 2_000
    mine = tuple(Notice("item_not_decided", f"item {i}") for i in range(n))
    decision = Decision("c", PolicyRef("p", "1", "2025-01-01"), "approved", (), (), notices=mine)
    request = Request(None, "u", None, {}, None, {}, {}, None, (), notices=mine)
    calls = {"eq": 0}
    original = Notice.__eq__

    def counting(self, other):
        calls["eq"] += 1
        return original(self, other)

    monkeypatch.setattr(Notice, "__eq__", counting)
    assert dataclasses.is_dataclass(Notice)
    assert noticed(decision, request).notices == mine
    assert calls["eq"] <= 4 * n, f"{calls['eq']} comparisons for {n} notices"


# ---------------------------------------------------------------------------
# issue 22: requests as PAS clients send them
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["L4-L5", "L4/5", "L4-5", "l4 - l5"])
def test_the_level_is_read_from_the_body_site_text(text: str) -> None:
    bundle = _pas_request([_line(1, CPT, "63047", site={"text": text})])
    assert [lv.level for lv in from_bundle(bundle, "text").case.request.levels] == ["L4-L5"]


def test_the_level_is_read_from_the_answers_when_they_document_one() -> None:
    bundle = _case_bundle()
    for item in bundle["entry"][0]["resource"]["item"]:
        del item["bodySite"]
    assert [lv.level for lv in from_bundle(bundle, "answers").case.request.levels] == ["L4-L5"]


def test_a_line_whose_level_cannot_be_found_is_pended_asking_for_it(tmp_path: Path) -> None:
    bundle = _pas_request([_line(1, CPT, "63047"), _line(2, CPT, "22630", site={"text": "L4-L5"})])
    request = from_bundle(copy.deepcopy(bundle), "no level")
    first = request.items[0]
    assert first.subject is None and first.missing.what == "the spinal level of Claim item 1"
    assert first.missing.element == "Bundle.entry[0].resource.item[0].bodySite"
    assert request.items[1].subject == ("level", "L4-L5", "fusion")
    response, warnings = _answered(tmp_path, bundle)
    assert _codes(response)[1] == "A4" and "item[0].bodySite" in warnings
    # the warning says what becomes of it: pended until the level comes (the response asks for it), not "manual review"
    assert "pended until its spinal level is sent" in warnings and "manual review" not in warnings, warnings


def _communications(response: dict) -> list[dict]:
    return [e["resource"] for e in response["entry"] if e["resource"]["resourceType"] == "CommunicationRequest"]


def _service_lines(resource: dict) -> list[int]:
    return [e["valuePositiveInt"] for e in resource.get("extension", []) if e["url"].endswith("serviceLineNumber")]


@pytest.mark.parametrize("items", [
    [_line(1, CPT, "63047"), _line(2, CPT, "22630", site={"text": "L4-L5"})],
    [_line(1, CPT, "63047")],  # nothing else to decide: the request is answered all the same
], ids=["beside a decided item", "alone"])
def test_a_line_without_its_level_is_pended_with_a_communication_request_for_the_level(tmp_path: Path,
                                                                                     items: list[dict]) -> None:
    """The reader knew what was missing (ClaimItem.missing), the response asked for nothing: the item was pended
    (A4) with no CommunicationRequest, so the requester was never told to send the level."""
    response, _ = _answered(tmp_path, _pas_request(items))
    claim_response = response["entry"][0]["resource"]
    assert _codes(response)[1] == "A4"
    asking = [c for c in _communications(response) if _service_lines(c) == [1]]
    assert len(asking) == 1, [c.get("note") for c in _communications(response)]
    asked = asking[0]
    text = json.dumps(asked)
    assert "the spinal level of Claim item 1" in text and "Bundle.entry[0].resource.item[0].bodySite" in text, text
    assert asked["payload"] == [{"contentString": "18776-5"}]  # the plan of care: PAS attachment code (attachments.csv)
    url = next(e["fullUrl"] for e in response["entry"] if e["resource"] is asked)
    assert {"reference": url} in claim_response["communicationRequest"]
    # the item itself says what it waits for
    item = next(i for i in claim_response["item"] if i["itemSequence"] == 1)
    notes = {n["number"]: n["text"] for n in claim_response["processNote"]}
    assert any("waits for the spinal level" in notes[n] for n in item["noteNumber"]), [notes[n] for n in item["noteNumber"]]
    # no other item is asked for a level
    assert not [c for c in _communications(response) if "spinal level of Claim item" in json.dumps(c) and c is not asked]


SNOMED = "http://snomed.info/sct"


@pytest.mark.parametrize("level,code", [("L1-L2", "80064006"), ("L2-L3", "67459009"), ("L3-L4", "62551000"),
                                        ("L4-L5", "84020006"), ("L5-S1", "715056000"), ("L4-L5", "243923001")])
def test_a_snomed_body_site_is_read_as_the_same_level_as_our_own_code(level: str, code: str) -> None:
    """EHRs send SNOMED CT body structures, not urn:necessity:spinal-level: such a line was pended for its level."""
    def bundle(site: dict) -> dict:
        return _pas_request([_line(1, CPT, "63047", site=site), _line(2, CPT, "22630", site=site)])

    own = from_bundle(bundle({"coding": [{"system": "urn:necessity:spinal-level", "code": level}]}), "own").case
    coded = from_bundle(bundle({"coding": [{"system": SNOMED, "code": code}]}), "snomed")
    assert coded.case == own and [lv.level for lv in coded.case.request.levels] == [level]
    assert not coded.warnings


def test_snomed_body_sites_are_rows_of_the_table_not_code() -> None:
    """The SNOMED CT codes are data (exchange/data/body-sites.csv), each row naming its source; no module names one."""
    from exchange.tables import table

    rows = [r for r in table("body-sites") if r["system"] == SNOMED]
    assert {r["level"] for r in rows} >= {"L1-L2", "L2-L3", "L3-L4", "L4-L5", "L5-S1"}
    assert all("DICOM PS3.16" in r["source"] for r in rows)
    code = "\n".join(p.read_text(encoding="utf-8") for p in (Path(__file__).parents[2] / "exchange").rglob("*.py"))
    assert not [r["code"] for r in rows if r["code"] in code]


def test_an_unknown_snomed_body_site_is_named_by_its_element_path(tmp_path: Path) -> None:
    """11994002 is the L4 vertebra (DICOM CID 7603): one vertebra names no motion segment, so it has no row."""
    bundle = _pas_request([_line(1, CPT, "63047", site={"coding": [{"system": SNOMED, "code": "11994002"}]}),
                           _line(2, CPT, "22630", site={"text": "L4-L5"})])
    response, warnings = _answered(tmp_path, bundle)
    assert ("Bundle.entry[0].resource.item[0].bodySite.coding[0]: body site http://snomed.info/sct|11994002 names no "
            "spinal level exchange/data/body-sites.csv maps") in warnings, warnings
    assert _codes(response)[1] == "A4"


def test_cpt_codes_under_the_hcpcs_system_are_read_as_cpt() -> None:
    bundle = _pas_request([_line(1, HCPCS, "63047", site={"text": "L4-L5"}), _line(2, HCPCS, "22630", site={"text": "L4-L5"})])
    level = from_bundle(bundle, "hcpcs").case.request.levels[0]
    assert level.decompression is not None and level.fusion is not None


def test_place_of_service_21_alone_requests_no_stay() -> None:
    """POS 21 became a requested inpatient stay that REF-S1 denied with A3."""
    bundle = _pas_request([_line(1, CPT, "63047", site={"text": "L4-L5"}, place="21")], claim_type="institutional")
    assert from_bundle(bundle, "pos").case.request.setting is None
    bundle = _pas_request([_line(1, CPT, "63047", site={"text": "L4-L5"}, place="21", request_type="AR")],
                          claim_type="institutional")
    assert from_bundle(bundle, "admission review").case.request.setting.value == "inpatient"


def test_a_cancelled_item_is_not_certified(tmp_path: Path) -> None:
    """A cancelled item was silently certified A1."""
    bundle = _case_bundle({"request": {"items": [{"item": "allograft"}]}})
    items = bundle["entry"][0]["resource"]["item"]
    cancelled = items[-1]
    cancelled["modifierExtension"] = [{"url": CANCELLED, "valueBoolean": True}]
    response, _ = _answered(tmp_path, copy.deepcopy(bundle))
    assert _codes(response)[cancelled["sequence"]] != "A1"
    request = from_bundle(bundle, "cancelled")
    ci = next(i for i in request.items if i.sequence == cancelled["sequence"])
    assert ci.cancelled and ci.subject is None
    assert request.case.request.items == ()


def test_a_second_questionnaire_response_is_merged() -> None:
    """A second QuestionnaireResponse was refused; additional information is 0..*."""
    whole = _case_bundle()
    plain = from_bundle(copy.deepcopy(whole), "one").case
    k, answers = _entry(whole, "QuestionnaireResponse")
    clinical = _find(answers["item"], "clinical")
    weakness = next(i for i in clinical["item"] if i["linkId"] == "clinical.adl_limitation")
    clinical["item"].remove(weakness)
    second = {**copy.deepcopy(answers), "id": "more", "item": [{"linkId": "clinical", "item": [weakness]}]}
    whole["entry"].append({"fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000099", "resource": second})
    assert from_bundle(whole, "two").case == plain


def test_two_questionnaire_responses_that_disagree_are_refused(tmp_path: Path) -> None:
    bundle = _case_bundle()
    _, answers = _entry(bundle, "QuestionnaireResponse")
    second = copy.deepcopy(answers)
    second["id"] = "more"
    _find(second["item"], "clinical.adl_limitation")["answer"] = [{"valueBoolean": False}]
    second["item"] = [i for i in second["item"] if i["linkId"] == "clinical"]
    bundle["entry"].append({"fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000099", "resource": second})
    assert "clinical.adl_limitation is answered differently in two QuestionnaireResponses" in _refused(tmp_path, bundle)


def test_services_outside_the_policy_are_answered_item_by_item(tmp_path: Path) -> None:
    """exit 2 and no FHIR output from explain (spec-35: an OperationOutcome only for a Bundle that cannot be read)."""
    bundle = _pas_request([_line(1, HCPCS, "G0154"), _line(2, HCPCS, "B4184")])
    response, warnings = _answered(tmp_path, bundle)
    assert _codes(response) == {1: "A4", 2: "A4"}
    assert "G0154 has no row in exchange/data/procedures.csv" in json.dumps(response)
    assert response["entry"][0]["resource"]["resourceType"] == "ClaimResponse"


def test_batch_answers_services_outside_the_policy(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.json").write_text(json.dumps(_pas_request([_line(1, HCPCS, "G0154")])))
    result = CliRunner().invoke(main, ["batch", str(tmp_path / "in"), "--format", "fhir"])
    record = json.loads(result.stdout.splitlines()[0])
    assert record["resourceType"] == "Bundle" and _codes(record) == {1: "A4"}, result.output


def test_an_inquiry_is_not_a_submission() -> None:
    bundle = _pas_request([_line(1, CPT, "63047", site={"text": "L4-L5"})])
    bundle["meta"] = {"profile": ["http://hl7.org/fhir/us/davinci-pas/StructureDefinition/profile-pas-inquiry-request-bundle"]}
    request = from_bundle(copy.deepcopy(bundle), "inquiry")
    assert request.inquiry and request.case is None
    assert all(i.subject is None and "inquiry" in i.why_unmapped for i in request.items)
    del bundle["meta"]  # an inquiry's item carries the review action of the authorization asked about
    bundle["entry"][0]["resource"]["item"][0]["extension"].append({
        "url": "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-reviewActionCode",
        "valueCodeableConcept": {"coding": [{"system": "https://codesystem.x12.org/005010/306", "code": "A1"}]}})
    assert from_bundle(bundle, "inquiry").inquiry


# the PAS guide's request examples, in their style (written here): each answered, none refused
_GUIDE_STYLE = {
    "referral": [{**_line(1, "https://codesystem.x12.org/005010/1365", "3", request_type="SC", place="11")}],
    "homecare": [_line(1, HCPCS, "G0154", place="11"), _line(2, HCPCS, "B4184", place="11")],
    "homecare-update": [_line(1, HCPCS, "G0154", place="11"),
                        {**_line(2, HCPCS, "B4184", place="11"),
                         "modifierExtension": [{"url": CANCELLED, "valueBoolean": True}]},
                        _line(3, HCPCS, "B4185", place="11")],
    "medical-services": [_line(1, HCPCS, "99212", request_type="IN", place="11")],
    "surgical": [_line(1, HCPCS, "33510", request_type="AR", place="21")],
    "lumbar-no-site": [_line(1, HCPCS, "63047", request_type="AR", place="21"),
                       _line(2, HCPCS, "22630", request_type="AR", place="21")],
    "lumbar-site-text": [_line(1, HCPCS, "63047", request_type="AR", place="21", site={"text": "L4-L5"}),
                         _line(2, HCPCS, "22630", request_type="AR", place="21", site={"text": "L4-L5"})],
}


@pytest.mark.parametrize("name", sorted(_GUIDE_STYLE))
def test_requests_in_the_guides_style_are_answered(tmp_path: Path, name: str) -> None:
    bundle = _pas_request(copy.deepcopy(_GUIDE_STYLE[name]),
                          claim_type="institutional" if "AR" in json.dumps(_GUIDE_STYLE[name]) else "professional")
    response, _ = _answered(tmp_path, bundle)
    codes = _codes(response)
    assert set(codes) == {i["sequence"] for i in _GUIDE_STYLE[name]}
    if name == "lumbar-site-text":
        request = from_bundle(bundle, name)
        assert request.case.request.setting.value == "inpatient"
        assert {lv.level for lv in request.case.request.levels} == {"L4-L5"}
    else:
        assert set(codes.values()) == {"A4"}


def test_a_bom_and_crlf_are_read() -> None:
    bundle = _pas_request([_line(1, CPT, "63047", site={"coding": [{"system": "urn:necessity:spinal-level",
                                                                     "code": "L4-L5"}]})])
    text = "\ufeff" + json.dumps(bundle, indent=1).replace("\n", "\r\n")
    assert read_text(text, "bom").case.request.levels[0].level == "L4-L5"


def test_references_in_the_guides_style_are_echoed() -> None:
    """fullUrl http://.../Patient/x with reference Patient/x: the patient, insurer and requestor dangled."""
    request = from_bundle(_pas_request([_line(1, HCPCS, "G0154")]), "echo")
    assert {url for url, _ in request.echo} == {"http://example.org/fhir/Patient/Subscriber",
                                                 "http://example.org/fhir/Organization/Insurer",
                                                 "http://example.org/fhir/Organization/Requestor"}


def test_reading_never_raises_anything_but_a_bundle_error() -> None:
    with pytest.raises(BundleError):
        read_text('{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Patient"}}]}', "x")


# ---------------------------------------------------------------------------
# no traceback: a fuzz over bundle structure
# ---------------------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_NUMBERS = st.one_of(
    st.integers(min_value=-(10 ** 60), max_value=10 ** 60).map(str),
    st.integers(0, 30).flatmap(lambda n: st.decimals(allow_nan=False, allow_infinity=False, places=n)).map(str),
    st.sampled_from(["1e400", "-1e-400", "1E+99999", "0.00000000000000000001", "-0", "9" * 5000, "-2.4999999999999999999"]),
)
_DATES = st.sampled_from(["0001-01-01", "9999-12-31", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
                          "2025-02", "2025", "2024-02-29", "2025-06-01T12:00:00Z", "1970-01-01T00:00:00-12:00"])
_TYPES = st.sampled_from(["Bundle", "Patient", "Claim", "QuestionnaireResponse", "OperationOutcome", "Observation",
                          "Parameters", "Bundel", "", 7])


_ANY = st.one_of(st.none(), st.booleans(), st.integers(-(2 ** 70), 2 ** 70), st.text(max_size=8), st.just([]),
                 st.just({}), st.just([{}]), st.just({"resourceType": "Patient"}), st.just("\x1b[2J"),
                 st.sampled_from(["9999-12-31", "0000-00-00", "2025-13-40", "urn:uuid:x", "Patient/x", "#qr"]))


def _replace_somewhere(data: Any, pick: int, value: Any) -> None:
    places = []
    stack = [data]
    while stack:
        node = stack.pop()
        keys = list(node) if isinstance(node, dict) else range(len(node)) if isinstance(node, list) else []
        for key in keys:
            places.append((node, key))
            stack.append(node[key])
    if places:
        node, key = places[pick % len(places)]
        node[key] = value


def _first_resource(bundle: Any) -> bool:
    try:
        return isinstance(bundle["entry"][0]["resource"], dict)
    except (KeyError, IndexError, TypeError):
        return False


@st.composite
def _fuzzed(draw: st.DrawFn) -> str:
    bundle = _with_dexa() if draw(st.booleans()) else _pas_request(
        [_line(1, draw(st.sampled_from([CPT, HCPCS, ""])), draw(st.sampled_from(["63047", "22630", "G0154", "x"])),
               site=draw(st.sampled_from([None, {"text": "L4/5"}, {"text": "L4-L5, L5-S1"}, {"coding": []}])))])
    for _ in range(draw(st.integers(0, 3))):  # a value anywhere replaced by any JSON value
        _replace_somewhere(bundle, draw(st.integers(0, 10 ** 6)), draw(_ANY))
    top = draw(_TYPES)
    if top != "Bundle":
        first = bundle["entry"][0]["resource"] if _first_resource(bundle) else {}
        bundle = {**first, "resourceType": top} if draw(st.booleans()) else {"resourceType": top}
    text = json.dumps(bundle)
    for _ in range(draw(st.integers(0, 3))):
        text = text.replace('"value": -2.8', '"value": ' + draw(_NUMBERS), 1)
        text = text.replace('"sessions": 12', '"sessions": ' + draw(_NUMBERS), 1)
    if '"effectiveDateTime"' not in text and draw(st.booleans()):
        text = text.replace('"status": "final"', '"status": "final", "effectiveDateTime": "' + draw(_DATES) + '"', 1)
    text = text.replace('"created": "2025-12-01"', '"created": "' + draw(_DATES) + '"', 1)
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n").replace(", ", ",\r\n")
    if draw(st.booleans()):
        text = "\ufeff" + text
    return text


@settings(max_examples=int(__import__("os").environ.get("FUZZ_EXAMPLES", "80")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(_fuzzed())
def test_no_bundle_gives_a_traceback(text: str) -> None:
    """Every Bundle is read, or refused with element paths (BundleError): nothing else escapes the reader."""
    from engine.deciding.policy import load
    from exchange import response_text
    from exchange.request import undecided

    try:
        request = read_text(text, "fuzzed")
    except BundleError as exc:
        assert all(where and what for where, what in exc.problems)
        return
    if request.case is None:
        policy = load("reference")
        json.loads(response_text(undecided(request, policy), request, policy))


def test_a_measurement_on_a_study_that_cannot_show_it_is_refused_at_its_element(tmp_path: Path) -> None:
    """Issue 20, 6: the bundle reader builds the case record, so the case model's rule holds there: an SVA
    sent under an MRI is refused, naming the answer's element and the case field."""
    films = {"study": "standing_full_length", "date": "2025-10-01", "alignment": {"sva_mm": 50}}
    bundle = _case_bundle({"imaging": [baseline()["imaging"][0], films]})
    i, answers = _entry(bundle, "QuestionnaireResponse")
    groups = [n for n, item in enumerate(answers["item"]) if item["linkId"] == "imaging[]"]
    second = answers["item"][groups[1]]
    _find(second["item"], "imaging[].study")["answer"][0]["valueCoding"]["code"] = "mri"
    sva = next(n for n, item in enumerate(second["item"]) if item["linkId"] == "imaging[].alignment")
    out = _refused(tmp_path, bundle)
    assert f"Bundle.entry[{i}].resource.item[{groups[1]}].item[{sva}]" in out, out
    assert "imaging[1].alignment.sva_mm: a sagittal vertical axis cannot be read on mri" in out, out
