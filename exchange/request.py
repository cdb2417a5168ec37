"""A Da Vinci PAS request Bundle to a case record (exchange.claim writes one for a case record).

The Claim (``use = preauthorization``) says what is requested: each item's
code (exchange/data/procedures.csv) names a service, its body site
(body-sites.csv) the spinal level, its place of service (places-of-service.csv)
the setting, a modifier (modifiers.csv) the side; ``Claim.created`` is the
request date.  The QuestionnaireResponse (exchange.form) documents the rest,
and refines what a code leaves open (22630 is TLIF or PLIF; the answer to
``request.levels[].fusion.approaches`` says which).  Observations with a
LOINC code in observations.csv document a measurement.  What no row maps is
reported, never dropped: a warning, and the item goes to manual review.

The engine sees none of this: the result is the same ``Case`` a case file gives.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field, replace
from typing import Any

from engine.presenting import labels
from engine.deciding.decision import ITEM_NOT_DECIDED, NOT_READ, Decision, Notice
from exchange import form
from exchange.bundle import BundleError, as_json, resource_id, validate
from exchange.references import resolve
from exchange.tables import Row, lookup
from facts.load import CaseFileError, parse_case
from facts.model import INPATIENT_ITEM, Case

CASE_SYSTEM = "urn:necessity:case"
PAS_TEMP_CODES = "http://hl7.org/fhir/us/davinci-pas/CodeSystem/PASTempCodes"
X12_REQUEST_TYPE = "https://codesystem.x12.org/005010/1525"
X12_CERTIFICATION = "https://codesystem.x12.org/005010/1322"
X12_SERVICE_TYPE = "https://codesystem.x12.org/005010/1365"
X12_REPORT_TYPE = "https://codesystem.x12.org/005010/755"
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
DATA_ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
DOCUMENT_INFORMATION = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-documentInformation"
REQUEST_TYPE_EXT = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-serviceItemRequestType"
CERTIFICATION_EXT = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-certificationType"
FULL_QUESTIONNAIRE = "urn:necessity:questionnaire:case-record"


@dataclass(frozen=True)
class ClaimItem:
    """One Claim item and what the engine decides for it."""

    sequence: int
    coding: dict[str, Any] | None  # the coding the mapping table read, as given
    subject: tuple[str, str, str | None] | None  # ("level", L, service) or ("item", name, level); None: unmapped
    location: dict[str, Any] | None = None
    why_unmapped: str | None = None


@dataclass(frozen=True)
class Request:
    """What the response needs of the request: its items and the resources it must echo."""

    case: Case
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


def _codings(concept: Any) -> list[Any]:
    return list(getattr(concept, "coding", None) or []) if concept is not None else []


def _mapped(name: str, concept: Any) -> tuple[Row | None, Any]:
    """The first coding of a concept that the table maps, and the coding reported when none does."""
    codings = _codings(concept)
    for c in codings:
        row = lookup(name, c.system, c.code)
        if row is not None:
            return row, c
    return None, codings[0] if codings else None


def _said(c: Any) -> str:
    if c is None:
        return "no coding"
    return f"{c.system or '(no system)'}|{c.code}" + (f" ({c.display})" if c.display else "")


def _text(value: Any) -> str:
    """A FHIR date or dateTime as written: the models parse full ones into Python dates."""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _date(created: Any) -> str:
    """The request date: the calendar day (or month) of Claim.created."""
    text = _text(created)
    return text[:10] if "T" in text else text


class _Reading:
    def __init__(self, source: str):
        self.source = source
        self.problems: list[tuple[str, str]] = []
        self.warnings: list[str] = []
        self.unread: list[tuple[str, str]] = []  # (element path, why) of the Claim items that cannot be read
        self.notices: list[Notice] = []

    def warn(self, where: str, message: str) -> None:
        self.warnings.append(f"{where}: {message}")
        self.notices.append(Notice(NOT_READ, f"not read from the request: {where}: {message}"))

    def not_read(self, where: str, why: str, fix: str, sequence: int, coding: Any) -> None:
        """A Claim item no mapping row reads: reported, and pended for manual review."""
        self.unread.append((where, why))
        self.warnings.append(f"{where}: {why}: {fix}not decided; the item goes to manual review")
        code = coding.code if coding is not None and coding.code else "no code"
        self.notices.append(Notice(ITEM_NOT_DECIDED, f"Claim item {sequence} ({code}) is not decided: {why} "
                                                     f"({where}); pended for manual review"))

    def refusal(self, what: str, fix: str) -> str:
        """A refusal about what the Claim requests: when some Claim items could not be read, they are
        the likely cause, so they are named (their warnings would be lost with the refusal)."""
        if not self.unread:
            return f"{what}: {fix}"
        unread = "; ".join(f"{w}: {why}" for w, why in self.unread)
        return (f"{what}, as far as its items can be read; not read: {unread}: give each item a code and body site "
                f"the tables in exchange/data/ map, or {fix}")


def _entry_index(bundle: Any, resource_type: str) -> list[int]:
    return [i for i, e in enumerate(bundle.entry or []) if e.resource is not None and e.resource.get_resource_type() == resource_type]


def from_bundle(data: Any, source: str) -> Request:
    """The case record of a PAS request Bundle, and what the response needs of the request."""
    bundle = validate(data, source)
    r = _Reading(source)
    if bundle.type != "collection":
        r.problems.append(("Bundle.type", f"'{bundle.type}': a PAS request Bundle is a collection: set type to collection"))
    claims = _entry_index(bundle, "Claim")
    if not claims or claims[0] != 0:
        raise BundleError(source, [("Bundle.entry[0].resource", "a PAS request Bundle starts with its Claim: put the Claim first")])
    if len(claims) > 1:
        r.warn(f"Bundle.entry[{claims[1]}].resource", "a second Claim (a PAS update?) is not read: only the first is decided")
    claim = bundle.entry[0].resource
    at = "Bundle.entry[0].resource"
    if claim.use != "preauthorization":
        r.problems.append((f"{at}.use", f"'{claim.use}': a prior-authorization request has use preauthorization"))

    request: dict[str, Any] = {}
    if claim.created is not None:
        request["date"] = _date(claim.created)
    levels: dict[str, dict[str, Any]] = {}
    level_rows: dict[str, dict[str, list[tuple[Row, str]]]] = {}  # level -> service -> (row, Claim item path)
    case_items: list[dict[str, Any]] = []
    origin: dict[str, str] = {"request.date": f"{at}.created"}
    settings: dict[str, str] = {}
    claim_items: list[ClaimItem] = []
    requested_items: dict[str, str] = {}  # an item (at its level), in words -> the Claim item requesting it
    for i, item in enumerate(claim.item or []):
        here = f"{at}.item[{i}]"
        row, coding = _mapped("procedures", item.productOrService)
        raw = as_json(coding) if coding is not None else None
        location = as_json(item.locationCodeableConcept) if item.locationCodeableConcept else None
        if location is not None:
            pos, pos_coding = _mapped("places-of-service", item.locationCodeableConcept)
            if pos is None:
                r.warn(f"{here}.locationCodeableConcept", f"place of service {_said(pos_coding)} has no row in "
                       "exchange/data/places-of-service.csv: the setting is not read from it")
            else:
                if pos["setting"]:  # a row with no setting (99, not stated) requests none
                    settings.setdefault(pos["setting"], f"{here}.locationCodeableConcept")
        if row is None:
            why = f"{_said(coding)} has no row in exchange/data/procedures.csv"
            r.not_read(f"{here}.productOrService", why, "", item.sequence, coding)
            claim_items.append(ClaimItem(item.sequence, raw, None, location, why))
            continue
        level = None
        if item.bodySite is not None:
            site, site_coding = _mapped("body-sites", item.bodySite)
            if site is None:
                why = f"body site {_said(site_coding)} has no row in exchange/data/body-sites.csv"
                r.not_read(f"{here}.bodySite", why, "the item's level is unknown; ", item.sequence, coding)
                claim_items.append(ClaimItem(item.sequence, raw, None, location, why))
                continue
            level = site["level"]
        service = row["service"]
        if service in ("decompression", "fusion", "instrumentation"):
            if level is None:
                why = f"{_said(coding)} is done at a spinal level, and the item names none"
                r.not_read(f"{here}.bodySite", why, "give bodySite; ", item.sequence, coding)
                claim_items.append(ClaimItem(item.sequence, raw, None, location, why))
                continue
            entry = levels.setdefault(level, {"level": level})
            origin.setdefault(f"request.levels.{level}", here)
            level_rows.setdefault(level, {}).setdefault(service, []).append((row, here))
            if service == "decompression":
                entry.setdefault("decompression", {})  # the technique: _merge_request, with the answers
            else:
                fusion = entry.setdefault("fusion", {})
                if service == "fusion":
                    for approach in (_default(row) or "").split("+"):
                        if approach and approach not in fusion.setdefault("approaches", []):
                            fusion["approaches"].append(approach)
                else:
                    fusion["instrumentation"] = True
            claim_items.append(ClaimItem(item.sequence, raw, ("level", level, service), location))
        elif service == "item":
            name, _, detail = row["values"].partition(":")
            entry = {"item": name}
            if level is not None:
                entry["level"] = level
            if item.modifier:
                for m in item.modifier:
                    side, side_coding = _mapped("modifiers", m)
                    if side is not None:
                        entry["side"] = side["side"]
                    else:
                        r.warn(f"{here}.modifier", f"modifier {_said(side_coding)} has no row in exchange/data/modifiers.csv: not read")
            if detail:
                entry["source"] = detail
            named = labels.item(name, level)
            if named in requested_items:
                # The case record holds one entry per item and level (a second would be refused there).
                r.problems.append((f"{here}.productOrService", f"requests {named} again (first at "
                                   f"{requested_items[named]}): request each item once per level"))
                continue
            requested_items[named] = here
            origin[f"request.items[{len(case_items)}]"] = here
            case_items.append(entry)
            claim_items.append(ClaimItem(item.sequence, raw, ("item", name, level), location))
        elif service == "admission":
            settings.setdefault(row["values"], f"{here}.productOrService")
            claim_items.append(ClaimItem(item.sequence, raw, ("item", INPATIENT_ITEM, None), location))
    for entry in case_items:
        if entry.get("level") is not None and entry["level"] not in levels:
            where = requested_items[labels.item(entry["item"], entry["level"])]
            r.problems.append((f"{where}.bodySite", r.refusal(
                f"requests {labels.item(entry['item'], entry['level'])}, where the Claim requests no decompression "
                "or fusion", "add the level's service, or correct the body site")))
    if not levels and not r.problems:
        r.problems.append((f"{at}.item", r.refusal(
            "requests no decompression or fusion at a spinal level",
            "add the decompression or fusion items of the levels to decide (a request is decided level by level)")))
    if len(settings) > 1:
        (a, wa), (b, wb) = list(settings.items())[:2]
        r.problems.append((wb, f"asks for an {b} setting, while {wa} asks for {a}: one request has one setting"))
    elif settings:
        request["setting"] = next(iter(settings))
        origin["request.setting"] = next(iter(settings.values()))

    # the documentation
    answers: dict[str, Any] = {}
    reader = form.Reader()
    responses = _entry_index(bundle, "QuestionnaireResponse")
    if len(responses) > 1:
        r.problems.append((f"Bundle.entry[{responses[1]}].resource",
                           "a second QuestionnaireResponse: give the documentation in one"))
    elif responses:
        k = responses[0]
        answered = bundle.entry[k].resource
        if answered.status not in ("completed", "amended"):
            r.problems.append((f"Bundle.entry[{k}].resource.status",
                               f"'{answered.status}': the answers are not final documentation (a form still in "
                               "progress, stopped, or entered in error): send the completed QuestionnaireResponse "
                               "(status completed or amended)"))
        _of_the_patient(bundle, answered.subject, f"Bundle.entry[{k}].resource.subject", "a QuestionnaireResponse", r)
        try:
            answers = reader.record(bundle.entry[k].resource.item, form.tree(), f"Bundle.entry[{k}].resource", "")
        except form.FormError as exc:
            r.problems.append((exc.where, exc.message))
        for where, link in reader.unknown:
            r.warn(where, f"linkId '{link}' is not a field of the case record (see `necessity vocab --fields`): not read")
    _merge_request(answers.pop("request", {}), levels, level_rows, request, reader, r)
    request["levels"] = list(levels.values())
    if case_items:
        request["items"] = case_items
    _observations(bundle, answers, reader, r)
    if r.problems:
        raise BundleError(source, r.problems)

    identifier = next((as_json(i) for i in claim.identifier or [] if i.system == CASE_SYSTEM), None)
    if identifier is None and claim.identifier:
        identifier = as_json(claim.identifier[0])
    case_id = (identifier or {}).get("value") or claim.id or (bundle.identifier.value if bundle.identifier else None) or "claim"
    record = {"case": case_id, "request": request, **answers}
    case = _case(record, source, reader, origin)
    by_url = {e.fullUrl: e.resource for e in bundle.entry or [] if e.fullUrl}
    listed = [(e.fullUrl, e.resource.get_resource_type(), e.resource.id) for e in bundle.entry or [] if e.resource]
    echo: list[tuple[str, dict[str, Any]]] = []
    for ref in (claim.patient, claim.insurer, claim.provider):
        url = resolve(ref.reference if ref is not None else None, bundle.entry[0].fullUrl, listed)
        if url in by_url and url not in dict(echo):
            echo.append((url, as_json(by_url[url])))
    return Request(
        case=case,
        claim_url=bundle.entry[0].fullUrl or f"Claim/{claim.id}",
        claim_identifier=identifier,
        claim_type=as_json(claim.type),
        created=_text(claim.created) if claim.created is not None else None,
        patient=as_json(claim.patient),
        insurer=as_json(claim.insurer) if claim.insurer else {"display": "insurer not named"},
        requestor=as_json(claim.provider) if claim.provider else None,
        items=tuple(claim_items),
        echo=tuple(echo),
        warnings=tuple(r.warnings),
        notices=tuple(dict.fromkeys(r.notices)),
    )


def _merge_request(documented: dict[str, Any], levels: dict[str, dict[str, Any]],
                   rows: dict[str, dict[str, list[tuple[Row, str]]]], request: dict[str, Any],
                   reader: form.Reader, r: _Reading) -> None:
    """Fold the QuestionnaireResponse's account of the plan into what the Claim requests.

    The Claim's codes are what is requested; the answers only say which of the
    values a code covers is meant (22630: TLIF or PLIF).  An answer that would
    drop what a code requests, or that no code covers, contradicts the Claim
    and is refused: the request is never read as less, or other, than it asks.
    """
    answered: dict[str, int] = {}
    for n, entry in enumerate(documented.get("levels", [])):
        key = f"request.levels[{n}]"
        level = entry.get("level")
        where = reader.where(key) or "QuestionnaireResponse"
        if level in answered:
            r.problems.append((where, f"documents the plan at {level} a second time (first at "
                                      f"{reader.where(f'request.levels[{answered[level]}]')}): give one entry per level"))
            continue
        if level not in levels:
            r.problems.append((where, r.refusal(f"documents the plan at {level}, where the Claim requests no service",
                                                "add the level's items to the Claim or drop the entry")))
            continue
        answered[level] = n
        target = levels[level]
        for part in ("decompression", "fusion"):
            if part in entry and part not in target:
                r.problems.append((reader.where(f"{key}.{part}") or where, r.refusal(
                    f"documents {part} at {level}, which the Claim does not request",
                    f"add a {part} item for {level} or drop the answers")))
        for name, value in entry.items():
            if name not in ("level", "decompression", "fusion"):
                target[name] = value
    entries = documented.get("levels", [])
    for level, target in levels.items():
        n = answered.get(level)
        key = f"request.levels[{n}]" if n is not None else None
        entry = entries[n] if n is not None else {}
        codes = rows.get(level, {})
        if "decompression" in target:
            answer = entry.get("decompression", {})
            technique = _technique(level, answer.get("technique"), codes.get("decompression", []),
                                   key and (reader.where(f"{key}.decompression.technique") or reader.where(key)), r)
            target["decompression"] = {**answer, **({"technique": technique} if technique else {})}
        if "fusion" in target:
            answer = entry.get("fusion", {})
            at = key and (reader.where(f"{key}.fusion.approaches") or reader.where(key))
            if "approaches" in answer:
                _check_approaches(level, answer["approaches"], codes.get("fusion", []), at, r)
            if answer.get("instrumentation") is False and codes.get("instrumentation"):
                r.problems.append((reader.where(f"{key}.fusion.instrumentation") or at,
                                   f"answers no instrumentation at {level}, while the Claim requests it at "
                                   f"{codes['instrumentation'][0][1]}: correct one of them"))
            target["fusion"] = {**target["fusion"], **answer}
    for name, value in documented.items():
        if name != "levels":
            request[name] = value


def _coded(codes: list[tuple[Row, str]]) -> str:
    return ", ".join(f"{row['code']} at {where}" for row, where in codes)


def _technique(level: str, answered: str | None, codes: list[tuple[Row, str]], where: str | None,
               r: _Reading) -> str | None:
    """The one decompression technique the case record holds for a level: what every code covers.

    A level has one technique in the case record; two codes that name
    different ones (63030 laminotomy, 63005 laminectomy) cannot both be read
    into it, so one is never silently kept over the other.
    """
    if answered is not None:
        refusing = [(row, at) for row, at in codes if not _admits(row, answered)]
        if refusing:
            r.problems.append((where or refusing[0][1],
                               f"technique {answered} at {level} disagrees with the Claim's code "
                               f"{_coded(refusing)}: correct one of them"))
        return answered
    defaults = list(dict.fromkeys(t for t in (_default(row) for row, _ in codes) if t))
    if len(defaults) > 1:
        shared = [v for v in _values(codes[0][0]) if v != "*" and all(_admits(row, v) for row, _ in codes)]
        fix = (f"answer request.levels[].decompression.technique for {level} with {' or '.join(shared)}, which "
               "every code covers, or request one decompression code" if shared else "request one decompression code")
        r.problems.append((codes[1][1], f"requests decompression at {level} by {defaults[1]} ({codes[1][0]['code']}), "
                                        f"while {codes[0][1]} requests {defaults[0]} ({codes[0][0]['code']}): the case "
                                        f"record holds one technique per level: {fix}"))
    return defaults[0] if defaults else None


def _check_approaches(level: str, approaches: list[str], codes: list[tuple[Row, str]], where: str | None,
                      r: _Reading) -> None:
    """The answered approaches say which of its values each fusion code means; they add none and drop none."""
    for approach in approaches:
        if codes and not any(_admits(row, approach) for row, _ in codes):
            r.problems.append((where or codes[0][1],
                               f"approach {approach} at {level} disagrees with the Claim's fusion code "
                               f"{_coded(codes)}: correct one of them"))
    for row, at in codes:
        values = _values(row)
        if "*" in values or any(set(v.split("+")) <= set(approaches) for v in values):
            continue
        means = " or ".join(v.replace("+", " with ") for v in values)
        r.problems.append((where or at, f"approaches {', '.join(approaches) or '(none)'} at {level} leave out what "
                                        f"the Claim's code {row['code']} at {at} requests ({means}): answer every "
                                        "approach the Claim's codes request, or correct the Claim"))


def _set(record: dict[str, Any], path: str, value: Any) -> bool:
    """Put a value at a field path; False when a record on the way is missing and required data with it."""
    parts = path.split(".")
    node = record
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return True


def _lookup(record: dict[str, Any], path: str) -> Any:
    node: Any = record
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


@dataclass(frozen=True)
class _Result:
    """One Observation's measurement as read: the row of its code, when, the value, where."""

    row: Row
    when: tuple[datetime.datetime, datetime.datetime] | None  # the instants it may have been taken between
    value: float
    where: str


def _period(value: Any) -> tuple[datetime.datetime, datetime.datetime] | None:
    """An effectiveDateTime as the span it covers (a year, a month, a day or an instant), in UTC."""
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        t = value.astimezone(datetime.timezone.utc).replace(tzinfo=None) if value.tzinfo else value
        return t, t
    if isinstance(value, datetime.date):
        day = datetime.datetime.combine(value, datetime.time())
        return day, day + datetime.timedelta(days=1)
    try:
        parts = [int(p) for p in str(value).split("-")][:2]
    except ValueError:  # the models admit only dates; anything else is taken as undated
        return None
    start = datetime.datetime(parts[0], parts[1] if len(parts) > 1 else 1, 1)
    end = (datetime.datetime(parts[0] + 1, 1, 1) if len(parts) == 1 else
           datetime.datetime(parts[0] + parts[1] // 12, parts[1] % 12 + 1, 1))
    return start, end


def _later(a: _Result, b: _Result) -> bool | None:
    """Whether ``b`` was taken after ``a``; None when their dates do not say (not given, or overlapping)."""
    if a.when is None or b.when is None:
        return None
    if b.when[0] >= a.when[1] and b.when != a.when:
        return True
    if a.when[0] >= b.when[1] and b.when != a.when:
        return False
    return None


def _observations(bundle: Any, record: dict[str, Any], reader: form.Reader, r: _Reading) -> None:
    """Measurements given as Observations, beside the answers (they must agree).

    Of several results for one code the latest is read.  Two codes may give
    the same case field (a lumbar and a hip DEXA T-score): the case record
    holds one value, and choosing between two would be a clinical choice, so
    results that differ are refused and the sender says which one counts.
    """
    latest: dict[tuple[str, str], _Result] = {}
    for k in _entry_index(bundle, "Observation"):
        obs = bundle.entry[k].resource
        where = f"Bundle.entry[{k}].resource"
        row, coding = _mapped("observations", obs.code)
        if row is None:
            r.warn(f"{where}.code", f"{_said(coding)} has no row in exchange/data/observations.csv: not read")
            continue
        if obs.status not in ("final", "amended", "corrected"):
            r.warn(f"{where}.status", f"an Observation with status {obs.status} is not read: only final results count")
            continue
        _of_the_patient(bundle, obs.subject, f"{where}.subject", "an Observation", r)
        quantity = obs.valueQuantity
        if quantity is None or quantity.value is None:
            r.problems.append((f"{where}.valueQuantity", f"{row['display']} gives no valueQuantity: give the measured value"))
            continue
        if quantity.comparator is not None:
            # The case record holds a measured value, never a bound: "> -3.0" read as -3.0 would meet
            # a criterion the measurement may not.
            r.problems.append((f"{where}.valueQuantity.comparator",
                               f"{row['display']} given as '{quantity.comparator} {quantity.value}': {row['field']} "
                               "holds a measured value, not a bound: send the value as measured, without a "
                               "comparator, or leave the Observation out (then it is not documented)"))
            continue
        unit = quantity.code or quantity.unit or ""
        if row["unit"] and unit != row["unit"]:
            r.problems.append((f"{where}.valueQuantity", f"{row['display']} in '{unit}': give it in {row['unit']}"))
            continue
        result = _Result(row, _period(obs.effectiveDateTime), float(str(quantity.value)), where)
        key = (row["system"], row["code"])
        previous = latest.get(key)
        if previous is None:
            latest[key] = result
            continue
        later = _later(previous, result)
        if later is None and result.value != previous.value:
            why = ("is of the same date as" if previous.when is not None and previous.when == result.when else
                   "is not dated so as to say which is later (an effectiveDateTime missing, or within the other's) than")
            r.problems.append((where, f"{row['display']} {result.value} {why} {previous.where} ({previous.value}), "
                                      "and they disagree: keep the one to decide on, or date each"))
        elif later:
            latest[key] = result
    by_field: dict[str, list[_Result]] = {}
    for result in latest.values():
        by_field.setdefault(result.row["field"], []).append(result)
    for path, results in by_field.items():
        first, value, where = results[0], results[0].value, results[0].where
        other = next((x for x in results[1:] if x.value != value), None)
        if other is not None:
            r.problems.append((other.where, f"{other.row['display']} {other.value} and {first.row['display']} "
                                            f"{first.value} ({first.where}) both give {path}, which holds one value: "
                                            "send only the Observation the decision is to read"))
            continue
        answered = _lookup(record, path)
        if answered is not None and answered != value:
            r.problems.append((where, f"{value} disagrees with the QuestionnaireResponse's {path} {answered}: give one value"))
            continue
        parent = path.rsplit(".", 1)[0]
        holder = _lookup(record, parent)
        needs = {"history.diabetes": "present", "history.smoking": "status"}
        if parent in needs and (holder is None or needs[parent] not in holder):
            r.warn(where, f"not read: {parent}.{needs[parent]} must be documented for {path} to be recorded")
            continue
        _set(record, path, value)
        reader.origin.setdefault(path, f"{where}.valueQuantity.value")


def _target(bundle: Any, reference: Any) -> Any:
    """What a reference points at: the Bundle entry it resolves to, else the reference as written."""
    text = reference.reference
    for i, entry in enumerate(bundle.entry or []):
        resource = entry.resource
        if text is not None and (entry.fullUrl == text or (resource is not None and resource.id and (
                text == f"{resource.get_resource_type()}/{resource.id}"
                or (entry.fullUrl or "").endswith("/" + text)))):
            return i
    return text if text is not None else json.dumps(as_json(reference), sort_keys=True)


def _of_the_patient(bundle: Any, subject: Any, where: str, what: str, r: _Reading) -> None:
    """Documentation about another patient than the Claim's is refused, never read into the case."""
    patient = bundle.entry[0].resource.patient
    if subject is None or _target(bundle, subject) == _target(bundle, patient):
        return
    said = subject.reference or subject.display or "a reference by identifier"
    r.problems.append((where, f"{what} about {said}, not the Claim's patient {patient.reference or patient.display} "
                              "(Bundle.entry[0].resource.patient): documentation about another patient is not "
                              "read: send the patient's own, or correct the reference"))


def _case(record: dict[str, Any], source: str, reader: form.Reader, origin: dict[str, str]) -> Case:
    try:
        return parse_case(json.dumps(record), source, fmt="json")
    except CaseFileError as exc:
        problems = []
        for p in exc.problems:
            claimed = p.path.split(".")[:2] in (["request", "date"], ["request", "setting"]) or \
                p.path.startswith("request.items")
            where = ((_claim_origin(p.path, record, origin) if claimed else None)
                     or reader.where(p.path) or _claim_origin(p.path, record, origin) or "Bundle")
            problems.append((where, f"{p.path}: {p.message}" if p.path else p.message))
        raise BundleError(source, problems) from None


def _claim_origin(path: str, record: dict[str, Any], origin: dict[str, str]) -> str | None:
    if path in origin:
        return origin[path]
    if path.startswith("request.levels["):
        index = int(path.split("[", 1)[1].split("]", 1)[0])
        levels = record.get("request", {}).get("levels", [])
        if index < len(levels):
            return origin.get(f"request.levels.{levels[index].get('level')}")
    if path.startswith("request.items["):
        return origin.get(path.split("]", 1)[0] + "]")
    # what the Claim's items say as a whole (the levels, the items) is said by its items, not by its date
    return "Bundle.entry[0].resource.item" if path.startswith("request") else None


def is_bundle(data: Any) -> bool:
    return isinstance(data, dict) and data.get("resourceType") == "Bundle"


def read_text(text: str, source: str) -> Request:
    """A request Bundle given as JSON text."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BundleError(source, [(f"line {exc.lineno}", f"not valid JSON: {exc.msg} (column {exc.colno}): fix it there")]) from None
    except RecursionError:
        raise BundleError(source, [("Bundle", "nested too deeply to be a FHIR Bundle: check its brackets")]) from None
    return from_bundle(data, source)


def noticed(decision: Decision, request: Request) -> Decision:
    """The decision with what reading its request reported as notices, so every rendering says it.

    The engine decided the case record; what the Claim held beyond it (an item
    no row reads, a linkId that is no field) is part of the answer all the same.
    """
    extra = tuple(n for n in request.notices if n not in decision.notices)
    return replace(decision, notices=(*decision.notices, *extra)) if extra else decision
