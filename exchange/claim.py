"""A case record as a Da Vinci PAS request Bundle (``necessity fhir bundle``), and its DTR documentation.

The Claim (profile-claim) requests each level's services and each item by its
code (exchange/data/procedures.csv), at its level (body-sites.csv), in its
setting (places-of-service.csv: every item carries ``location``, 1..1 in PAS;
POS 99 when the record states no setting); an inpatient stay is requested by
an admission item (X12 request type AR), never by the place of service alone.
A code of this project's own vocabulary (``urn:necessity:service``) is only
written beside the public X12 service type the PAS value set binds.

The documentation is a QuestionnaireResponse of the DTR profile: its context
(the Coverage and the ServiceRequest of the planned surgery), its intended use
(with prior authorization), when it was authored (the request date), and the
origin of every answer (entered by hand: ``manual``, by the requesting
clinician).  Structured measurements are Observations (observations.csv).

exchange.request reads what this writes back into the same case record.
"""

from __future__ import annotations

from typing import Any

from exchange import form
from exchange.bundle import full_url, plain
from exchange.issued import decision_time
from exchange.request import (CASE_SYSTEM, CERTIFICATION_EXT, CLAIM_TYPE, DATA_ABSENT, DOCUMENT_INFORMATION,
                              FULL_QUESTIONNAIRE, PAS_TEMP_CODES, REQUEST_TYPE_EXT, X12_CERTIFICATION,
                              X12_REPORT_TYPE, X12_REQUEST_TYPE, X12_SERVICE_TYPE, Request, _admits, _coding,
                              _default, _id, _values, from_bundle)
from exchange.tables import Row, table
from facts.model import Case

PAS = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/"
DTR = "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/"
PROFILES = {"Bundle": PAS + "profile-pas-request-bundle", "Claim": PAS + "profile-claim",
            "QuestionnaireResponse": DTR + "dtr-questionnaireresponse"}
#: The X12 service type every item of a spine surgery request is (Claim.item.category), and the public
#: code written beside one of this project's own codes in productOrService (its bound value set lists X12 1365).
SURGICAL = {"system": X12_SERVICE_TYPE, "code": "2", "display": "Surgical"}
OWN = "urn:necessity:"
#: Why the documentation is sent (DTR intendedUse, the CRD DocReason value set): with the prior authorization.
WITH_PA = {"system": "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp", "code": "withpa",
           "display": "Include with PA"}


def _procedure_for(service: str, value: str | None) -> Row:
    """The first row that stands for ``value`` by default, else the first that admits it."""
    rows = [r for r in table("procedures") if r["service"] == service]
    for r in rows:
        if _default(r) == value and (value is not None or _values(r) == ["*"]):
            return r
    for r in rows:
        if value is not None and _admits(r, value) and _values(r) != ["*"]:
            return r
    return next(r for r in rows if _values(r) == ["*"] or (value is not None and _admits(r, value)))


def _item_row(item: str, source: str | None) -> Row:
    key = f"{item}:{source}" if source else item
    rows = [r for r in table("procedures") if r["service"] == "item"]
    return next((r for r in rows if r["values"] == key), None) or next(r for r in rows if r["values"] == item)


def _first(name: str, column: str, value: str) -> Row:
    return next(r for r in table(name) if r[column] == value)


def _service(row: Row) -> dict[str, Any]:
    """productOrService: the row's code; one of this project's own beside the public X12 service type."""
    codings = [_coding(row)]
    if row["system"].startswith(OWN):
        codings.append(SURGICAL)
    return {"coding": codings}


# ---------------------------------------------------------------------------
# a case record to a request Bundle
# ---------------------------------------------------------------------------


def _item(sequence: int, row: Row, level: str | None, location: dict, modifier: Row | None,
          admission: bool = False) -> dict[str, Any]:
    item: dict[str, Any] = {
        "extension": [
            {"url": REQUEST_TYPE_EXT, "valueCodeableConcept": {"coding": [
                {"system": X12_REQUEST_TYPE, "code": "AR" if admission else "HS",
                 "display": "Admission Review" if admission else "Health Services Review"}]}},
            {"url": CERTIFICATION_EXT, "valueCodeableConcept": {"coding": [
                {"system": X12_CERTIFICATION, "code": "I", "display": "Initial"}]}},
        ],
        "sequence": sequence,
        "category": {"coding": [SURGICAL]},
        "productOrService": _service(row),
    }
    if modifier is not None:
        item["modifier"] = [{"coding": [_coding(modifier)]}]
    item["locationCodeableConcept"] = location
    if level is not None:
        site = _first("body-sites", "level", level)
        item["bodySite"] = {"coding": [_coding(site)]}
    return item


def _without_links(items: list[dict[str, Any]], links: set[str]) -> list[dict[str, Any]]:
    out = []
    for item in items:
        if item["linkId"] in links:
            continue
        if "item" in item:
            inner = _without_links(item["item"], links)
            item = {**item, "item": inner}
            if not inner:
                item.pop("item")
        out.append(item)
    return out


def _get(case: Case, path: str) -> Any:
    value: Any = case
    for part in path.split("."):
        value = getattr(value, part, None)
        if value is None:
            return None
    return value


def to_bundle(case: Case) -> dict[str, Any]:
    """A PAS request Bundle for a case record: the Claim, the documentation, the resources they reference."""
    cid = case.case
    urls = {role: full_url(cid, role) for role in ("claim", "patient", "insurer", "provider", "coverage", "answers",
                                                   "order", "clinician")}
    req = case.request
    # Claim.item.location is 1..1 in PAS: the setting's place of service, or the row that requests none.
    location = {"coding": [_coding(_first("places-of-service", "setting", req.setting.value if req.setting else ""))]}
    items: list[dict[str, Any]] = []

    def add(row: Row, level: str | None = None, modifier: Row | None = None, admission: bool = False) -> None:
        items.append(_item(len(items) + 1, row, level, location, modifier, admission))

    for lv in req.levels:
        if lv.decompression is not None:
            technique = lv.decompression.technique
            add(_procedure_for("decompression", technique.value if technique else None), lv.level)
        if lv.fusion is not None:
            approaches = [a.value for a in lv.fusion.approaches]
            for approach in approaches or [None]:
                add(_procedure_for("fusion", approach), lv.level)
            if lv.fusion.instrumentation:
                add(_procedure_for("instrumentation", "yes"), lv.level)
    for it in req.items:
        modifier = _first("modifiers", "side", it.side.value) if it.side is not None else None
        add(_item_row(it.item.value, it.source.value if it.source else None), it.level, modifier)
    if req.setting is not None and req.setting.value == "inpatient":
        add(_first("procedures", "service", "admission"), admission=True)

    observations = []
    observed: set[str] = set()
    for row in table("observations"):
        value = _get(case, row["field"])
        if value is None or row["field"] in observed:
            continue
        observed.add(row["field"])
        quantity: dict[str, Any] = {"value": value}
        if row["unit"]:
            quantity.update(unit=row["unit"], system="http://unitsofmeasure.org", code=row["unit"])
        observations.append({
            "resourceType": "Observation",
            "id": f"{_id(cid)}-{row['code']}",
            "status": "final",
            "code": {"coding": [_coding(row)]},
            "subject": {"reference": urls["patient"]},
            "valueQuantity": quantity,
        })
    answers = _with_origin(_without_links(form.answers(case), observed), urls["clinician"])
    response: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": f"{_id(cid)}-documentation",
        "meta": {"profile": [PROFILES["QuestionnaireResponse"]]},
        "extension": [{"url": DTR + "qr-context", "valueReference": {"reference": urls["coverage"]}},
                      {"url": DTR + "qr-context", "valueReference": {"reference": urls["order"]}},
                      {"url": DTR + "intendedUse", "valueCodeableConcept": {"coding": [WITH_PA]}}],
        "questionnaire": FULL_QUESTIONNAIRE,
        "status": "completed",
        "subject": {"reference": urls["patient"]},
        **_authored(case),
        "item": answers,
    }
    supporting = [{
        "extension": [{"url": DOCUMENT_INFORMATION, "extension": [{"url": "reportTypeCode", "valueCodeableConcept": {
            "coding": [{"system": X12_REPORT_TYPE, "code": "PY", "display": "Physician's Report"}]}}]}],
        "sequence": n + 1,
        "category": {"coding": [{"system": PAS_TEMP_CODES, "code": "additionalInformation"}]},
        "valueReference": {"reference": url},
    } for n, url in enumerate([urls["answers"]] + [full_url(cid, o["id"]) for o in observations])]
    inpatient = req.setting is not None and req.setting.value == "inpatient"
    claim: dict[str, Any] = {
        "resourceType": "Claim",
        "id": _id(cid),
        "meta": {"profile": [PROFILES["Claim"]]},
        "identifier": [{"system": CASE_SYSTEM, "value": cid}],
        "status": "active",
        "type": {"coding": [{"system": CLAIM_TYPE, "code": "institutional" if inpatient else "professional"}]},
        "use": "preauthorization",
        "patient": {"reference": urls["patient"]},
        "insurer": {"reference": urls["insurer"]},
        "provider": {"reference": urls["provider"]},
        "priority": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority", "code": "normal"}]},
        "supportingInfo": supporting,
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": urls["coverage"]}}],
        "item": items,
    }
    if req.date is not None:
        claim["created"] = str(req.date)
    else:
        claim["_created"] = {"extension": [{"url": DATA_ABSENT, "valueCode": "unknown"}]}
    entries = [
        (urls["claim"], claim),
        (urls["patient"], {"resourceType": "Patient", "id": f"{_id(cid)}-patient",
                           "identifier": [{"system": CASE_SYSTEM, "value": cid}]}),
        (urls["insurer"], {"resourceType": "Organization", "id": f"{_id(cid)}-insurer", "name": "Payer (not named by the case record)"}),
        (urls["provider"], {"resourceType": "Organization", "id": f"{_id(cid)}-provider", "name": "Requesting provider (not named by the case record)"}),
        (urls["coverage"], {"resourceType": "Coverage", "id": f"{_id(cid)}-coverage", "status": "active",
                            "beneficiary": {"reference": urls["patient"]}, "payor": [{"reference": urls["insurer"]}]}),
        (urls["answers"], response),
        (urls["order"], {"resourceType": "ServiceRequest", "id": f"{_id(cid)}-order", "status": "active",
                         "intent": "order", "code": items[0]["productOrService"], "subject": {"reference": urls["patient"]},
                         "requester": {"reference": urls["provider"]}}),
        (urls["clinician"], {"resourceType": "Practitioner", "id": f"{_id(cid)}-clinician",
                             "name": [{"text": "Requesting clinician (not named by the case record)"}]}),
    ] + [(full_url(cid, o["id"]), o) for o in observations]
    bundle = {
        "resourceType": "Bundle",
        "meta": {"profile": [PROFILES["Bundle"]]},
        "identifier": {"system": CASE_SYSTEM, "value": cid},
        "type": "collection",
        # Bundle.timestamp is 1..1: when the Bundle is written (now, or $NECESSITY_DECISION_TIME), whatever the
        # request date says (it may be known to the month only, or not at all).
        "timestamp": decision_time(),
        "entry": [{"fullUrl": url, "resource": resource} for url, resource in entries],
    }
    return plain(bundle)


def _authored(case: Case) -> dict[str, Any]:
    """QuestionnaireResponse.authored (1..1 in DTR): the request date, or a data-absent-reason when there is none."""
    if case.request.date is not None:
        return {"authored": str(case.request.date)}
    return {"_authored": {"extension": [{"url": DATA_ABSENT, "valueCode": "unknown"}]}}


def _with_origin(items: list[dict[str, Any]], clinician: str) -> list[dict[str, Any]]:
    """Every answer with its DTR information-origin: entered by hand (``manual``) by the requesting clinician."""
    origin = {"url": DTR + "information-origin", "extension": [
        {"url": "source", "valueCode": "manual"},
        {"url": "author", "extension": [{"url": "practitioner", "valueReference": {"reference": clinician}}]}]}
    out = []
    for item in items:
        item = dict(item)
        if "answer" in item:
            item["answer"] = [{"extension": [origin], **a} for a in item["answer"]]
        if "item" in item:
            item["item"] = _with_origin(item["item"], clinician)
        out.append(item)
    return out




def for_case(case: Case) -> Request:
    """The request a case record stands for, read back from the Bundle ``to_bundle`` writes."""
    return from_bundle(to_bundle(case), case.case)
