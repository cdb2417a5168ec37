"""The PAS response: the review action of every Claim item, its reasons, and the documentation to obtain.

The review action follows from the determination and from what would change
it (docs/fhir.md, "The response"): A1 certified, A6 modified (decompression
authorised in place of a fusion), A4 pended when the explanation's
documentation to obtain would give the item what it needs (one
CommunicationRequest per criterion, one per set of interchangeable
criteria) or when the policy does not address it, A3 not certified when
only findings the record contradicts, or nothing, would change it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from casebuilder import ONLY_DECOMPRESSION_WITHIN_REACH, baseline, case_from, merge
from engine.presenting import labels
from facts import load_case
from facts.terms import Item
from responses import actions, by_subject, claim_response, communications, item_notes, notes, respond, sequences

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


def _record(name: str) -> dict:
    """An example case file as data (its dates as text, as a case file writes them)."""
    return json.loads(json.dumps(yaml.safe_load((ROOT / "examples" / f"{name}.yaml").read_text()), default=str))


def _lines(resource: dict) -> list[int]:
    return [e["valuePositiveInt"] for e in resource.get("extension", []) if e["url"].endswith("serviceLineNumber")]


def _asked(resource: dict) -> list[str]:
    """The criteria a CommunicationRequest asks for, as its reason codes name them (``REF-F1 at L5-S1``)."""
    return [r["text"].split(":", 1)[0] for r in resource["reasonCode"]]


# ---------------------------------------------------------------------------
# the examples the issue names
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_response_validates_and_answers_every_item(path: Path) -> None:
    bundle, request = respond(path)
    assert claim_response(bundle)["resourceType"] == "ClaimResponse"
    assert sorted(actions(bundle)) == [i.sequence for i in request.items]


def test_source_002_certifies_the_fusion_and_not_the_aspirate() -> None:
    bundle, request = respond(ROOT / "examples" / "source-002.yaml")
    got = by_subject(bundle, request)
    assert got[("level", "L5-S1", "fusion")] == ["A1"]
    assert got[("item", "bone_marrow_aspirate", None)] == ["A3"]
    aspirate = sequences(request, ("item", "bone_marrow_aspirate", None))[0]
    texts = item_notes(bundle, aspirate)
    assert texts[0].startswith("bone marrow aspirate: not medically necessary"), texts[0]
    assert any(t.startswith("REF-A1 for bone marrow aspirate not met:") and "[reference §Items, A1]" in t
               for t in texts), texts


def test_source_000_modifies_the_fusion_to_decompression() -> None:
    bundle, request = respond(ROOT / "examples" / "source-000.yaml")
    codes = actions(bundle)
    fusion = sequences(request, ("level", "L3-L4", "fusion"))
    assert fusion and all(codes[s] == "A6" for s in fusion)
    decompression = sequences(request, ("level", "L3-L4", "decompression"))
    assert decompression and all(codes[s] == "A1" for s in decompression)
    # The decompression has its own certified item: it is not authorised a second time in addItem (issue 22, 5).
    assert "addItem" not in claim_response(bundle)
    assert any(f"by item {decompression[0]}" in t for t in item_notes(bundle, fusion[0]))


def test_a_fusion_without_its_decompression_item_is_modified_to_one_added_item() -> None:
    record = _record("source-000")
    for level in record["request"]["levels"]:
        if level["level"] == "L3-L4":
            del level["decompression"]
    bundle, request = respond(case_from(record))
    fusion = sequences(request, ("level", "L3-L4", "fusion"))
    assert fusion and all(actions(bundle)[s] == "A6" for s in fusion)
    added = [a for a in claim_response(bundle)["addItem"] if a["bodySite"]["coding"][0]["code"] == "L3-L4"]
    assert len(added) == 1
    # 1..1 in the PAS profile (one sequence, where [3, 4, 5] was written); 0..* in R4, so a JSON array
    assert added[0]["itemSequence"] == [fusion[0]]
    assert added[0]["productOrService"]["coding"][0]["code"] == "63047"


def test_source_003_pends_for_supervised_physical_therapy() -> None:
    bundle, request = respond(ROOT / "examples" / "source-003.yaml")
    codes = actions(bundle)
    decompression = [i.sequence for i in request.items if i.subject and i.subject[2] == "decompression"]
    assert decompression and all(codes[s] == "A4" for s in decompression)
    response = claim_response(bundle)
    urls = {e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] == "CommunicationRequest"}
    assert {r["reference"] for r in response["communicationRequest"]} == urls
    pt = [r for r in communications(bundle) if _asked(r) == ["REF-D4a"]]
    assert len(pt) == 1, [_asked(r) for r in communications(bundle)]
    assert "reference §Case-level criteria, D4 (a)" in pt[0]["reasonCode"][0]["text"]
    note = pt[0]["note"][0]["text"]
    assert "not documented" in note and "supervised, in-person physical therapy" in note, note
    assert pt[0]["payload"] == [{"contentString": "11515-4"}]  # PAS attachment code: physical therapy records


# ---------------------------------------------------------------------------
# documentation to obtain (A4) and findings the record contradicts (A3)
# ---------------------------------------------------------------------------


def test_interchangeable_criteria_are_asked_for_in_one_request() -> None:
    """S1-pelvis in source-003: REF-D4a, REF-X1 and any one of REF-F1, F2, F3, F5 at L5-S1."""
    bundle, request = respond(ROOT / "examples" / "source-003.yaml")
    pelvis = sequences(request, ("level", "S1-pelvis", "fusion"))
    assert [actions(bundle)[s] for s in pelvis] == ["A4"]
    asked = {tuple(_asked(r)): r for r in communications(bundle)}
    group = asked[("REF-F1 at L5-S1", "REF-F2 at L5-S1", "REF-F3 at L5-S1", "REF-F5 at L5-S1")]
    assert "any one of these will do" in group["note"][0]["text"]
    # REF-X1 is not met while fusion at L5-S1 is not justified; the line gives that fusion and
    # then needs the imbalance measured, which the request names (it said nothing to obtain)
    assert asked[("REF-X1 at S1-pelvis",)]["note"][0]["text"].endswith(
        "not documented: document coronal imbalance or sagittal vertical axis measured on standing films")
    assert _lines(asked[("REF-X1 at S1-pelvis",)]) == pelvis
    assert not _lines(group), "the L5-S1 fusion item asks for the same choice: no single service line"


def test_a_decompression_is_not_asked_for_what_only_a_fusion_needs() -> None:
    bundle, request = respond(ROOT / "examples" / "source-003.yaml")
    decompression = sequences(request, ("level", "L2-L3", "decompression"))[0]
    fusion = sequences(request, ("level", "L2-L3", "fusion"))
    group = next(r for r in communications(bundle) if _asked(r)[0] == "REF-F1 at L2-L3")
    assert _lines(group) == fusion and decompression not in _lines(group)


def test_a_finding_the_record_contradicts_is_not_certified_and_not_pended() -> None:
    """source-000: an interbody device needs fusion at its level; only contradicted findings would give it."""
    bundle, request = respond(ROOT / "examples" / "source-000.yaml")
    device = sequences(request, ("item", "interbody_device", "L3-L4"))[0]
    assert actions(bundle)[device] == "A3"
    assert all(device not in _lines(r) for r in communications(bundle))
    assert any("only if a different finding were documented" in t and "REF-F1 at L3-L4" in t
               for t in item_notes(bundle, device))


@pytest.mark.parametrize("source,policy", [
    (case_from(merge(baseline(), ONLY_DECOMPRESSION_WITHIN_REACH)), "reference"),
    (ROOT / "examples" / "source-002.yaml", "carelon-spine"),
], ids=["reference", "source-002-carelon"])
def test_documentation_that_gives_less_than_fusion_still_pends_a_fusion_item(source, policy: str) -> None:
    """The level is `none`; documentation would give decompression only, never fusion.  The fusion item was
    A3 'no documentation the record lacks would change it', which was untrue: documenting it turns the fusion
    into a modified one (A6).  It is pended for that documentation, and its note says fusion would still not be
    justified."""
    bundle, request = respond(source, policy)
    level = request.case.request.levels[0].level
    decompression = sequences(request, ("level", level, "decompression"))
    fused = sequences(request, ("level", level, "fusion")) + sequences(request, ("level", level, "instrumentation"))
    codes = actions(bundle)
    assert fused and [codes[s] for s in fused] == ["A4"] * len(fused), codes
    for s in fused:
        reason = item_notes(bundle, s)[0]
        assert "pended for the documentation to obtain that would give decompression only; fusion would still " \
               "not be justified: no documentation the record lacks would give it" in reason, reason
    asked = {tuple(_asked(r)): _lines(r) for r in communications(bundle)}
    wanted = {c for r in communications(bundle) for c in _asked(r)}
    assert wanted, "the documentation that would give decompression only is asked for"
    assert all(set(fused) | set(decompression) >= set(lines) for lines in asked.values())


def test_not_addressed_is_pended_for_manual_review() -> None:
    case = case_from(merge(baseline(), {"request": {"levels": [
        {"level": "L5-S1", "decompression": True, "fusion": True}, {"level": "S1-pelvis", "fusion": True}]}}))
    bundle, request = respond(case, "aetna-cpb-0743")
    pelvis = sequences(request, ("level", "S1-pelvis", "fusion"))[0]
    assert actions(bundle)[pelvis] == "A4"
    assert "not addressed: the policy has no criterion for it; pended for manual review" in item_notes(bundle, pelvis)[0]
    assert all(pelvis not in _lines(r) for r in communications(bundle))


# ---------------------------------------------------------------------------
# what the notes say
# ---------------------------------------------------------------------------


def test_the_policy_applied_and_its_notices_are_claim_level_notes() -> None:
    bundle, _ = respond(case_from(merge(baseline(), {"request": {"date": "2025-12-15"}})), "aetna-cpb-0743")
    texts = list(notes(bundle).values())
    assert texts[0].startswith("Decided under aetna-cpb-0743 version ")
    assert any(t.startswith("Notice: ") and "took effect" in t for t in texts), texts[:3]
    referenced = {n for item in claim_response(bundle)["item"] for n in item["noteNumber"]}
    assert 1 not in referenced and 2 not in referenced
    bundle, _ = respond(case_from(merge(baseline(), {"request": {"date": None}})))
    assert any(t.startswith("Notice: ") and "undated" in t for t in notes(bundle).values())


def test_superseded_and_open_findings_are_said_in_the_item_notes() -> None:
    bundle, request = respond(ROOT / "tests" / "data" / "conflicting-studies.yaml")
    l4 = item_notes(bundle, sequences(request, ("level", "L4-L5", "decompression"))[0])
    assert any("REF-F1 at L4-L5 not met" in t and "superseded: L4-L5 spondylolisthesis (MRI 2025-03-01)" in t for t in l4), l4
    l5 = item_notes(bundle, sequences(request, ("level", "L5-S1", "decompression"))[0])
    assert any("REF-D1 at L5-S1 not documented" in t and "the record leaves it open: " in t
               and "what would settle it: " in t for t in l5), l5
    open_ = next(r for r in communications(bundle) if _asked(r) == ["REF-D1 at L5-S1"])
    assert "the record leaves it open" in open_["note"][0]["text"]


def test_a_waived_criterion_says_what_waives_it() -> None:
    bundle, _ = respond(ROOT / "tests" / "data" / "cauda-equina.yaml")
    assert any(t.startswith("REF-D4 waived by REF-W1: Failed conservative care") for t in notes(bundle).values())


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_notes_name_items_in_words(path: Path) -> None:
    bundle, _ = respond(path)
    texts = list(notes(bundle).values())
    texts += [r["note"][0]["text"] for r in communications(bundle)]
    texts += [c["text"] for r in communications(bundle) for c in r["reasonCode"]]
    raw = [i.value for i in Item if labels.item(i.value) != i.value] + ["inpatient_setting"]
    found = [(name, t) for t in texts for name in raw if name in t]
    assert not found, found[:3]


def test_reason_codes_come_from_the_configured_table(tmp_path: Path, monkeypatch) -> None:
    table = tmp_path / "reasons.csv"
    table.write_text("action,system,code,display,source\nnot_certified,https://codesystem.x12.org/external/886,XX,"
                     "Payer's own reason,our contract\n", encoding="utf-8")
    monkeypatch.setenv("NECESSITY_REASON_CODES", str(table))
    bundle, _ = respond(ROOT / "examples" / "source-002.yaml")
    assert '"code": "XX"' in json.dumps(bundle)
    monkeypatch.delenv("NECESSITY_REASON_CODES")
    bundle, _ = respond(ROOT / "examples" / "source-002.yaml")
    assert '"url": "reasonCode"' not in json.dumps(bundle)  # none ship: never invented


HEADER = b"action,system,code,display,source\n"


@pytest.mark.parametrize("content,said", [
    (b"\xff\xfe" + HEADER, ":1 ($NECESSITY_REASON_CODES): not UTF-8 text (byte 0): save the file as UTF-8"),
    (HEADER + b"not_certified,https://codesystem.x12.org/005010/886,,Payer's own reason,our contract\n",
     ":2: the code cell is empty: fill it in"),
    (HEADER + b"not_certfied,https://codesystem.x12.org/005010/886,0U,Payer's own reason,our contract\n",
     ":2: action 'not_certfied' is not a review action: use one of certified, not_certified, pended, modified"),
], ids=["not-utf-8", "empty-code", "unknown-action"])
def test_a_bad_reason_code_table_is_named_by_its_line(tmp_path: Path, monkeypatch, content: bytes, said: str) -> None:
    """A non-UTF-8 file was a traceback, an unknown action silently ignored, an empty code reported at the
    response's element path."""
    from click.testing import CliRunner

    from engine.cli import main

    table = tmp_path / "reasons.csv"
    table.write_bytes(content)
    monkeypatch.setenv("NECESSITY_REASON_CODES", str(table))
    result = CliRunner().invoke(main, ["explain", str(ROOT / "examples" / "source-002.yaml"), "--format", "fhir"])
    assert result.exit_code == 2, result.output
    assert f"error: {table}{said}" in result.output, result.output
    assert "Traceback" not in result.output


def test_same_decision_same_bytes() -> None:
    first, _ = respond(load_case(ROOT / "examples" / "source-003.yaml"))
    again, _ = respond(load_case(ROOT / "examples" / "source-003.yaml"))
    assert json.dumps(first) == json.dumps(again)


# ---------------------------------------------------------------------------
# issue 22: what a PAS client reads
# ---------------------------------------------------------------------------

PAS = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/"


def _review_actions(adjudicated: dict) -> list[dict]:
    return [e for a in adjudicated["adjudication"] for e in a.get("extension", [])
            if e["url"] == PAS + "extension-reviewAction"]


def test_the_review_action_code_is_the_standalone_extension_by_its_full_url() -> None:
    bundle, _ = respond(ROOT / "examples" / "source-002.yaml")
    for item in claim_response(bundle)["item"]:
        (review,) = _review_actions(item)
        urls = [e["url"] for e in review["extension"]]
        assert "code" not in urls
        assert urls.count(PAS + "extension-reviewActionCode") == 1, urls


def test_a_response_repeats_the_resources_the_claim_references_relatively(tmp_path: Path) -> None:
    """IG style: fullUrl http://example.org/fhir/Patient/x, reference Patient/x (FHIR bundle resolution)."""
    from exchange.claim import to_bundle
    from exchange.request import from_bundle

    data = to_bundle(load_case(ROOT / "examples" / "source-002.yaml"))
    renamed = {}
    for entry in data["entry"]:
        r = entry["resource"]
        renamed[entry["fullUrl"]] = f"{r['resourceType']}/{r['id']}"
        entry["fullUrl"] = f"http://example.org/fhir/{r['resourceType']}/{r['id']}"
    text = json.dumps(data)
    for old, new in renamed.items():
        text = text.replace(f'"{old}"', f'"{new}"')
    request = from_bundle(json.loads(text), "relative.json")
    from engine.deciding.policy import load
    from engine.deciding.solver import decide
    from exchange.response import to_response

    p = load("reference")
    bundle = to_response(decide(p, request.case), request, p)
    urls = {e["fullUrl"]: e["resource"]["resourceType"] for e in bundle["entry"]}
    response = claim_response(bundle)
    for role, kind in (("patient", "Patient"), ("insurer", "Organization"), ("requestor", "Organization")):
        assert urls.get(response[role]["reference"]) == kind, (role, response[role], sorted(urls))


@pytest.mark.parametrize("name", ["source-001", "source-004"])
def test_the_response_bundle_always_has_a_timestamp(name: str) -> None:
    """source-001 has no request date, source-004 one known to the month: Bundle.timestamp is 1..1."""
    bundle, _ = respond(ROOT / "examples" / f"{name}.yaml")
    assert bundle["timestamp"] == "2026-01-05T14:30:00Z"


def test_the_response_carries_the_time_of_decision_not_the_claims(monkeypatch) -> None:
    bundle, request = respond(ROOT / "examples" / "source-002.yaml")
    assert claim_response(bundle)["created"] == bundle["timestamp"] == "2026-01-05T14:30:00Z"
    monkeypatch.setenv("NECESSITY_DECISION_TIME", "2026-02-03T04:05:06+01:00")
    bundle, _ = respond(ROOT / "examples" / "source-002.yaml")
    assert claim_response(bundle)["created"] == "2026-02-03T04:05:06+01:00"
    monkeypatch.delenv("NECESSITY_DECISION_TIME")
    import datetime

    bundle, _ = respond(ROOT / "examples" / "source-002.yaml")
    created = datetime.datetime.fromisoformat(claim_response(bundle)["created"].replace("Z", "+00:00"))
    assert abs((datetime.datetime.now(datetime.timezone.utc) - created).total_seconds()) < 300


def test_a_bad_decision_time_is_refused_naming_the_variable(monkeypatch) -> None:
    from engine.deciding.errors import UserError

    monkeypatch.setenv("NECESSITY_DECISION_TIME", "2026-02-30")
    with pytest.raises(UserError, match="NECESSITY_DECISION_TIME"):
        respond(ROOT / "examples" / "source-002.yaml")


@pytest.mark.parametrize("name", ["source-003", "source-004"])
def test_when_every_item_is_pended_the_disposition_says_pended(name: str) -> None:
    bundle, _ = respond(ROOT / "examples" / f"{name}.yaml")
    assert set(actions(bundle).values()) == {"A4"}
    response = claim_response(bundle)
    first = notes(bundle)[1]
    for text in (response["disposition"], first):
        assert "pended" in text and "denied" not in text, text


def test_the_disposition_follows_the_review_actions() -> None:
    bundle, _ = respond(ROOT / "examples" / "source-002.yaml")
    disposition = claim_response(bundle)["disposition"]
    got = actions(bundle)
    for code, said in (("A1", "certified: item"), ("A3", "not certified: item"), ("A4", "pended for review: item")):
        assert (code in got.values()) == (said in disposition), disposition


def test_approved_items_carry_an_authorization_number_and_period() -> None:
    bundle, _ = respond(ROOT / "examples" / "source-002.yaml")
    response = claim_response(bundle)
    assert response["preAuthRef"] and response["preAuthPeriod"]["start"] == "2026-01-05"
    numbers = []
    for item in response["item"]:
        (review,) = _review_actions(item)
        number = [e["valueString"] for e in review["extension"] if e["url"] == "number"]
        extensions = {e["url"]: e for e in item.get("extension", [])}
        if actions(bundle)[item["itemSequence"]] == "A1":
            assert number and number[0] not in numbers
            numbers += number
            assert extensions[PAS + "extension-itemPreAuthIssueDate"]["valueDate"] == "2026-01-05"
            period = extensions[PAS + "extension-itemPreAuthPeriod"]["valuePeriod"]
            assert period["start"] == "2026-01-05" and period["end"] > period["start"]
        else:
            assert not number and not extensions
    again, _ = respond(ROOT / "examples" / "source-002.yaml")
    assert claim_response(again)["preAuthRef"] == response["preAuthRef"]  # derived, not random
    other = case_from(merge(_record("source-002"), {"case": "another"}))
    assert claim_response(respond(other)[0])["preAuthRef"] != response["preAuthRef"]


def test_a_communication_request_names_who_asks_who_sends_and_how() -> None:
    bundle, _ = respond(ROOT / "examples" / "source-003.yaml")
    urls = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    asked = communications(bundle)
    assert asked
    for resource in asked:
        assert resource["category"][0]["coding"][0]["system"] == "https://codesystem.x12.org/005010/755"
        assert resource["medium"][0]["coding"][0]["system"] == "https://codesystem.x12.org/005010/756"
        assert urls[resource["requester"]["reference"]]["resourceType"] == "Organization"
        assert urls[resource["recipient"][0]["reference"]]["resourceType"] == "Organization"
        assert urls[resource["sender"]["reference"]]["resourceType"] == "Organization"


@pytest.mark.parametrize("path", EXAMPLES + sorted((ROOT / "tests" / "data").glob("*.yaml")), ids=lambda p: p.stem)
def test_process_notes_are_bounded_and_split_notes_say_their_part(path: Path) -> None:
    from exchange.issued import NOTE_LIMIT

    bundle, _ = respond(path)
    texts = [n["text"] for n in claim_response(bundle)["processNote"]]
    assert max(map(len, texts)) <= NOTE_LIMIT
    parts = [t for t in texts if t.endswith(")") and " (part " in t]
    for t in parts:
        n, of = t.rsplit(" (part ", 1)[1].rstrip(")").split(" of ")
        assert 1 <= int(n) <= int(of)
