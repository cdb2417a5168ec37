"""FHIR prior authorization: PAS request Bundles in, PAS responses out, the DTR questionnaire.

A Bundle is only another way to write a case record: explaining the Bundle
`necessity fhir bundle` writes for a case gives the same determinations,
statuses and evidence as explaining the case file, for every example, every
golden of every policy and generated cases.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import strategies as cases_st
from casebuilder import baseline, case_from, merge
from responses import actions, respond
from engine.cli import main
from engine.authoring.golden import discover, golden_case, load_golden
from engine.deciding.policy import load, shipped_policies
from engine.analysing.reads import case_reads, read_signatures
from engine.presenting.render import to_json
from engine.deciding.solver import decide
from exchange.bundle import validate
from exchange.documents import fields_read, questionnaire
from exchange.claim import for_case, to_bundle
from exchange.request import from_bundle
from facts import load_case, parse_case
from facts.terms import VERTEBRAE

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
#: the examples and the case files of the tests (month dates, conflicting studies, every field)
CASE_FILES = EXAMPLES + sorted((ROOT / "tests" / "data").glob("*.yaml"))
HAND_WRITTEN = ROOT / "tests" / "data" / "pas-request-multilevel-fusion.json"
GOLDENS = [(pid, path) for pid in shipped_policies() for path in discover(ROOT / "policies" / pid)]


def _without_unsent(case):
    """What a request Bundle carries of a case: no assessment, no notes on requested items, and a setting only
    when an inpatient stay is requested (the place of service of an outpatient line requests nothing)."""
    items = tuple(i.model_copy(update={"note": None}) for i in case.request.items)
    setting = case.request.setting if case.request.setting is not None and case.request.setting.value == "inpatient" else None
    request = case.request.model_copy(update={"items": items, "setting": setting})
    return case.model_copy(update={"assessment": None, "request": request})


def _same_decision(case, policy, *, would_change: bool = True) -> None:
    bundled = from_bundle(to_bundle(case), case.case).case
    a = decide(policy, case, would_change=would_change)
    b = decide(policy, bundled, would_change=would_change)
    assert to_json(b) == to_json(a), f"{case.case}: explaining the Bundle differs from explaining the case file"
    assert b.statuses == a.statuses, f"{case.case}: statuses differ through the Bundle"


# ---------------------------------------------------------------------------
# round trip
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.stem)
def test_case_file_round_trips_through_a_bundle(path: Path) -> None:
    case = load_case(path)
    assert from_bundle(to_bundle(case), str(path)).case == _without_unsent(case)
    _same_decision(case, load("reference"))


@pytest.mark.parametrize("pid,path", GOLDENS, ids=lambda v: v if isinstance(v, str) else v.stem)
def test_golden_round_trips_through_a_bundle(pid: str, path: Path) -> None:
    case = golden_case(load_golden(path))
    assert from_bundle(to_bundle(case), str(path)).case == _without_unsent(case)
    _same_decision(case, load(pid))


@st.composite
def _with_issue_11_fields(draw: st.DrawFn) -> dict:
    """A generated case, with what the shared strategies leave out written in: a stenosis with no zone,
    dynamic instability read on flexion-extension films, a Cobb curve by its end vertebrae, `fusion: TLIF`."""
    record = draw(cases_st.cases())
    if draw(st.booleans()):  # a standing film measuring a curve by its end vertebrae
        upper, lower = sorted(draw(st.lists(st.integers(0, len(VERTEBRAE) - 1), min_size=2, max_size=2, unique=True)))
        record.setdefault("imaging", []).append({"study": "standing_full_length", "alignment": {"cobb": [
            {"angle_deg": draw(st.sampled_from([12.0, 30.0, 42.5])),
             "upper_vertebra": VERTEBRAE[upper], "lower_vertebra": VERTEBRAE[lower]}]}})
    for study in record.get("imaging", []):
        for level in study.get("levels", []):
            for stenosis in level.get("stenosis", []):
                if draw(st.booleans()):
                    stenosis.pop("zone", None)
            if study["study"] == cases_st.FLEXION_EXTENSION and draw(st.booleans()):
                level["dynamic_instability"] = draw(st.booleans())
        for curve in study.get("alignment", {}).get("cobb", []):
            if "upper_level" in curve and draw(st.booleans()):
                upper, lower = sorted(draw(st.lists(st.integers(0, len(VERTEBRAE) - 1), min_size=2, max_size=2, unique=True)))
                curve.pop("upper_level"), curve.pop("lower_level")
                curve.update(upper_vertebra=VERTEBRAE[upper], lower_vertebra=VERTEBRAE[lower])
    for level in record["request"]["levels"]:
        if level.get("fusion") is True and draw(st.booleans()):
            level["fusion"] = draw(st.sampled_from(["TLIF", "XLIF", "ALIF", "posterolateral"]))
    return record


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_with_issue_11_fields())
def test_generated_case_round_trips_through_a_bundle(record: dict) -> None:
    case = parse_case(json.dumps(record), "generated", fmt="json")
    bundle = to_bundle(case)
    validate(bundle, "generated")
    assert from_bundle(bundle, "generated").case == _without_unsent(case)


def test_explain_gives_the_same_bytes_on_the_bundle(tmp_path: Path) -> None:
    runner = CliRunner()
    for path in EXAMPLES:
        bundle = tmp_path / f"{path.stem}.json"
        written = runner.invoke(main, ["fhir", "bundle", str(path), "--out", str(bundle)])
        assert written.exit_code == 0, written.output
        a = runner.invoke(main, ["explain", str(path), "--format", "json"])
        b = runner.invoke(main, ["explain", str(bundle), "--format", "json"])
        assert b.exit_code == 0, b.output
        assert b.output == a.output, f"{path.name}: explain on the Bundle differs"


def test_bundle_is_the_same_bytes_every_time() -> None:
    runner = CliRunner()
    first = runner.invoke(main, ["fhir", "bundle", str(EXAMPLES[0])]).output
    assert runner.invoke(main, ["fhir", "bundle", str(EXAMPLES[0])]).output == first


def _answers(bundle: dict) -> dict:
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "QuestionnaireResponse")


def _item(items: list[dict], link: str) -> dict:
    """The first answer item with a linkId, however deep."""
    found = _find(items, link)
    if found is None:
        raise KeyError(link)
    return found


def _find(items: list[dict], link: str) -> dict | None:
    for item in items:
        if item["linkId"] == link:
            return item
        found = _find(item.get("item", []), link)
        if found is not None:
            return found
    return None


def test_dates_known_to_the_month_stay_months() -> None:
    """source-004 is requested in 2025-06 (to the month); conflicting-studies ended PT in 2024-12."""
    bundle = to_bundle(load_case(ROOT / "examples" / "source-004.yaml"))
    assert bundle["entry"][0]["resource"]["created"] == "2025-06"
    # Bundle.timestamp is 1..1 (issue 22, 6): when the Bundle was written, whatever the request date says
    assert bundle["timestamp"] == "2026-01-05T14:30:00Z"
    bundle = to_bundle(load_case(ROOT / "tests" / "data" / "conflicting-studies.yaml"))
    episode = _item(_answers(bundle)["item"], "conservative_care.episodes[]")
    assert _item(episode["item"], "conservative_care.episodes[].end")["answer"][0]["valueDate"] == "2024-12"
    case = from_bundle(bundle, "conflicting-studies").case
    assert case.conservative_care.episodes[0].end.span == load_case(
        ROOT / "tests" / "data" / "conflicting-studies.yaml").conservative_care.episodes[0].end.span


def test_no_care_given_is_documented_absence_not_silence() -> None:
    """The episodes gate answered false is `episodes: []` (no care given); left unanswered, not documented."""
    none_given = case_from(merge(baseline(), {"conservative_care": {"episodes": []}}))
    bundle = to_bundle(none_given)
    gate = _item(_answers(bundle)["item"], "conservative_care.episodes")
    assert [{k: v for k, v in a.items() if k != "extension"} for a in gate["answer"]] == [{"valueBoolean": False}]
    assert from_bundle(bundle, "none-given").case.conservative_care.episodes == ()
    silent = case_from(merge(baseline(), {"conservative_care": {"episodes": None, "total_weeks": 12}}))
    assert from_bundle(to_bundle(silent), "silent").case.conservative_care.episodes is None
    policy = load("reference")
    a = decide(policy, from_bundle(bundle, "none-given").case)
    assert a.status_of("REF-D4a") == "not_met"  # documented: no physical therapy was given
    assert decide(policy, from_bundle(to_bundle(silent), "silent").case).status_of("REF-D4a") == "not_documented"


def test_no_care_given_with_weeks_of_care_is_refused(tmp_path: Path) -> None:
    bundle = to_bundle(case_from(merge(baseline(), {"conservative_care": {"episodes": []}})))
    care = _item(_answers(bundle)["item"], "conservative_care")
    care["item"].insert(0, {"linkId": "conservative_care.total_weeks", "answer": [{"valueDecimal": 12}]})
    path = tmp_path / "no-care.json"
    path.write_text(json.dumps(bundle))
    result = CliRunner().invoke(main, ["explain", str(path)])
    assert result.exit_code == 2, result.output
    assert "Bundle.entry[5].resource.item[" in result.output and "no nonoperative care was given" in result.output
    assert "total_weeks" in result.output and "Traceback" not in result.output


# ---------------------------------------------------------------------------
# a request written by hand from the PAS guide
# ---------------------------------------------------------------------------


def test_hand_written_request_is_read_from_its_codes() -> None:
    request = from_bundle(json.loads(HAND_WRITTEN.read_text()), str(HAND_WRITTEN))
    case = request.case
    assert case.case == "hand-written-l4-s1"
    assert str(case.request.date) == "2025-11-03" and case.request.setting.value == "inpatient"
    levels = {lv.level: lv for lv in case.request.levels}
    assert set(levels) == {"L4-L5", "L5-S1"}
    assert [a.value for a in levels["L4-L5"].fusion.approaches] == ["tlif"]  # 22630 refined by the answers
    assert levels["L4-L5"].fusion.instrumentation is True  # 22842
    assert levels["L5-S1"].fusion.instrumentation is True  # answered in the QuestionnaireResponse
    assert [(i.item.value, i.level) for i in case.request.items] == [
        ("interbody_device", "L4-L5"), ("interbody_device", "L5-S1"), ("allograft", None), ("autograft", None)]
    assert case.request.items[3].source.value == "local_bone"  # 20936
    assert case.history.diabetes.hba1c_pct == 6.8  # the LOINC 4548-4 Observation
    assert case.history.prior_surgeries == ()  # answered no: documented none
    assert case.clinical.motor_weakness is None  # unanswered: not documented
    assert request.warnings == ()


def test_hand_written_request_is_decided_and_answered() -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["explain", str(HAND_WRITTEN), "--format", "fhir"])
    assert result.exit_code == 0, result.output
    bundle = json.loads(result.output)
    validate(bundle, "response")
    codes = actions(bundle)
    assert codes[2] == "A1"  # TLIF at L4-L5: spondylolisthesis
    assert codes[4] == "A6"  # L5-S1: decompression only
    response = bundle["entry"][0]["resource"]
    assert response["request"]["reference"] == "http://example.org/fhir/Claim/LumbarFusionRequest"
    echoed = {e["fullUrl"] for e in bundle["entry"][1:]}
    assert "http://example.org/fhir/Patient/SubscriberExample" in echoed  # spec-33: same fullUrl as the request
    assert response["adjudication"], "the inpatient setting, asked by the Claim as a whole, gets the Claim's adjudication"


def test_a_code_with_no_row_is_reported_and_pended(tmp_path: Path) -> None:
    data = json.loads(HAND_WRITTEN.read_text())
    claim = data["entry"][0]["resource"]
    extra = copy.deepcopy(claim["item"][1])
    extra["sequence"] = 10
    extra["productOrService"] = {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "22586"}]}
    claim["item"].append(extra)
    path = tmp_path / "unmapped.json"
    path.write_text(json.dumps(data))
    result = CliRunner().invoke(main, ["explain", str(path), "--format", "fhir"])
    assert result.exit_code == 0, result.output
    assert "warning:" in result.stderr and "Bundle.entry[0].resource.item[9].productOrService" in result.stderr
    assert "22586" in result.stderr
    bundle = json.loads(result.stdout)
    assert actions(bundle)[10] == "A4"
    assert "22586" in json.dumps(bundle["entry"][0]["resource"]["processNote"])


def _with_unlisted_item() -> tuple[dict, int]:
    """An approved decompression at L4-L5, and a Claim item coded 22899 (unlisted procedure, spine): no row."""
    bundle = to_bundle(case_from(merge(baseline(), {"request": {"levels": [
        {"level": "L4-L5", "decompression": "laminectomy"}]}})))
    items = bundle["entry"][0]["resource"]["item"]
    unlisted = copy.deepcopy(items[0])
    unlisted["sequence"] = 6
    unlisted["productOrService"] = {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "22899",
                                                "display": "Unlisted procedure, spine"}]}
    items.append(unlisted)
    return bundle, len(items) - 1


NOT_DECIDED = "Claim item 6 (22899) is not decided: http://www.ama-assn.org/go/cpt|22899 (Unlisted procedure, spine) " \
              "has no row in exchange/data/procedures.csv: not a service this engine decides under the policy " \
              "(Bundle.entry[0].resource.item[{}].productOrService); " \
              "pended for manual review"


def test_an_item_not_decided_is_reported_in_every_format(tmp_path: Path) -> None:
    """The item was pended in the ClaimResponse while the decision said plainly 'approved' and json, text,
    markdown and html said nothing of it (the warning went to stderr only)."""
    bundle, index = _with_unlisted_item()
    said = NOT_DECIDED.format(index)
    text = _explain_bundle(tmp_path, bundle)
    assert text.exit_code == 0, text.output
    assert "approved for the items decided; 1 Claim item not decided (manual review)" in text.stdout.splitlines()[0]
    assert said in text.stdout
    record = json.loads(_explain_bundle(tmp_path, bundle, "--format", "json").stdout)
    assert record["outcome"] == "approved"  # the engine's, for what the case record holds
    assert {"code": "item_not_decided", "text": said} in record["notices"]
    letter = _explain_bundle(tmp_path, bundle, "--format", "markdown").stdout
    assert "**Decision:** approved for the items decided" in letter and "Claim item 6 (22899) is not decided" in letter
    page = _explain_bundle(tmp_path, bundle, "--format", "html").stdout
    assert 'data-notice="item_not_decided"' in page and "for the items decided" in page
    response = json.loads(_explain_bundle(tmp_path, bundle, "--format", "fhir").stdout)
    claim = response["entry"][0]["resource"]
    assert claim["disposition"] == "certified: item 1; pended for review: item 6 (under reference 1.1)"
    assert claim["processNote"][0]["text"].endswith(": certified: item 1; pended for review: item 6")
    assert actions(response)[6] == "A4"


def test_batch_reports_an_item_not_decided(tmp_path: Path) -> None:
    """batch dropped the request's warnings: the record and the report said plainly 'approved'."""
    bundle, index = _with_unlisted_item()
    requests = tmp_path / "requests.ndjson"
    requests.write_text(json.dumps(bundle) + "\n")
    report = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["batch", str(requests), "--out", "-", "--report", str(report)])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout.splitlines()[0])
    assert {"code": "item_not_decided", "text": NOT_DECIDED.format(index)} in record["notices"]
    page = report.read_text(encoding="utf-8")
    assert "for the items decided; 1 Claim item not decided (manual review)" in page
    assert "Claim item 6 (22899) is not decided" in page


def test_what_is_not_read_is_a_notice(tmp_path: Path) -> None:
    """A linkId that is no field of the case record: a warning on stderr and a notice in the decision."""
    bundle = _source("source-002")
    _answers(bundle)["item"].append({"linkId": "clinical.mood", "answer": [{"valueString": "fine"}]})
    result = _explain_bundle(tmp_path, bundle, "--format", "json")
    assert result.exit_code == 0, result.output
    assert "warning:" in result.stderr and "'clinical.mood'" in result.stderr
    notices = json.loads(result.stdout)["notices"]
    assert [n["code"] for n in notices] == ["not_read"] and "'clinical.mood'" in notices[0]["text"]


# ---------------------------------------------------------------------------
# bad bundles
# ---------------------------------------------------------------------------


def _explain_broken(tmp_path: Path, change) -> object:
    data = json.loads(HAND_WRITTEN.read_text())
    change(data)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data))
    return CliRunner().invoke(main, ["explain", str(path)])


def test_missing_element_is_named_by_its_path(tmp_path: Path) -> None:
    result = _explain_broken(tmp_path, lambda d: d["entry"][0]["resource"]["item"][3].pop("productOrService"))
    assert result.exit_code == 2
    assert "Bundle.entry[0].resource.item[3].productOrService" in result.output and "add it" in result.output
    assert "Traceback" not in result.output


def test_answer_of_the_wrong_type_is_named_by_its_path(tmp_path: Path) -> None:
    def change(d):
        qr = d["entry"][-1]["resource"]
        qr["item"][3]["item"][2]["answer"] = [{"valueString": "yes"}]  # clinical.adl_limitation
    result = _explain_broken(tmp_path, change)
    assert result.exit_code == 2
    assert "Bundle.entry[6].resource.item[3].item[2].answer[0]" in result.output
    assert "valueBoolean" in result.output


def test_value_outside_the_vocabulary_is_named_by_its_path(tmp_path: Path) -> None:
    def change(d):
        qr = d["entry"][-1]["resource"]
        qr["item"][3]["item"][0]["item"][1]["answer"] = [{"valueCoding": {"code": "middle"}}]
    result = _explain_broken(tmp_path, change)
    assert result.exit_code == 2
    assert "Bundle.entry[6].resource.item[3].item[0].item[1]" in result.output and "clinical.radiculopathy.side" in result.output


def test_plan_the_claim_does_not_request_is_refused(tmp_path: Path) -> None:
    def change(d):
        qr = d["entry"][-1]["resource"]
        qr["item"][0]["item"][0]["item"][0]["answer"] = [{"valueCoding": {"code": "L2-L3"}}]
    result = _explain_broken(tmp_path, change)
    assert result.exit_code == 2 and "where the Claim requests no service" in result.output


def _explain_bundle(tmp_path: Path, bundle: dict, *args: str) -> object:
    path = tmp_path / "request.json"
    path.write_text(json.dumps(bundle))
    return CliRunner().invoke(main, ["explain", str(path), *args])


def _refused(tmp_path: Path, bundle: dict) -> object:
    """Explaining the Bundle, which must be refused as bad input: exit 2 and a message, no traceback."""
    result = _explain_bundle(tmp_path, bundle)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return result


def _source(name: str) -> dict:
    return to_bundle(load_case(ROOT / "examples" / f"{name}.yaml"))


def _qr_index(bundle: dict) -> int:
    return next(i for i, e in enumerate(bundle["entry"]) if e["resource"]["resourceType"] == "QuestionnaireResponse")


def test_a_group_answered_twice_is_refused(tmp_path: Path) -> None:
    """A second `clinical` group saying less (no radiculopathy) flipped source-002 from partially approved to
    denied: the last one silently won.  Both element paths are named, as a case file's repeated key is."""
    bundle = _source("source-002")
    k = _qr_index(bundle)
    items = _answers(bundle)["item"]
    n = next(i for i, it in enumerate(items) if it["linkId"] == "clinical")
    items.append({"linkId": "clinical", "item": [{"linkId": "clinical.adl_limitation", "answer": [{"valueBoolean": True}]}]})
    result = _refused(tmp_path, bundle)
    assert f"Bundle.entry[{k}].resource.item[{len(items) - 1}]: clinical appears twice in this group " \
           f"(first at Bundle.entry[{k}].resource.item[{n}])" in result.output, result.output


def test_an_answer_given_twice_is_refused(tmp_path: Path) -> None:
    """clinical.adl_limitation answered true, then false: the false flipped REF-D3 to not met."""
    bundle = _source("source-003")
    k = _qr_index(bundle)
    clinical = _item(_answers(bundle)["item"], "clinical")
    n = next(i for i, it in enumerate(clinical["item"]) if it["linkId"] == "clinical.adl_limitation")
    clinical["item"].append({"linkId": "clinical.adl_limitation", "answer": [{"valueBoolean": False}]})
    result = _refused(tmp_path, bundle)
    group = next(i for i, it in enumerate(_answers(bundle)["item"]) if it["linkId"] == "clinical")
    at = f"Bundle.entry[{k}].resource.item[{group}]"
    assert f"{at}.item[{len(clinical['item']) - 1}]: clinical.adl_limitation appears twice in this group " \
           f"(first at {at}.item[{n}])" in result.output, result.output


def test_entries_of_a_list_of_records_may_repeat() -> None:
    """A repeating group (`imaging[]`, one per study) is how a list's entries are given: not a repetition."""
    case = load_case(ROOT / "examples" / "source-004.yaml")
    assert len(case.imaging) > 1
    assert from_bundle(to_bundle(case), "source-004").case.imaging == case.imaging


def _planned(approaches: list[str]) -> dict:
    """A request Bundle for L4-L5 decompression and fusion by ``approaches``, the codes `fhir bundle` picks."""
    return to_bundle(case_from(merge(baseline(), {"request": {"levels": [
        {"level": "L4-L5", "decompression": "laminectomy", "fusion": {"approaches": approaches}}]}})))


def _claim_item(bundle: dict, code: str) -> int:
    return next(i for i, it in enumerate(bundle["entry"][0]["resource"]["item"])
                if it["productOrService"]["coding"][0]["code"] == code)


def _answer_approaches(bundle: dict, *approaches: str) -> None:
    _item(_answers(bundle)["item"], "request.levels[].fusion.approaches")["answer"] = [
        {"valueCoding": {"system": "urn:necessity:vocabulary:approach", "code": a}} for a in approaches]


def test_answers_never_drop_an_approach_the_claim_codes(tmp_path: Path) -> None:
    """22558 and 22612 at L4-L5, answered `alif` alone: the posterolateral fusion 22612 requests was dropped,
    REF-S1 flipped and the stay was denied while item 22612 was certified."""
    bundle = _planned(["alif", "posterolateral"])
    _answer_approaches(bundle, "alif")
    result = _refused(tmp_path, bundle)
    k = _qr_index(bundle)
    assert f"Bundle.entry[{k}].resource.item[" in result.output
    assert f"22612 at Bundle.entry[0].resource.item[{_claim_item(bundle, '22612')}] requests (posterolateral)" \
        in result.output, result.output


def test_a_combined_code_needs_both_its_approaches(tmp_path: Path) -> None:
    """22633 is a posterior interbody fusion with a posterolateral one: `plif` alone drops the posterolateral."""
    bundle = _planned(["plif", "posterolateral"])
    items = bundle["entry"][0]["resource"]["item"]
    items[_claim_item(bundle, "22630")]["productOrService"]["coding"][0].update(code="22633", display="combined")
    del items[_claim_item(bundle, "22612")]
    read = from_bundle(bundle, "22633").case.request.levels[0].fusion
    assert [a.value for a in read.approaches] == ["plif", "posterolateral"]
    _answer_approaches(bundle, "plif")
    result = _refused(tmp_path, bundle)
    assert "approaches plif at L4-L5 leave out what the Claim's code 22633" in result.output
    assert "(tlif with posterolateral or plif with posterolateral)" in result.output, result.output


def test_a_level_planned_twice_is_refused(tmp_path: Path) -> None:
    """Two `request.levels[]` entries for L4-L5: the second replaced the first's approaches."""
    bundle = _planned(["tlif"])
    request = _item(_answers(bundle)["item"], "request")
    entry = next(i for i in request["item"] if i["linkId"] == "request.levels[]")
    request["item"].append(copy.deepcopy(entry))
    result = _refused(tmp_path, bundle)
    assert "documents the plan at L4-L5 a second time (first at Bundle.entry[" in result.output, result.output


def test_two_decompression_techniques_at_one_level_are_refused(tmp_path: Path) -> None:
    """63030 (laminotomy) and 63047 (laminectomy) at L4-L5: the case record holds one technique per level,
    and neither code is silently kept over the other."""
    bundle = _planned(["tlif"])
    items = bundle["entry"][0]["resource"]["item"]
    first = _claim_item(bundle, "63047")
    items.append({**copy.deepcopy(items[first]), "sequence": 9})
    items[-1]["productOrService"]["coding"][0].update(code="63030", display="laminotomy")
    result = _refused(tmp_path, bundle)  # answered laminectomy, which 63030 does not cover
    assert f"technique laminectomy at L4-L5 disagrees with the Claim's code 63030 at " \
           f"Bundle.entry[0].resource.item[{len(items) - 1}]" in result.output, result.output
    technique = _item(_answers(bundle)["item"], "request.levels[].decompression")
    technique["item"] = [i for i in technique["item"] if i["linkId"] != "request.levels[].decompression.technique"]
    result = _refused(tmp_path, bundle)  # not answered: the two codes' techniques differ
    assert f"Bundle.entry[0].resource.item[{len(items) - 1}]: requests decompression at L4-L5 by laminotomy (63030), " \
           f"while Bundle.entry[0].resource.item[{first}] requests laminectomy (63047)" in result.output, result.output
    assert "with foraminotomy, which every code covers" in result.output


# ---------------------------------------------------------------------------
# Observations, and documentation that is not the patient's or not final
# ---------------------------------------------------------------------------

LUMBAR, HIP = "38267-8", "38263-7"  # DXA T-score codes, both read into history.bone_density.dexa_t_score


def _with_dexa(t_score: float) -> dict:
    """A Bundle for the baseline with cement-augmented screws (REF-A5 reads the T-score), the DEXA an Observation."""
    return to_bundle(case_from(merge(baseline(), {
        "request": {"items": [{"item": "cement_augmentation"}]},
        "history": {"bone_density": {"dexa_t_score": t_score}}})))


def _observation(bundle: dict, code: str) -> tuple[int, dict]:
    return next((i, e["resource"]) for i, e in enumerate(bundle["entry"])
                if e["resource"]["resourceType"] == "Observation"
                and e["resource"]["code"]["coding"][0]["code"] == code)


def _add_result(bundle: dict, code: str, value: float, when: str | None) -> int:
    _, lumbar = _observation(bundle, LUMBAR)
    result = copy.deepcopy(lumbar)
    result["id"] = f"dexa-{len(bundle['entry'])}"
    result["code"]["coding"][0].update(code=code, display=code)
    result["valueQuantity"]["value"] = value
    result.pop("effectiveDateTime", None)
    if when:
        result["effectiveDateTime"] = when
    bundle["entry"].append({"fullUrl": f"urn:uuid:00000000-0000-4000-8000-{len(bundle['entry']):012d}",
                            "resource": result})
    return len(bundle["entry"]) - 1


def test_a_value_with_a_comparator_is_refused(tmp_path: Path) -> None:
    """'> -3.0' was read as exactly -3.0, which meets REF-A5 (T-score -2.5 or lower): the case holds no bounds."""
    bundle = _with_dexa(-3.0)
    k, lumbar = _observation(bundle, LUMBAR)
    lumbar["valueQuantity"]["comparator"] = ">"
    result = _refused(tmp_path, bundle)
    assert f"Bundle.entry[{k}].resource.valueQuantity.comparator: " in result.output
    assert "given as '> -3.0'" in result.output and "without a comparator" in result.output, result.output


def test_lumbar_and_hip_results_that_differ_are_refused(tmp_path: Path) -> None:
    """The usual DEXA report gives a lumbar and a hip T-score; the case record holds one, and which one counts is
    not Python's to choose.  It was refused as 'two DXA Hip results of the same date disagree', or, a day apart,
    the hip result silently replaced the lumbar one."""
    for when in ("2025-10-01", "2025-10-02"):
        bundle = _with_dexa(-2.8)
        k, lumbar = _observation(bundle, LUMBAR)
        lumbar["effectiveDateTime"] = "2025-10-01"
        hip = _add_result(bundle, HIP, -1.9, when)
        result = _refused(tmp_path, bundle)
        assert f"Bundle.entry[{hip}].resource: DXA Hip [T-score] Bone density -1.9 and DXA Lumbar spine [T-score] " \
               f"Bone density -2.8 (Bundle.entry[{k}].resource) both give history.bone_density.dexa_t_score" \
               in result.output, result.output
        assert "send only the Observation" in result.output
    bundle = _with_dexa(-2.8)
    _add_result(bundle, HIP, -2.8, "2025-10-01")  # the same value twice says one thing
    assert from_bundle(bundle, "agree").case.history.bone_density.dexa_t_score == -2.8


def test_of_one_code_the_latest_result_is_read(tmp_path: Path) -> None:
    bundle = _with_dexa(-2.0)
    _, lumbar = _observation(bundle, LUMBAR)
    lumbar["effectiveDateTime"] = "2025-03-01"
    _add_result(bundle, LUMBAR, -2.7, "2025-09-01")
    assert from_bundle(bundle, "latest").case.history.bone_density.dexa_t_score == -2.7
    later = _add_result(bundle, LUMBAR, -1.0, None)  # undated: which is later is not said
    result = _refused(tmp_path, bundle)
    assert f"Bundle.entry[{later}].resource: DXA Lumbar spine [T-score] Bone density -1.0 is not dated so as to say " \
           "which is later" in result.output, result.output


@pytest.mark.parametrize("status", ["entered-in-error", "in-progress", "stopped"])
def test_answers_not_final_are_refused(tmp_path: Path, status: str) -> None:
    bundle = _source("source-002")
    _answers(bundle)["status"] = status
    result = _refused(tmp_path, bundle)
    assert f"Bundle.entry[{_qr_index(bundle)}].resource.status: '{status}': the answers are not final" in result.output


def test_documentation_about_another_patient_is_refused(tmp_path: Path) -> None:
    bundle = _source("source-002")
    _answers(bundle)["subject"] = {"reference": "Patient/someone-else"}
    result = _refused(tmp_path, bundle)
    assert f"Bundle.entry[{_qr_index(bundle)}].resource.subject: a QuestionnaireResponse about Patient/someone-else, " \
           "not the Claim's patient" in result.output, result.output
    bundle = _with_dexa(-2.8)
    k, lumbar = _observation(bundle, LUMBAR)
    lumbar["subject"] = {"reference": "Patient/someone-else"}
    assert f"Bundle.entry[{k}].resource.subject: an Observation about" in _refused(tmp_path, bundle).output
    patient = bundle["entry"][0]["resource"]["patient"]["reference"]
    entry = next(e for e in bundle["entry"] if e["fullUrl"] == patient)
    lumbar["subject"] = {"reference": f"Patient/{entry['resource']['id']}"}  # the same patient, written relative
    assert from_bundle(bundle, "relative").case.history.bone_density.dexa_t_score == -2.8


def test_an_item_requested_twice_is_named_by_its_claim_item(tmp_path: Path) -> None:
    """Two 22853 items at L5-S1 were reported at Bundle.entry[0].resource.created."""
    bundle = _source("source-002")
    items = bundle["entry"][0]["resource"]["item"]
    first = _claim_item(bundle, "22853")
    items.append({**copy.deepcopy(items[first]), "sequence": 99})
    result = _refused(tmp_path, bundle)
    assert f"Bundle.entry[0].resource.item[{len(items) - 1}].productOrService: requests interbody device at L5-S1 " \
           f"again (first at Bundle.entry[0].resource.item[{first}])" in result.output, result.output
    assert "created" not in result.output


def test_an_item_at_a_level_the_claim_does_not_request_is_named_by_its_claim_item(tmp_path: Path) -> None:
    bundle = _source("source-002")
    device = _claim_item(bundle, "22853")
    bundle["entry"][0]["resource"]["item"][device]["bodySite"]["coding"][0]["code"] = "L3-L4"
    result = _refused(tmp_path, bundle)
    assert f"Bundle.entry[0].resource.item[{device}].bodySite: requests interbody device at L3-L4, where the Claim " \
           "requests no decompression or fusion" in result.output, result.output


def _unmapped_site(item: dict) -> None:
    item["bodySite"] = {"coding": [{"system": "http://snomed.info/sct", "code": "123", "display": "L5-S1"}]}


def test_a_claim_with_no_readable_level_names_its_items_and_why(tmp_path: Path) -> None:
    """Every level item with a SNOMED body site (no row): this was 'request.levels: Tuple should have at least
    1 item' at Bundle.entry[0].resource.created, then a refusal; a line whose level cannot be found is pended
    (issue 22), each item named with why, and the request answered."""
    bundle = _source("source-002")
    items = bundle["entry"][0]["resource"]["item"]
    with_site = [i for i, it in enumerate(items) if "bodySite" in it]
    for i in with_site:
        _unmapped_site(items[i])
    _item(_answers(bundle)["item"], "request")["item"] = [
        i for i in _item(_answers(bundle)["item"], "request")["item"] if i["linkId"] != "request.levels[]"]
    result = _explain_bundle(tmp_path, bundle, "--format", "fhir")
    assert result.exit_code == 0, result.output
    for i in with_site:
        assert f"Bundle.entry[0].resource.item[{i}].bodySite.coding[0]: body site http://snomed.info/sct|123 (L5-S1) names " \
               "no spinal level exchange/data/body-sites.csv maps" in result.stderr
    response = json.loads(result.stdout)
    assert set(_review_codes(response).values()) == {"A4"}
    assert "Tuple" not in result.output and ".created:" not in result.stderr


def _review_codes(bundle: dict) -> dict[int, str]:
    """Each Claim item's X12 306 review action code, wherever in its adjudication's extensions it is written."""
    out = {}
    for item in bundle["entry"][0]["resource"]["item"]:
        text = json.dumps(item["adjudication"])
        codes = [c for c in ("A1", "A2", "A3", "A4", "A6", "A7", "C") if f'"code": "{c}"' in text]
        out[item["itemSequence"]] = codes[0]
    return out


def test_a_refusal_names_the_claim_item_that_could_not_be_read(tmp_path: Path) -> None:
    """The decompression item's body site has no row, and the answers document decompression at L5-S1: the
    refusal said only that the Claim does not request it, and the cause was lost with the warnings."""
    bundle = _source("source-002")
    decompression = _claim_item(bundle, "63047")
    _unmapped_site(bundle["entry"][0]["resource"]["item"][decompression])
    result = _refused(tmp_path, bundle)
    assert "documents decompression at L5-S1, which the Claim does not request, as far as its items can be read; " \
           f"not read: Bundle.entry[0].resource.item[{decompression}].bodySite.coding[0]: body site http://snomed.info/sct|123" \
           in result.output, result.output


def test_fhir_files_are_written_whole_and_never_over_their_input(tmp_path: Path) -> None:
    case = tmp_path / "case.yaml"
    case.write_text((ROOT / "examples" / "source-002.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    before = case.read_bytes()
    result = CliRunner().invoke(main, ["fhir", "bundle", str(case), "--out", str(case)])
    assert result.exit_code == 2 and "this is the case file" in result.output, result.output
    assert case.read_bytes() == before
    out = tmp_path / "request.json"
    assert CliRunner().invoke(main, ["fhir", "bundle", str(case), "--out", str(out)]).exit_code == 0
    assert json.loads(out.read_text())["resourceType"] == "Bundle"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left
    inside = ROOT / "policies" / "reference" / "dtr.json"
    result = CliRunner().invoke(main, ["fhir", "questionnaire", "--policy", "reference", "--out", str(inside)])
    assert result.exit_code == 2 and "inside the policy folder" in result.output and not inside.exists()


def test_not_json_and_not_a_resource(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"resourceType": "Bundel", "type": "collection"}')
    result = CliRunner().invoke(main, ["explain", str(path)])
    assert result.exit_code == 2 and "Bundle.resourceType" in result.output and "Traceback" not in result.output


# ---------------------------------------------------------------------------
# the questionnaire
# ---------------------------------------------------------------------------


def _link_ids(items: list[dict]) -> set[str]:
    out = set()
    for item in items:
        out.add(item["linkId"])
        out |= _link_ids(item.get("item", []))
    return out


def _keep(items: list[dict], links: set[str]) -> list[dict]:
    out = []
    for item in items:
        if item["linkId"] not in links:
            continue
        item = dict(item)
        if "item" in item:
            item["item"] = _keep(item["item"], links)
        out.append(item)
    return out


def test_questionnaire_validates_and_holds_every_field_the_policy_reads() -> None:
    result = CliRunner().invoke(main, ["fhir", "questionnaire", "--policy", "reference"])
    assert result.exit_code == 0, result.output
    q = json.loads(result.output)
    validate(q, "questionnaire", "Questionnaire")
    links = _link_ids(q["item"])
    fields, readers = fields_read(load("reference"))
    for field in fields:
        if field.startswith(("request.date", "request.setting", "request.items", "case")):
            continue  # the Claim carries these
        assert field in links or field + "[]" in links, f"{field} is read by reference but not asked"
    assert "clinical.adl_limitation" in links and "history.alcohol_use_disorder" not in links
    assert ("REF-D3", "Limitation of activities of daily living", "reference §Case-level criteria, D3") in readers["clinical.adl_limitation"]
    help_texts = json.dumps(q)
    assert "Read by REF-D4a Supervised in-person physical therapy for at least 6 weeks" in help_texts


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_answering_only_the_questionnaire_decides_as_the_whole_record(path: Path) -> None:
    """The questionnaire misses nothing the policy reads: the answers to it alone decide the same."""
    links = _link_ids(questionnaire(load("reference"))["item"])
    case = load_case(path)
    bundle = to_bundle(case)
    qr = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "QuestionnaireResponse")
    qr["item"] = _keep(qr["item"], links)
    answered = from_bundle(bundle, str(path)).case
    a, b = decide(load("reference"), case), decide(load("reference"), answered)
    assert [(lv.level, lv.determination) for lv in b.levels] == [(lv.level, lv.determination) for lv in a.levels]
    assert [(i.item, i.determination) for i in b.items] == [(i.item, i.determination) for i in a.items]
    assert b.statuses == a.statuses


def test_questionnaire_enables_dependent_fields() -> None:
    q = questionnaire(load("reference"))
    text = json.dumps(q)
    assert '"question": "clinical.motor_weakness.present"' in text  # the MRC grade only once weakness is present
    assert '"question": "conservative_care.episodes"' in text  # entries only once the list is answered yes


def test_case_reads_attribute_reads_to_criteria() -> None:
    reads = case_reads(load("reference"))
    assert any(r.criterion == "REF-D3" and r.predicate == "finding/2" and (0, "adl_limitation") in r.fixed for r in reads)
    # through a helper predicate: REF-D4a reads care_delivery via counted_pt/1
    assert any(r.criterion == "REF-D4a" and r.predicate == "care_delivery/2" for r in reads)


def test_case_reads_follow_the_questions_a_criterion_asks_of_imaging() -> None:
    """REF-F2 and REF-F5 read imaging study by study: asks/3 ties them to their study_answer/4 rules."""
    reads = case_reads(load("reference"))
    assert any(r.criterion == "REF-F5" and r.predicate == "cobb_curve/3" for r in reads)
    assert any(r.criterion == "REF-F2" and r.predicate == "level_finding/4" and (1, "dynamic_instability") in r.fixed
               for r in reads)
    assert not any(r.criterion == "REF-F2" and r.predicate == "cobb_curve/3" for r in reads)


def test_a_list_field_is_read_only_by_the_criteria_that_read_it() -> None:
    """`imaging[].alignment.cobb` was credited to every criterion reading any documented/1 atom."""
    _, readers = fields_read(load("reference"))
    assert [c[0] for c in readers["imaging[].alignment.cobb"]] == ["REF-F5"]
    assert [c[0] for c in readers["imaging[].levels[].dynamic_instability"]] == ["REF-F2"]


def test_read_signatures_are_the_predicates_read() -> None:
    from facts.vocabulary import SIGNATURES

    policy = load("reference")
    assert read_signatures(policy.statements, SIGNATURES) == {r.predicate for r in case_reads(policy)}
    assert "cobb_curve/3" in read_signatures(policy.statements, SIGNATURES)


def test_questionnaire_asks_the_fields_of_issue_11() -> None:
    """Month dates, an optional stenosis zone, Cobb curves by end vertebrae, dynamic instability, no care given."""
    q = questionnaire(load("reference"))
    links = _link_ids(q["item"])
    for link in ("imaging[].levels[].dynamic_instability", "imaging[].levels[].stenosis[].zone",
                 "imaging[].alignment.cobb[].upper_vertebra", "imaging[].alignment.cobb[].lower_vertebra",
                 "imaging[].alignment.cobb[].upper_level", "imaging[].alignment.cobb[].lower_level",
                 "conservative_care.episodes"):
        assert link in links, link
    zone = _item(q["item"], "imaging[].levels[].stenosis[].zone")
    assert "required" not in zone and zone["type"] == "choice"
    gate = _item(q["item"], "conservative_care.episodes")
    assert gate["type"] == "boolean" and "documents that there were none" in gate["text"]


# ---------------------------------------------------------------------------
# batch
# ---------------------------------------------------------------------------


def test_batch_reads_request_bundles_and_writes_responses(tmp_path: Path) -> None:
    lines = [json.dumps(to_bundle(load_case(p))) for p in EXAMPLES] + [HAND_WRITTEN.read_text().replace("\n", " ")]
    requests = tmp_path / "requests.ndjson"
    requests.write_text("\n".join(lines) + "\n")
    runner = CliRunner()
    out = tmp_path / "responses.ndjson"
    result = runner.invoke(main, ["batch", str(requests), "--format", "fhir", "--out", str(out)])
    assert result.exit_code == 0, result.output
    responses = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(responses) == len(lines)
    for path, response in zip([*EXAMPLES, HAND_WRITTEN], responses):
        validate(response, path.name)
        alone = runner.invoke(main, ["explain", str(path), "--format", "fhir"])
        assert json.loads(alone.stdout) == response, f"{path.name}: batch and explain answer differently"
    records = runner.invoke(main, ["batch", str(requests), "--out", "-"])
    cases = runner.invoke(main, ["batch", str(ROOT / "examples"), "--out", "-"])
    assert records.stdout.splitlines()[: len(EXAMPLES)] == cases.stdout.splitlines()


def test_batch_answers_a_bad_bundle_with_an_operation_outcome(tmp_path: Path) -> None:
    requests = tmp_path / "requests.ndjson"
    requests.write_text('{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Claim"}}]}\n')
    out = tmp_path / "out.ndjson"
    result = CliRunner().invoke(main, ["batch", str(requests), "--format", "fhir", "--out", str(out)])
    assert result.exit_code == 1
    outcome = json.loads(out.read_text())
    validate(outcome, "outcome", "OperationOutcome")
    assert "Bundle.entry[0].resource.patient" in json.dumps(outcome)


# ---------------------------------------------------------------------------
# docs/fhir.md matches the tables and the output
# ---------------------------------------------------------------------------

DOC = (ROOT / "docs" / "fhir.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["procedures", "body-sites", "places-of-service", "modifiers", "observations",
                                  "review-actions", "attachments"])
def test_docs_list_every_mapping_row(name: str) -> None:
    from exchange.tables import table

    section = DOC.split(f"### {name}.csv", 1)[1].split("\n### ", 1)[0]
    for row in table(name):
        assert f"| {row['code']} |" in section or f" {row['code']} |" in section, f"{name}.csv row {row['code']} is not in docs/fhir.md"


def test_docs_response_excerpt_is_real_output() -> None:
    blocks = DOC.split("```json\n")[1:]
    excerpt = json.loads(blocks[1].split("```", 1)[0])
    bundle, _ = respond(ROOT / "examples" / "source-002.yaml")
    real = bundle["entry"][0]["resource"]
    real_items = {i["itemSequence"]: i for i in real["item"]}
    for item in excerpt["item"]:
        assert real_items[item["itemSequence"]] == item
    notes = {n["number"]: n for n in real["processNote"]}
    for note in excerpt["processNote"]:
        assert notes[note["number"]] == note
    claim = json.loads(blocks[0].split("```", 1)[0])
    written = to_bundle(load_case(ROOT / "examples" / "source-002.yaml"))["entry"][0]["resource"]
    assert claim["item"] == written["item"][: len(claim["item"])]
