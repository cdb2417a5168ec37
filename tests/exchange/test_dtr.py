"""The DTR Questionnaire an EHR can fill, and the CQL library that prepopulates it (issue 22, point 15).

The CQL is our own and is not run here (the project has no CQL engine): these
tests check that the Questionnaire names it, that every initialExpression
names a define the library holds, and the items the decision reads beside the
policy (the study dates, the request date).
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

from engine.deciding.policy import load, shipped_policies
from exchange.documents import full_questionnaire, questionnaire
from exchange.form import LIBRARY_URL, library, read
from exchange.bundle import validate

ROOT = Path(__file__).resolve().parents[2]


def _items(items: list[dict]) -> list[dict]:
    out = []
    for item in items:
        out.append(item)
        out += _items(item.get("item", []))
    return out


def _by_link(q: dict) -> dict[str, dict]:
    return {i["linkId"]: i for i in _items(q["item"])}


def _expressions(item: dict) -> list[str]:
    return [e["valueExpression"]["expression"] for e in item.get("extension", [])
            if e["url"].endswith("sdc-questionnaire-initialExpression")]


def test_the_questionnaire_names_its_launch_context_and_library() -> None:
    q = questionnaire(load("reference"))
    urls = {e["url"].rsplit("/", 1)[-1]: e for e in q["extension"]}
    assert urls["cqf-library"]["valueCanonical"] == LIBRARY_URL == library()["url"]
    context = {e["url"]: e for e in urls["sdc-questionnaire-launchContext"]["extension"]}
    assert context["name"]["valueCoding"]["code"] == "patient" and context["type"]["valueCode"] == "Patient"
    assert q["text"]["div"].startswith('<div xmlns="http://www.w3.org/1999/xhtml">')


def test_items_carry_their_code_where_one_exists() -> None:
    items = _by_link(full_questionnaire())
    assert items["history.smoking.status"]["code"][0]["code"] == "72166-2"
    assert items["history.diabetes.hba1c_pct"]["code"][0]["code"] == "4548-4"  # from observations.csv
    assert items["history.diabetes.present"]["code"][0]["system"] == "http://snomed.info/sct"
    assert "code" not in items["imaging[].levels[].stenosis[].grade"]  # none invented


def test_every_initial_expression_names_a_define_of_the_library() -> None:
    cql = base64.b64decode(library()["content"][0]["data"]).decode()
    assert re.search(r"^library LumbarSpinePrepopulation version '[\d.]+'$", cql, re.M)
    assert "using FHIR version '4.0.1'" in cql and "context Patient" in cql
    defines = set(re.findall(r'^define "([^"]+)":', cql, re.M))
    used = {e for pid in shipped_policies() for item in _items(questionnaire(load(pid))["item"])
            for e in _expressions(item)}
    used |= {e for item in _items(full_questionnaire()["item"]) for e in _expressions(item)}
    assert len(used) >= 6
    for expression in used:
        library_name, define = re.fullmatch(r'"(\w+)"\."([^"]+)"', expression).groups()
        assert library_name == "LumbarSpinePrepopulation" and define in defines, expression
    validate(library(), "Library")


def test_every_item_says_what_it_asks() -> None:
    for pid in shipped_policies():
        for item in _items(questionnaire(load(pid))["item"]):
            assert item.get("text"), (pid, item["linkId"])


def test_the_questionnaire_asks_what_the_core_reads_beside_the_policy() -> None:
    """Two studies that disagree are settled by their dates (engine/deciding/core.lp): the form asks for them."""
    for pid in shipped_policies():
        items = _by_link(questionnaire(load(pid)))
        assert "imaging[].date" in items, pid
        assert _expressions(items["imaging[].date"])
        date = items["request.date"]
        assert date["readOnly"] is True and date["type"] == "date" and _expressions(date)


def test_an_answer_to_the_read_only_request_date_is_not_reported_as_unknown() -> None:
    from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponseItem

    items = [QuestionnaireResponseItem.model_validate({"linkId": "request.date", "answer": [{"valueDate": "2025-11-17"}]})]
    record, reader = read(items, "QuestionnaireResponse")
    assert reader.unknown == [] and "date" not in record.get("request", {})


# ---------------------------------------------------------------------------
# the request `necessity fhir bundle` writes (issue 22, point 14)
# ---------------------------------------------------------------------------

DTR = "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/"


def _written(name: str) -> dict:
    from exchange.claim import to_bundle
    from facts import load_case

    return to_bundle(load_case(ROOT / "examples" / f"{name}.yaml"))


def test_every_claim_item_has_a_location_and_a_code_of_the_bound_value_set() -> None:
    public = {"https://codesystem.x12.org/005010/1365", "http://www.ama-assn.org/go/cpt",
              "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets", "http://www.cms.gov/Medicare/Coding/ICD10"}
    own = 0
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        claim = _written(path.stem)["entry"][0]["resource"]
        for item in claim["item"]:
            assert item["locationCodeableConcept"]["coding"], (path.stem, item["sequence"])
            systems = [c["system"] for c in item["productOrService"]["coding"]]
            assert set(systems) & public, (path.stem, item["sequence"], systems)
            own += any(s.startswith("urn:necessity:") for s in systems)
    assert own, "no example uses one of the project's own codes: the test shows nothing"


def test_the_documentation_carries_the_dtr_elements() -> None:
    bundle = _written("source-002")
    urls = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    answers = next(r for r in urls.values() if r["resourceType"] == "QuestionnaireResponse")
    contexts = [e["valueReference"]["reference"] for e in answers["extension"] if e["url"] == DTR + "qr-context"]
    assert sorted(urls[c]["resourceType"] for c in contexts) == ["Coverage", "ServiceRequest"]
    assert [e for e in answers["extension"] if e["url"] == DTR + "intendedUse"]
    assert answers["authored"] == "2025-11-17"
    every = [a for item in _items(answers["item"]) for a in item.get("answer", [])]
    assert every
    for answer in every:
        (origin,) = [e for e in answer["extension"] if e["url"] == DTR + "information-origin"]
        parts = {e["url"]: e for e in origin["extension"]}
        assert parts["source"]["valueCode"] == "manual"
        author = parts["author"]["extension"][0]["valueReference"]["reference"]
        assert urls[author]["resourceType"] == "Practitioner"
    assert "authored" not in next(e["resource"] for e in _written("source-001")["entry"]
                                  if e["resource"]["resourceType"] == "QuestionnaireResponse")
