"""A decision as a Da Vinci PAS response Bundle.

Built from the same frozen ``Decision`` the JSON renderer reads, nothing else.
Every Claim item gets one adjudication with the X12 review action
(review-actions.csv) that follows from the determination of the level or
item it requests:

* certified (A1): the level reaches what the item needs (decompression, or
  fusion for a fusion, instrumentation or approach item), or the item is
  medically necessary;
* modified (A6): fusion was requested and decompression only is justified;
  the fusion items are returned as requested and the decompression that is
  authorised instead is in ``addItem`` (PAS spec-36, spec-37);
* pended (A4): either only documentation is missing (some way to the
  requested answer needs only criteria the record does not document; a
  CommunicationRequest names each one), or the policy does not address the
  subject, or no mapping row reads the item: manual review;
* not certified (A3): a documented finding fails a criterion and no
  documentation would change that.

Every item's reasons are in ``processNote`` (criterion id, title, citation,
evidence), referenced by the item's ``noteNumber``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.decision import CriterionResult, Decision, ItemDecision, LevelDecision, WouldChange
from exchange.bundle import full_url, plain
from exchange.request import CASE_SYSTEM, DATA_ABSENT, ClaimItem, Request
from exchange.tables import table

REVIEW_ACTION = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-reviewAction"
SERVICE_LINE = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-serviceLineNumber"
ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
TIERS = ("none", "decompression_only", "fusion")
#: The tier each level service needs: decompression is satisfied by decompression_only or more.
NEEDS = {"decompression": "decompression_only", "fusion": "fusion", "instrumentation": "fusion"}


@dataclass(frozen=True)
class Action:
    """What a Claim item gets: the review action, why, and what to obtain or authorise."""

    action: str  # certified, modified, pended, not_certified
    reason: str  # one line, for the item's first note
    obtain: tuple[WouldChange, ...] = ()  # documentation-only ways to the requested answer
    authorised: str | None = None  # for modified: the service authorised instead


# ---------------------------------------------------------------------------
# from a determination to a review action: a few small rules, kept apart
# ---------------------------------------------------------------------------


def documentation_only(decision: Decision, change: WouldChange) -> bool:
    """A way to the requested answer that needs only criteria the record does not document."""
    return all(decision.status_of(a.criterion, a.scope) == "not_documented" for a in change.requires)


def _to_obtain(decision: Decision, changes: tuple[WouldChange, ...], reaching: str | None = None) -> tuple[WouldChange, ...]:
    keep = [w for w in changes if documentation_only(decision, w)]
    if reaching is not None:
        keep = [w for w in keep if w.determination in TIERS and TIERS.index(w.determination) >= TIERS.index(reaching)]
    return tuple(keep)


def level_action(decision: Decision, level: LevelDecision, service: str) -> Action:
    need = NEEDS[service]
    have = level.determination
    if have == "not_addressed":
        return Action("pended", f"{level.level}: the policy has no criterion for this level: referred for manual review")
    if have in TIERS and TIERS.index(have) >= TIERS.index(need):
        return Action("certified", f"{level.level}: {have} is justified")
    if need == "fusion" and have == "decompression_only":
        return Action("modified", f"{level.level}: decompression only is justified, not fusion",
                      _to_obtain(decision, level.would_change, "fusion"), "decompression")
    obtain = _to_obtain(decision, level.would_change, need)
    if obtain:
        return Action("pended", f"{level.level}: {have}; documentation the record lacks would change it", obtain)
    return Action("not_certified", f"{level.level}: {have}: a documented finding fails a criterion")


def item_action(decision: Decision, item: ItemDecision) -> Action:
    name = item.item.replace("_", " ") + (f" at {item.level}" if item.level else "")
    if item.determination == "medically_necessary":
        return Action("certified", f"{name}: medically necessary")
    if item.determination == "not_addressed":
        return Action("pended", f"{name}: the policy has no criterion for this item: referred for manual review")
    obtain = _to_obtain(decision, item.would_change)
    if obtain:
        return Action("pended", f"{name}: not medically necessary as documented; documentation the record lacks "
                                f"would change it", obtain)
    return Action("not_certified", f"{name}: not medically necessary: a documented finding fails a criterion")


def unmapped_action(item: ClaimItem) -> Action:
    return Action("pended", f"not decided: {item.why_unmapped}; referred for manual review")


# ---------------------------------------------------------------------------
# notes
# ---------------------------------------------------------------------------


def criterion_note(c: CriterionResult) -> str:
    scope = "" if c.scope == "case" else f" at {c.scope}"
    head = f"{c.id}{scope} {c.status.replace('_', ' ')}: {c.title} [{c.citation}]"
    if c.status == "not_documented":
        return head + (f": the record does not document {c.documentation}" if c.documentation else ": not documented")
    if c.evidence:
        return head + ": " + "; ".join(e.text for e in c.evidence)
    return head


def change_note(w: WouldChange, decision: Decision) -> str:
    parts = []
    for a in w.requires:
        c = _criterion(decision, a.criterion, a.scope)
        status = (decision.status_of(a.criterion, a.scope) or "not_documented").replace("_", " ")
        where = "" if a.scope == "case" else f" at {a.scope}"
        parts.append(f"{a.criterion}{where} ({status}){': ' + c.title if c else ''}")
    return f"would be {w.determination.replace('_', ' ')} if met: " + " + ".join(parts)


def _criterion(decision: Decision, cid: str, scope: str) -> CriterionResult | None:
    for subject in (*decision.levels, *decision.items):
        for c in subject.criteria:
            if c.id == cid and c.scope == scope:
                return c
    for subject in (*decision.levels, *decision.items):
        for c in subject.criteria:
            if c.id == cid:
                return c
    return None


class _Notes:
    def __init__(self) -> None:
        self.texts: dict[str, int] = {}

    def number(self, text: str) -> int:
        return self.texts.setdefault(text, len(self.texts) + 1)

    def json(self) -> list[dict[str, Any]]:
        return [{"number": n, "type": "display", "text": t} for t, n in self.texts.items()]


# ---------------------------------------------------------------------------
# the Bundle
# ---------------------------------------------------------------------------


def _review(action: str, number: str | None = None) -> dict[str, Any]:
    row = next(r for r in table("review-actions") if r["action"] == action)
    ext: list[dict[str, Any]] = [{"url": "code", "valueCodeableConcept": {
        "coding": [{"system": row["system"], "code": row["code"], "display": row["display"]}]}}]
    for reason in (r for r in table("reason-codes") if r["action"] == action):
        ext.append({"url": "reasonCode", "valueCodeableConcept": {
            "coding": [{"system": reason["system"], "code": reason["code"], "display": reason["display"]}]}})
    return {"extension": [{"url": REVIEW_ACTION, "extension": ext}],
            "category": {"coding": [{"system": ADJUDICATION, "code": "submitted"}]}}


def _subject(decision: Decision, item: ClaimItem) -> LevelDecision | ItemDecision | None:
    if item.subject is None:
        return None
    kind, name, where = item.subject
    try:
        return decision.level(name) if kind == "level" else decision.item(name, where)
    except KeyError:
        return None


def action_for(decision: Decision, item: ClaimItem) -> tuple[Action, LevelDecision | ItemDecision | None]:
    subject = _subject(decision, item)
    if subject is None:
        if item.subject is not None:
            return Action("pended", f"not decided: the decision holds no {item.subject[1]}; referred for manual review"), None
        return unmapped_action(item), None
    if isinstance(subject, LevelDecision):
        return level_action(decision, subject, item.subject[2]), subject
    return item_action(decision, subject), subject


def _decompression_coding(request: Request, level: str) -> dict[str, Any]:
    for item in request.items:
        if item.subject == ("level", level, "decompression") and item.coding:
            return item.coding
    row = next(r for r in table("procedures") if r["service"] == "decompression")
    return {"system": row["system"], "code": row["code"], "display": row["display"]}


def _communication(decision: Decision, request: Request, cid: str, scope: str, lines: list[int]) -> dict[str, Any]:
    from exchange.documents import attachment

    c = _criterion(decision, cid, scope)
    where = "" if scope == "case" else f" at {scope}"
    title = f"{cid}{where}: {c.title} [{c.citation}]" if c else f"{cid}{where}"
    need = c.documentation if c and c.documentation else (c.title if c else cid)
    code = attachment(decision.policy.id, cid)
    resource: dict[str, Any] = {
        "resourceType": "CommunicationRequest",
        "id": f"{_safe(decision.case)}-{_safe(cid)}-{_safe(scope)}"[:64],
        "identifier": [{"system": CASE_SYSTEM, "value": f"{decision.case}/{cid}/{scope}"}],
        "status": "active",
        "payload": [{"contentString": code}],
        "reasonCode": [{"text": title}],
        "note": [{"text": f"Documentation to obtain: {need} ({cid}{where}, {c.citation if c else ''})"}],
    }
    if len(lines) == 1:
        resource["extension"] = [{"url": SERVICE_LINE, "valuePositiveInt": lines[0]}]
    return resource


def _safe(text: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9.-]", "-", text)


def to_response(decision: Decision, request: Request) -> dict[str, Any]:
    """The PAS response Bundle for a decision on a request."""
    notes = _Notes()
    policy = decision.policy
    notes.number(f"Decided under {policy.id} version {policy.version} (effective {policy.effective}): "
                 f"{decision.outcome.replace('_', ' ')}")
    for warning in request.warnings:
        notes.number(f"Not read from the request: {warning}")
    items, add_items = [], []
    wanted: dict[tuple[str, str], list[int]] = {}
    modified: dict[str, list[int]] = {}
    for ci in request.items:
        action, subject = action_for(decision, ci)
        numbers = [notes.number(action.reason)]
        if subject is not None:
            numbers += [notes.number(criterion_note(c)) for c in subject.criteria]
            numbers += [notes.number(change_note(w, decision)) for w in subject.would_change]
        item: dict[str, Any] = {"itemSequence": ci.sequence, "noteNumber": list(dict.fromkeys(numbers)),
                                "adjudication": [_review(action.action)]}
        items.append(item)
        if action.action == "pended":
            for w in action.obtain:
                for a in w.requires:
                    wanted.setdefault((a.criterion, a.scope), [])
                    if ci.sequence not in wanted[(a.criterion, a.scope)]:
                        wanted[(a.criterion, a.scope)].append(ci.sequence)
        if action.action == "modified" and ci.subject is not None:
            modified.setdefault(ci.subject[1], []).append(ci.sequence)
    covered = {ci.subject for ci in request.items}
    header = []
    for it in decision.items:
        if ("item", it.item, it.level) in covered:
            continue
        # Requested through the Claim as a whole (the inpatient setting from the places of service):
        # its review action is the Claim's own adjudication.
        action = item_action(decision, it)
        notes.number(f"{action.reason} (requested by the Claim as a whole, not by one item)")
        header.append(_review(action.action))
        for w in action.obtain if action.action == "pended" else ():
            for a in w.requires:
                wanted.setdefault((a.criterion, a.scope), [])
    for level, sequences in modified.items():
        add: dict[str, Any] = {
            "itemSequence": sequences,
            "productOrService": {"coding": [_decompression_coding(request, level)]},
            "bodySite": _body_site(level),
            "noteNumber": [notes.number(f"{level}: decompression is authorised in place of the requested fusion")],
            "adjudication": [_review("certified")],
        }
        add_items.append(add)
    communications = [_communication(decision, request, cid, scope, lines) for (cid, scope), lines in wanted.items()]
    cid = decision.case
    response: dict[str, Any] = {
        "resourceType": "ClaimResponse",
        "id": f"{_safe(cid)}-response"[:64],
        "identifier": [{"system": CASE_SYSTEM, "value": cid}],
        "status": "active",
        "type": request.claim_type,
        "use": "preauthorization",
        "patient": request.patient,
        "insurer": request.insurer,
        "request": {"reference": request.claim_url, **({"identifier": request.claim_identifier} if request.claim_identifier else {})},
        "outcome": "complete",
        "disposition": f"{decision.outcome.replace('_', ' ')} under {policy.id} {policy.version}",
        "item": items,
    }
    if request.requestor is not None:
        response["requestor"] = request.requestor
    if request.created:
        response["created"] = request.created
    else:
        response["_created"] = {"extension": [{"url": DATA_ABSENT, "valueCode": "unknown"}]}
    if add_items:
        response["addItem"] = add_items
    if header:
        response["adjudication"] = header
    response["processNote"] = notes.json()
    urls = [full_url(cid, "communication", c["id"]) for c in communications]
    if communications:
        response["communicationRequest"] = [{"reference": u} for u in urls]
    entries = [{"fullUrl": full_url(cid, "response"), "resource": response}]
    entries += [{"fullUrl": u, "resource": c} for u, c in zip(urls, communications)]
    referenced = {request.patient.get("reference"), request.insurer.get("reference"),
                  (request.requestor or {}).get("reference")}
    for url, resource in request.echo:
        if url in referenced:
            entries.append({"fullUrl": url, "resource": resource})
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "identifier": {"system": CASE_SYSTEM, "value": f"{cid}/response"},
        "type": "collection",
        "entry": entries,
    }
    if request.created and len(request.created) >= 10:
        bundle["timestamp"] = request.created if "T" in request.created else f"{request.created[:10]}T00:00:00Z"
    return plain(bundle)


def _body_site(level: str) -> dict[str, Any]:
    row = next(r for r in table("body-sites") if r["level"] == level)
    return {"coding": [{"system": row["system"], "code": row["code"], "display": row["display"]}]}
