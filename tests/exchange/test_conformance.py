"""Every FHIR document the tool writes, against the profiles it claims (Da Vinci PAS 2.2.1, DTR 2.0.1).

Two checks, each on every output of ``explain --format fhir``, ``batch --format
fhir``, ``fhir bundle`` and ``fhir questionnaire`` on the examples:

* table-backed, always: tests/data/pas-constraints.csv holds, in our own
  words, the constraints of the profiles the outputs depend on (element,
  cardinality, fixed value or required url), evaluated with fhirpathpy;
* package-backed, when the published packages are unpacked in
  $NECESSITY_FHIR_PACKAGES (default ../shared/fhir-packages beside the
  repository; they are not part of it): exchange.conformance checks the whole
  profiles (cardinalities, slices, fixed values, required bindings, reference
  targets, FHIRPath invariants). The IG's own examples must pass it and
  broken copies of them must fail it (its calibration).
"""

from __future__ import annotations

import copy
import csv
import io
import json
from functools import lru_cache
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.deciding.policy import shipped_policies
from exchange.conformance import PACKAGES_ENV, check, fhirpath, load, packages_folder
from exchange.form import library
from exchange.claim import to_bundle
from facts import load_case

pytest.importorskip("fhirpathpy", reason="fhirpathpy (the test extra) evaluates the constraints")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
HAND_WRITTEN = ROOT / "tests" / "data" / "pas-request-multilevel-fusion.json"
#: levels as SNOMED CT body sites, and an item without one (pended, its level asked for by a CommunicationRequest)
SNOMED_LEVELS = ROOT / "tests" / "data" / "pas-request-snomed-levels.json"
PAS = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/"


# ---------------------------------------------------------------------------
# the outputs
# ---------------------------------------------------------------------------


def _run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


@lru_cache(maxsize=1)
def outputs() -> tuple[tuple[str, dict], ...]:
    """(what, document) for every output of the four commands on the examples."""
    out: list[tuple[str, dict]] = []
    for path in [*EXAMPLES, HAND_WRITTEN, SNOMED_LEVELS]:
        out.append((f"explain {path.name}", json.loads(_run("explain", str(path), "--format", "fhir"))))
    for path in EXAMPLES:
        out.append((f"fhir bundle {path.name}", json.loads(_run("fhir", "bundle", str(path)))))
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        requests = Path(tmp) / "requests.ndjson"
        requests.write_text("\n".join(json.dumps(to_bundle(load_case(p))) for p in EXAMPLES) + "\n")
        for n, line in enumerate(_run("batch", str(requests), "--format", "fhir", "--out", "-").splitlines()):
            out.append((f"batch --format fhir line {n + 1}", json.loads(line)))
    for pid in shipped_policies():
        out.append((f"fhir questionnaire --policy {pid}", json.loads(_run("fhir", "questionnaire", "--policy", pid))))
    out.append(("fhir questionnaire --all-fields", json.loads(_run("fhir", "questionnaire", "--all-fields"))))
    return tuple(out)


# ---------------------------------------------------------------------------
# table-backed: our own reading of the profiles
# ---------------------------------------------------------------------------


@lru_cache(maxsize=1)
def constraints() -> tuple[dict[str, str], ...]:
    text = (ROOT / "tests" / "data" / "pas-constraints.csv").read_text(encoding="utf-8")
    lines = "\n".join(line for line in text.splitlines() if line.strip() and not line.startswith("#"))
    return tuple(csv.DictReader(io.StringIO(lines)))


def _kind(resource: dict) -> str:
    if resource.get("resourceType") == "Bundle":  # a PAS response holds a ClaimResponse, a request a Claim
        kinds = {e.get("resource", {}).get("resourceType") for e in resource.get("entry") or []}
        return next((f"Bundle/{k}" for k in ("ClaimResponse", "Claim", "QuestionnaireResponse") if k in kinds), "Bundle")
    return resource.get("resourceType", "")


def _resources(document: dict) -> list[tuple[str, dict]]:
    out = [("", document)]
    if document.get("resourceType") == "Bundle":
        out += [(f"entry[{i}]", e["resource"]) for i, e in enumerate(document.get("entry", [])) if "resource" in e]
    return out


def _eval(node, expression: str, resource: dict) -> list:
    return fhirpath(node, expression, {"resource": resource})


def table_problems(document: dict) -> list[str]:
    """What the document breaks of the constraints table, one line each."""
    problems = []
    for where, resource in _resources(document):
        kind = _kind(resource)
        for row in constraints():
            if row["resource"] != kind:
                continue
            nodes = _eval(resource, row["context"], resource) if row["context"] else [resource]
            for n, node in enumerate(nodes):
                # evaluated from the resource, so that choice elements (content[x], value[x]) keep their types
                got = _eval(resource, f"({row['context']})[{n}].select({row['path']})" if row["context"]
                            else row["path"], resource)
                if not got and row["path"].isidentifier() and isinstance(node, dict) and f"_{row['path']}" in node:
                    got = [node[f"_{row['path']}"]]  # a primitive given by its extensions only (data-absent-reason)
                high = None if row["max"] == "*" else int(row["max"])
                at = f"{where or kind}{'.' + row['context'] + f'[{n}]' if row['context'] else ''}.{row['path']}"
                if len(got) < int(row["min"]) or (high is not None and len(got) > high):
                    problems.append(f"{at}: {len(got)} present, {row['min']}..{row['max']} ({row['source']})")
                allowed = row["values"].split("|") if row["values"] else None
                for value in got if allowed else ():
                    if str(value).lower() if isinstance(value, bool) else value not in allowed:
                        problems.append(f"{at}: {value!r} is not one of {row['values']} ({row['source']})")
    return problems


def test_the_table_covers_every_kind_of_output() -> None:
    kinds = {_kind(r) for _, doc in outputs() for _, r in _resources(doc)}
    covered = {row["resource"] for row in constraints()}
    assert {"Bundle/ClaimResponse", "ClaimResponse", "CommunicationRequest", "Bundle/Claim", "Claim",
            "QuestionnaireResponse", "Questionnaire"} <= kinds & covered


def test_every_output_meets_the_constraints_table() -> None:
    failures = {what: table_problems(doc) for what, doc in outputs()}
    failures = {what: p[:5] for what, p in failures.items() if p}
    assert not failures, json.dumps(failures, indent=1)


def test_the_library_the_questionnaire_names_is_emitted() -> None:
    q = json.loads(_run("fhir", "questionnaire", "--policy", "reference"))
    named = [e["valueCanonical"] for e in q["extension"] if e["url"].endswith("cqf-library")]
    lib = json.loads(_run("fhir", "questionnaire", "--library"))
    assert lib["resourceType"] == "Library" and named == [lib["url"]]


# Broken copies of our own outputs: each one of the defects issue 22 found, put back; the table must catch it.
def _response(doc: dict) -> dict:
    return doc["entry"][0]["resource"]


def _code_as_subextension(doc: dict) -> None:
    for item in _response(doc)["item"]:
        for e in item["adjudication"][0]["extension"][0]["extension"]:
            if e["url"].endswith("reviewActionCode"):
                e["url"] = "code"


def _item_sequence_list(doc: dict) -> None:
    _response(doc)["addItem"] = [{"itemSequence": [3, 4, 5], "productOrService": {"text": "x"},
                                  "adjudication": _response(doc)["item"][0]["adjudication"]}]


BROKEN_RESPONSES = {
    "review action code as a sub-extension 'code'": _code_as_subextension,
    "no Bundle.timestamp": lambda doc: doc.pop("timestamp"),
    "no ClaimResponse.created": lambda doc: _response(doc).pop("created"),
    "addItem.itemSequence [3, 4, 5]": _item_sequence_list,
    "ClaimResponse not first": lambda doc: doc["entry"].append(doc["entry"].pop(0)),
    "two payloads in a CommunicationRequest": lambda doc: next(
        e["resource"] for e in doc["entry"] if e["resource"]["resourceType"] == "CommunicationRequest"
    )["payload"].append({"contentString": "11506-3"}),
}


def _claim(doc: dict) -> dict:
    return doc["entry"][0]["resource"]


def _answers(doc: dict) -> dict:
    return next(e["resource"] for e in doc["entry"] if e["resource"]["resourceType"] == "QuestionnaireResponse")


def _own_code_only(doc: dict) -> None:
    _claim(doc)["item"][0]["productOrService"] = {"coding": [{"system": "urn:necessity:service", "code": "fusion"}]}


BROKEN_REQUESTS = {
    "an item without location": lambda doc: _claim(doc)["item"][0].pop("locationCodeableConcept"),
    "urn:necessity:service|fusion alone": _own_code_only,
    "no requestType extension": lambda doc: _claim(doc)["item"][0].pop("extension"),
    "documentation without its context": lambda doc: _answers(doc).pop("extension"),
    "documentation without authored": lambda doc: _answers(doc).pop("authored"),
    "an answer without its origin": lambda doc: next(i for i in _answers(doc)["item"] if "answer" in i)["answer"][0].pop(
        "extension"),
    "no Bundle.timestamp": lambda doc: doc.pop("timestamp"),
}


@pytest.mark.parametrize("name", sorted(BROKEN_RESPONSES))
def test_the_table_catches_a_broken_response(name: str) -> None:
    doc = json.loads(_run("explain", str(ROOT / "examples" / "source-003.yaml"), "--format", "fhir"))
    assert not table_problems(doc)
    BROKEN_RESPONSES[name](doc)
    assert table_problems(doc), name


@pytest.mark.parametrize("name", sorted(BROKEN_REQUESTS))
def test_the_table_catches_a_broken_request(name: str) -> None:
    doc = json.loads(_run("fhir", "bundle", str(ROOT / "examples" / "source-002.yaml")))
    assert not table_problems(doc)
    BROKEN_REQUESTS[name](doc)
    assert table_problems(doc), name


# ---------------------------------------------------------------------------
# package-backed: the published profiles themselves
# ---------------------------------------------------------------------------


def _packages():
    folder = packages_folder(ROOT)
    if not folder.is_dir() or not any(folder.glob("**/StructureDefinition-*.json")):
        pytest.skip(f"the Da Vinci PAS 2.2.1 and DTR 2.0.1 packages are not in {folder}: unpack their package JSON "
                    f"there (or name the folder in ${PACKAGES_ENV}) to check the outputs against the profiles")
    return load(str(folder))


def _examples() -> list[Path]:
    folder = packages_folder(ROOT)
    return sorted(p for p in folder.glob("*/package/example/*.json")
                  if json.loads(p.read_text()).get("resourceType") in (
                      "Bundle", "Claim", "ClaimResponse", "CommunicationRequest", "Questionnaire",
                      "QuestionnaireResponse"))


def test_every_output_passes_the_published_profiles() -> None:
    packages = _packages()
    failures = {}
    for what, doc in outputs():
        report = check(doc, packages)
        assert report.checked["profile"] >= 1, f"{what}: no profile of the packages was checked"
        if not report.ok:
            failures[what] = [str(p) for p in report.problems[:5]]
    assert not failures, json.dumps(failures, indent=1)


def test_the_igs_own_examples_pass() -> None:
    packages = _packages()
    examples = _examples()
    assert examples, f"no IG example in {packages_folder(ROOT)}/*/package/example/"
    failures = {p.name: [str(x) for x in check(json.loads(p.read_text()), packages).problems[:3]] for p in examples}
    assert not {k: v for k, v in failures.items() if v}


def _ig(name: str) -> dict:
    path = next((p for p in _examples() if p.name == name), None)
    if path is None:
        pytest.skip(f"{name} is not among the IG examples in {packages_folder(ROOT)}")
    return json.loads(path.read_text())


def _ig_response_item(doc: dict) -> dict:
    return next(e["resource"] for e in doc["entry"] if e["resource"]["resourceType"] == "ClaimResponse")["item"][0]


def _ig_review(doc: dict) -> list:
    return _ig_response_item(doc)["adjudication"][0]["extension"][0]["extension"]


def _ig_claim(doc: dict) -> dict:
    return next(e["resource"] for e in doc["entry"] if e["resource"]["resourceType"] == "Claim")


def _first_answer(items: list[dict]) -> dict:
    for item in items:
        if item.get("answer"):
            return item["answer"][0]
        if item.get("item"):
            return _first_answer(item["item"])
    raise AssertionError("no answer")


IG_BROKEN = {
    ("Bundle-ReferralAuthorizationResponseBundleExample.json", "review action code as sub-extension 'code'"):
        lambda d: [e.update(url="code") for e in _ig_review(d) if e["url"].endswith("reviewActionCode")],
    ("Bundle-ReferralAuthorizationResponseBundleExample.json", "no timestamp"): lambda d: d.pop("timestamp"),
    ("Bundle-ReferralAuthorizationResponseBundleExample.json", "ClaimResponse not first"):
        lambda d: d["entry"].append(d["entry"].pop(0)),
    ("Bundle-ReferralAuthorizationResponseBundleExample.json", "type batch"): lambda d: d.update(type="batch"),
    ("Bundle-ReferralAuthorizationResponseBundleExample.json", "no itemSequence"):
        lambda d: _ig_response_item(d).pop("itemSequence"),
    ("Bundle-ReferralAuthorizationResponseBundleExample.json", "adjudication category not submitted"):
        lambda d: _ig_response_item(d)["adjudication"][0]["category"]["coding"][0].update(code="eligible"),
    ("Bundle-ReferralAuthorizationResponseBundleExample.json", "outcome outside its value set"):
        lambda d: d["entry"][0]["resource"].update(outcome="queued"),
    ("Bundle-ReferralAuthorizationResponseBundleExample.json", "patient a Coverage"):
        lambda d: d["entry"][0]["resource"].update(patient={"reference": next(
            e["fullUrl"] for e in d["entry"] if e["resource"]["resourceType"] in ("Organization", "Coverage"))}),
    ("Bundle-SurgicalRequestBundleExample.json", "item without location"):
        lambda d: [i.pop(k) for i in _ig_claim(d)["item"] for k in list(i) if k.startswith("location")],
    ("Bundle-SurgicalRequestBundleExample.json", "item code outside the bound value set"):
        lambda d: _ig_claim(d)["item"][0].update(productOrService={"coding": [
            {"system": "urn:necessity:service", "code": "fusion"}]}),
    ("Bundle-SurgicalRequestBundleExample.json", "no requestType extension"):
        lambda d: _ig_claim(d)["item"][0].update(extension=[
            e for e in _ig_claim(d)["item"][0]["extension"] if not e["url"].endswith("serviceItemRequestType")]),
    ("Bundle-SurgicalRequestBundleExample.json", "use claim"): lambda d: _ig_claim(d).update(use="claim"),
    ("Bundle-SurgicalRequestBundleExample.json", "no Claim.created"): lambda d: _ig_claim(d).pop("created"),
    ("Bundle-SurgicalRequestBundleExample.json", "no identifier"): lambda d: d.pop("identifier"),
    ("CommunicationRequest-CommunicationRequestExample.json", "status draft"): lambda d: d.update(status="draft"),
    ("CommunicationRequest-CommunicationRequestExample.json", "two payloads"):
        lambda d: d["payload"].append(copy.deepcopy(d["payload"][0])),
    ("Bundle-home-o2-questionnaireresponse-bundle.json", "documentation without authored"):
        lambda d: d["entry"][0]["resource"].pop("authored"),
    ("Bundle-home-o2-questionnaireresponse-bundle.json", "an answer without its origin"):
        lambda d: _first_answer(d["entry"][0]["resource"]["item"]).pop("extension"),
    ("Questionnaire-home-o2-std-questionnaire.json", "no narrative"): lambda d: d.pop("text"),
    ("Questionnaire-home-o2-std-questionnaire.json", "no url"): lambda d: d.pop("url"),
    ("Questionnaire-home-o2-std-questionnaire.json", "a nested item without its linkId"):
        lambda d: next(i for i in d["item"] if i.get("item"))["item"][0].pop("linkId"),
}


@pytest.mark.parametrize("case", sorted(IG_BROKEN), ids=lambda c: f"{c[0].split('-')[1][:24]}: {c[1]}")
def test_a_broken_copy_of_an_ig_example_fails(case: tuple[str, str]) -> None:
    packages = _packages()
    doc = _ig(case[0])
    assert check(doc, packages).ok, f"{case[0]} itself should pass"
    IG_BROKEN[case](doc)
    report = check(doc, packages)
    assert not report.ok, f"{case[0]} with {case[1]} passed"


# ---------------------------------------------------------------------------
# the IG's own requests, answered (read from the packages at test time, never copied)
# ---------------------------------------------------------------------------


def _ig_requests() -> list[Path]:
    """The IG's request Bundles: a Claim first, for prior authorization (a submission, an update, an inquiry)."""
    out = []
    for path in _examples():
        doc = json.loads(path.read_text())
        first = (doc.get("entry") or [{}])[0].get("resource", {})
        if doc.get("resourceType") == "Bundle" and first.get("resourceType") == "Claim" \
                and first.get("use") == "preauthorization":
            out.append(path)
    return out


def _review_action_codes(doc: dict) -> dict[int, list[str]]:
    """Each answered Claim item's review action codes, found as a PAS client finds them: by the full url."""
    response = doc["entry"][0]["resource"]
    assert response["resourceType"] == "ClaimResponse"
    return {item["itemSequence"]: [e["valueCodeableConcept"]["coding"][0]["code"]
                                   for a in item["adjudication"] for r in a.get("extension", [])
                                   if r["url"] == PAS + "extension-reviewAction"
                                   for e in r["extension"] if e["url"] == PAS + "extension-reviewActionCode"]
            for item in response["item"]}


def _answer(path: Path) -> dict:
    result = CliRunner().invoke(main, ["explain", str(path), "--format", "fhir"])
    assert result.exit_code == 0, f"{path.name} was refused: {result.output}"
    return json.loads(result.stdout)


def test_the_igs_own_requests_are_answered_and_their_responses_pass() -> None:
    """Every one of the IG's request Bundles was refused (issue 22); each is answered, item by item."""
    packages = _packages()
    requests = _ig_requests()
    assert len(requests) >= 6, [p.name for p in requests]
    failures = {}
    for path in requests:
        doc = _answer(path)
        claim = json.loads(path.read_text())["entry"][0]["resource"]
        codes = _review_action_codes(doc)
        assert set(codes) == {i["sequence"] for i in claim["item"]} and all(len(c) == 1 for c in codes.values()), \
            (path.name, codes)
        report = check(doc, packages)
        if not report.ok:
            failures[path.name] = [str(p) for p in report.problems[:5]]
    assert not failures, json.dumps(failures, indent=1)


@pytest.mark.parametrize("site", [None, {"text": "L4-L5"}, {"coding": [
    {"system": "http://snomed.info/sct", "code": "84020006", "display": "L4/L5 disc"}]}], ids=["no body site", "text", "snomed"])
def test_the_lumbar_adaptation_of_the_igs_surgical_example_is_answered(tmp_path: Path, site: dict | None) -> None:
    """The IG's surgical request with its item made 63047 + 22630 (HCPCS system, as the IG sends CPT codes): refused
    with no body site and with the text L4-L5. Decided at L4-L5 when a body site says so; else pended, the level
    asked for item by item."""
    packages = _packages()
    doc = _ig("Bundle-SurgicalRequestBundleExample.json")
    claim = _ig_claim(doc)
    first = claim["item"][0]
    claim["item"] = []
    for sequence, code in ((1, "63047"), (2, "22630")):
        item = copy.deepcopy(first)
        item["sequence"] = sequence
        item["productOrService"] = {"coding": [{"system": "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
                                                "code": code}]}
        if site is not None:
            item["bodySite"] = site
        claim["item"].append(item)
    path = tmp_path / "lumbar-surgical.json"
    path.write_text(json.dumps(doc))
    answered = _answer(path)
    codes = _review_action_codes(answered)
    assert set(codes) == {1, 2} and all(len(c) == 1 for c in codes.values()), codes
    report = check(answered, packages)
    assert report.ok, [str(p) for p in report.problems[:5]]
    text = json.dumps(answered)
    asked = [e["resource"] for e in answered["entry"] if e["resource"]["resourceType"] == "CommunicationRequest"
             and "the spinal level of Claim item" in json.dumps(e["resource"])]
    if site is None:
        assert {c for cs in codes.values() for c in cs} == {"A4"}
        assert sorted(e["valuePositiveInt"] for c in asked for e in c["extension"]) == [1, 2]
    else:
        assert not asked and "L4-L5 (decompression requested)" in text and "L4-L5 (fusion requested)" in text


def test_library_is_a_valid_resource() -> None:
    from exchange.bundle import validate

    validate(library(), "Library")
