"""A Da Vinci PAS request Bundle to a case record (exchange.claim writes one for a case record).

The Claim (``use = preauthorization``) says what is requested (read by
``exchange.requested``: codes, levels, sides, the inpatient setting);
``Claim.created`` is the request date.  The QuestionnaireResponses and
Observations document the rest (read by ``exchange.evidence``), and refine
what a code leaves open (22630 is TLIF or PLIF; the answer to
``request.levels[].fusion.approaches`` says which).  The JSON text is read
strictly first (``exchange.strict``: duplicate keys, exact decimals, limits).
What no row maps is reported, never dropped: a warning, and the item goes to
manual review.  A request nothing of which the policy can decide (services
outside it, an inquiry) is still answered: ``Request.case`` is None and every
item is pended (``undecided``).

The engine sees none of this: the result is the same ``Case`` a case file gives.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from engine.deciding.decision import Decision, Notice, PolicyRef
from exchange import form
from exchange.bundle import BundleError, known_type, as_json, full_url, plain, resource_id, validate
from exchange.requested import REQUEST_TYPE_EXT, ClaimItem, Reading, is_inquiry, merge_request, place, read_items
from exchange.evidence import Targets, read_answers, read_observations, to_case
from exchange.strict import Refused, check, loads
from exchange.tables import Row, table
from facts.model import Case

CASE_SYSTEM = "urn:necessity:case"
PAS_TEMP_CODES = "http://hl7.org/fhir/us/davinci-pas/CodeSystem/PASTempCodes"
X12_REQUEST_TYPE = "https://codesystem.x12.org/005010/1525"
X12_CERTIFICATION = "https://codesystem.x12.org/005010/1322"
X12_SERVICE_TYPE = "https://codesystem.x12.org/005010/1365"
X12_REPORT_TYPE = "https://codesystem.x12.org/005010/755"
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
DATA_ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
DOCUMENT_INFORMATION = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-documentInformation"
CERTIFICATION_EXT = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-certificationType"
FULL_QUESTIONNAIRE = "urn:necessity:questionnaire:case-record"


@dataclass(frozen=True)
class Request:
    """What the response needs of the request: its items and the resources it must echo."""

    #: the case record the engine decides; None when no item of the request is one the policy decides
    #: (every item is then pended: ``undecided`` gives the decision to answer it with)
    case: Case | None
    claim_url: str
    claim_identifier: dict[str, Any] | None
    claim_type: dict[str, Any]
    created: str | None
    patient: dict[str, Any]
    insurer: dict[str, Any]
    requestor: dict[str, Any] | None
    items: tuple[ClaimItem, ...]
    echo: tuple[tuple[str, dict[str, Any]], ...] = ()  # (fullUrl, resource) the response references
    warnings: tuple[str, ...] = field(default=())
    #: the warnings as notices of the decision, so that every rendering reports them (docs/fhir.md)
    notices: tuple[Notice, ...] = field(default=())
    #: a PAS inquiry ($inquire: PASClaimInquiry) about authorizations already given, not a submission
    inquiry: bool = False


# ---------------------------------------------------------------------------
# the mapping tables, read as this module needs them
# ---------------------------------------------------------------------------


def _values(row: Row) -> list[str]:
    return row["values"].split()


def _default(row: Row) -> str | None:
    first = _values(row)[0]
    return None if first == "*" else first


def _admits(row: Row, value: str) -> bool:
    values = _values(row)
    return "*" in values or any(value in v.split("+") for v in values)


def _coding(row: Row) -> dict[str, Any]:
    return {"system": row["system"], "code": row["code"], "display": row["display"]}


def _id(case_id: str) -> str:
    """The id of a resource made for a case: room is left for a suffix (``-documentation``)."""
    return resource_id(case_id, 48)


# ---------------------------------------------------------------------------
# a request Bundle to a case record
# ---------------------------------------------------------------------------


def _text(value: Any) -> str:
    """A FHIR date or dateTime as written: the models parse full ones into Python dates."""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _date(created: Any) -> str:
    """The request date: the calendar day (or month) of Claim.created."""
    text = _text(created)
    return text[:10] if "T" in text else text


def from_bundle(data: Any, source: str) -> Request:
    """The case record of a PAS request Bundle, and what the response needs of the request."""
    if isinstance(data, dict) and data.get("resourceType") != "Bundle" and known_type(data.get("resourceType")):
        raise BundleError(source, [("resourceType", f"a {data['resourceType']} on its own, not a Bundle: a PAS "
                                                    "request is a Bundle (type collection) whose first entry is the "
                                                    "Claim")])
    try:
        check(data)
    except Refused as exc:
        raise BundleError(source, exc.problems) from None
    bundle = validate(data, source)
    r = Reading(source)
    if bundle.type != "collection":
        r.problems.append(("Bundle.type", f"'{bundle.type}': a PAS request Bundle is a collection: set type to collection"))
    claims = [i for i, e in enumerate(bundle.entry or []) if e.resource is not None
              and e.resource.get_resource_type() == "Claim"]
    if not claims or claims[0] != 0:
        raise BundleError(source, [("Bundle.entry[0].resource", "a PAS request Bundle starts with its Claim: put the Claim first")])
    if len(claims) > 1:
        r.warn(f"Bundle.entry[{claims[1]}].resource", "a second Claim (a PAS update?) is not read: only the first is decided")
    claim = bundle.entry[0].resource
    at = "Bundle.entry[0].resource"
    if claim.use != "preauthorization":
        r.problems.append((f"{at}.use", f"'{claim.use}': a prior-authorization request has use preauthorization"))
    if claim.modifierExtension:
        r.problems.append((f"{at}.modifierExtension[0]", f"{claim.modifierExtension[0].url}: a modifier extension this "
                                                          "reader does not understand changes what the Claim means: "
                                                          "it is not read without it"))
    inquiry = is_inquiry(bundle, claim)
    targets = Targets(bundle)
    request: dict[str, Any] = {}
    if claim.created is not None:
        request["date"] = _date(claim.created)

    read = read_items(claim, at, r)
    doc = read_answers(bundle, claim, targets, r)
    documented = doc.answers.pop("request", {}) if isinstance(doc.answers.get("request"), dict) else {}
    placed = place(read, documented.get("levels", []) if isinstance(documented.get("levels"), list) else [], r)
    placed.origin.setdefault("request.date", f"{at}.created")
    if len(read.settings) > 1:
        (a, wa), (b, wb) = list(read.settings.items())[:2]
        r.problems.append((wb, f"asks for an {b} setting, while {wa} asks for {a}: one request has one setting"))
    elif read.settings:
        request["setting"] = next(iter(read.settings))
        placed.origin["request.setting"] = next(iter(read.settings.values()))
    decided = bool(placed.levels) and not inquiry
    if decided:
        merge_request(documented, placed.levels, placed.rows, request, doc.reader, r)
        request["levels"] = list(placed.levels.values())
        if placed.case_items:
            request["items"] = placed.case_items
        read_observations(bundle, claim, targets, claim.created, doc.answers, doc.reader, r)
    if r.problems:
        raise BundleError(source, r.problems)

    identifier = next((as_json(i) for i in claim.identifier or [] if i.system == CASE_SYSTEM), None)
    if identifier is None and claim.identifier:
        identifier = as_json(claim.identifier[0])
    case_id = (identifier or {}).get("value") or claim.id or (bundle.identifier.value if bundle.identifier else None) or "claim"
    case = to_case({"case": case_id, "request": request, **doc.answers}, source, doc.reader, placed.origin) if decided else None
    items = placed.items
    why = None
    if inquiry:
        why = ("the request is a PAS inquiry ($inquire) about authorizations already given: this engine keeps none; "
               "submit the request ($submit) to have it decided")
    elif not placed.levels:
        why = "the request asks for no decompression or fusion at a spinal level, which the policy decides"
    elif doc.unread:
        why = f"the request holds documentation that cannot be read (at {doc.unread[0]}) and may change the decision"
    if why is not None:
        r.notices.append(Notice(NOTHING_DECIDED, f"no item is decided: {why}; every item is pended for manual review"))
        items = [replace(ci, subject=None, why_unmapped=ci.why_unmapped or why) for ci in items]
    echo: list[tuple[str, dict[str, Any]]] = []
    for ref in (claim.patient, claim.insurer, claim.provider):
        k = targets(ref) if ref is not None else None
        if isinstance(k, int):
            entry = bundle.entry[k]
            url = entry.fullUrl or ref.reference
            if url not in dict(echo):
                echo.append((url, as_json(entry.resource)))
    return Request(
        case=case,
        claim_url=bundle.entry[0].fullUrl or f"Claim/{claim.id}",
        claim_identifier=identifier,
        claim_type=as_json(claim.type),
        created=_text(claim.created) if claim.created is not None else None,
        patient=as_json(claim.patient),
        insurer=as_json(claim.insurer) if claim.insurer else {"display": "insurer not named"},
        requestor=as_json(claim.provider) if claim.provider else None,
        items=tuple(items),
        echo=tuple(echo),
        warnings=tuple(r.warnings),
        notices=tuple(dict.fromkeys(r.notices)),
        inquiry=inquiry,
    )


def read_text(text: str, source: str) -> Request:
    """A request Bundle given as JSON text (a byte-order mark and CRLF line ends allowed)."""
    try:
        data = loads(text.removeprefix("\ufeff"))
    except json.JSONDecodeError as exc:
        raise BundleError(source, [(f"line {exc.lineno}", f"not valid JSON: {exc.msg} (column {exc.colno}): fix it there")]) from None
    except RecursionError:
        raise BundleError(source, [("Bundle", "nested too deeply to be a FHIR Bundle: check its brackets")]) from None
    return from_bundle(data, source)


def noticed(decision: Decision, request: Request) -> Decision:
    """The decision with what reading its request reported as notices, so every rendering says it.

    The engine decided the case record; what the Claim held beyond it (an item
    no row reads, a linkId that is no field) is part of the answer all the same.
    Linear in the notices: membership is tested in a set.
    """
    have = set(decision.notices)
    extra = tuple(n for n in request.notices if n not in have)
    return replace(decision, notices=(*decision.notices, *extra)) if extra else decision


def undecided(request: Request, policy: Any) -> Decision:
    """The decision to answer a request the policy decides nothing of: no determination, every item pended.

    Not a determination: the outcome is ``not_decided``; the response pends
    each item with its reason (``ClaimItem.why_unmapped``) and every notice.
    """
    h = getattr(policy, "header", {}) or {}
    return Decision(
        case=(request.claim_identifier or {}).get("value") or request.claim_url,
        policy=PolicyRef(policy.id, policy.version, policy.effective, h.get("payer", ""), h.get("title", "")),
        outcome=NOT_DECIDED,
        levels=(),
        items=(),
        explained=False,
        would_change_computed=False,
        notices=request.notices,
    )


#: The outcome of a request no item of which is decided (``undecided``): not one of the engine's outcomes.
NOT_DECIDED = "not_decided"
#: The notice saying why no item of a request is decided (each item has its own ITEM_NOT_DECIDED notice).
NOTHING_DECIDED = "nothing_decided"
