"""A decision as a Da Vinci PAS response Bundle.

Built from the same frozen ``Decision`` the JSON renderer reads, nothing else.
Every Claim item gets one adjudication with the X12 review action
(review-actions.csv) that follows from the determination of the level or
item it requests and from what would change it:

* certified (A1): the level reaches what the item needs (decompression, or
  fusion for a fusion, instrumentation or approach item), or the item is
  medically necessary;
* modified (A6): fusion was requested and decompression only is justified;
  the fusion items are returned as requested and the decompression that is
  authorised instead is in ``addItem`` (PAS spec-36, spec-37);
* pended (A4): the explanation's "documentation to obtain" holds a line
  that would give the item what it needs (a CommunicationRequest names each
  criterion of it), or, failing that, a line that would give the level more
  than it has (none to decompression only, for a fusion item); or the policy
  does not address the level or item, or no mapping row reads the Claim
  item: it waits for manual review;
* not certified (A3): short of what the item needs, and no documentation
  would change its level or item at all (only findings the record
  contradicts, or nothing).

Every item's reasons are in ``processNote`` (criterion id, title, citation,
the evidence in words), referenced by the item's ``noteNumber``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.presenting import labels
from engine.deciding.decision import (
    CONTRADICTED,
    CONTRADICTED_AND_DOCUMENTATION,
    DETERMINATIONS,
    DOCUMENTATION,
    NOT_ADDRESSED,
    Assumption,
    CriterionResult,
    Decision,
    ItemDecision,
    LevelDecision,
    WouldChange,
)
from engine.deciding.policy import Policy
from exchange.bundle import full_url, plain, resource_id
from exchange.issued import decision_time, disposition, reference_number, split, validity
from exchange.references import resolve
from exchange.request import CASE_SYSTEM, ClaimItem, Request, noticed
from exchange.tables import Row, table
from facts.terms import SPINAL_LEVELS

PAS = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/"
REVIEW_ACTION = PAS + "extension-reviewAction"
REVIEW_ACTION_CODE = PAS + "extension-reviewActionCode"
ISSUE_DATE = PAS + "extension-itemPreAuthIssueDate"
PREAUTH_PERIOD = PAS + "extension-itemPreAuthPeriod"
PROFILES = {"Bundle": PAS + "profile-pas-response-bundle", "ClaimResponse": PAS + "profile-claimresponse",
            "CommunicationRequest": PAS + "profile-communicationrequest"}
SERVICE_LINE = PAS + "extension-serviceLineNumber"
ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
#: What a CommunicationRequest asks for (X12 755 report type, as the request's documentInformation says it)
#: and how it is to be sent (X12 756, the PASCommunicationRequestMedium value set).
REPORT_TYPE = {"system": "https://codesystem.x12.org/005010/755", "code": "PY", "display": "Physician's Report"}
MEDIUM = {"system": "https://codesystem.x12.org/005010/756", "code": "EL", "display": "Electronically Only"}
#: The tier each level service needs: decompression is satisfied by decompression_only or more.
NEEDS = {"decompression": "decompression_only", "fusion": "fusion", "instrumentation": "fusion"}


@dataclass(frozen=True)
class Action:
    """What a Claim item gets: the review action, why, and what to obtain or authorise."""

    action: str  # certified, modified, pended, not_certified
    reason: str  # one line, for the item's first note
    obtain: tuple[WouldChange, ...] = ()  # documentation to obtain that gives the item what it needs
    authorised: str | None = None  # for modified: the service authorised instead


# ---------------------------------------------------------------------------
# from a determination to a review action: a few small rules, kept apart
# ---------------------------------------------------------------------------


def _tier(determination: str) -> int:
    return DETERMINATIONS.index(determination) if determination in DETERMINATIONS else -1


def _size(w: WouldChange) -> int:
    return len(w.requires) + (w.choose if w.one_of else 0)


def to_obtain(subject: LevelDecision | ItemDecision, reaching: str | None = None, *,
              above: str | None = None) -> tuple[WouldChange, ...]:
    """The documentation to obtain that gives the subject ``reaching`` (or more), or with ``above``
    anything better than that: its smallest lines.

    A line found for fusion is not asked of a decompression a smaller line
    reaches: the lines of the lowest target that suffices, as the engine
    found them (docs/json.md, "Targets").
    """
    lines = [w for w in subject.would_change if w.kind == DOCUMENTATION
             and (reaching is None or _tier(w.determination) >= _tier(reaching))
             and (above is None or _tier(w.determination) > _tier(above))]
    if not lines:
        return ()
    least = min(map(_size, lines))
    return tuple(w for w in lines if _size(w) == least)


def level_action(level: LevelDecision, service: str) -> Action:
    need, have = NEEDS[service], level.determination
    name = f"{level.level} ({service} requested)"
    if have == NOT_ADDRESSED:
        return Action("pended", f"{name}: not addressed: the policy has no criterion for it; pended for manual review")
    if _tier(have) >= _tier(need):
        return Action("certified", f"{name}: {labels.determination(have)} justified; certified")
    if need == "fusion" and have == "decompression_only":
        return Action("modified", f"{name}: decompression only justified, not fusion; modified: decompression is "
                                  "authorised instead", to_obtain(level, "fusion"), "decompression")
    obtain = to_obtain(level, need)
    if obtain:
        return Action("pended", f"{name}: {labels.determination(have)} justified as documented; pended for the "
                                f"documentation to obtain that would give {labels.determination(need)}", obtain)
    # Documentation that gives less than the item needs still changes the answer (none to
    # decompression only, so a fusion would be modified): it is asked for, and saying that no
    # documentation would change the item would be untrue.
    better = to_obtain(level, above=have)
    if better:
        gives = " or ".join(dict.fromkeys(labels.determination(w.determination) for w in better))
        return Action("pended", f"{name}: {labels.determination(have)} justified as documented; pended for the "
                                f"documentation to obtain that would give {gives}; {labels.determination(need)} would still "
                                "not be justified: no documentation the record lacks would give it", better)
    return Action("not_certified", f"{name}: {labels.determination(have)} justified; no documentation the record "
                                   "lacks would change it; not certified")


def item_action(item: ItemDecision) -> Action:
    name = labels.item(item.item, item.level)
    if item.determination == "medically_necessary":
        return Action("certified", f"{name}: medically necessary; certified")
    if item.determination == NOT_ADDRESSED:
        return Action("pended", f"{name}: not addressed: the policy has no criterion for it; pended for manual review")
    obtain = to_obtain(item)
    if obtain:
        return Action("pended", f"{name}: not medically necessary as documented; pended for the documentation to "
                                "obtain that would make it medically necessary", obtain)
    return Action("not_certified", f"{name}: not medically necessary; no documentation the record lacks would "
                                   "change it; not certified")


def unmapped_action(item: ClaimItem) -> Action:
    if item.missing is not None and not item.cancelled:
        return Action("pended", f"item {item.sequence}: not decided: {item.why_unmapped}; pended: waits for "
                                f"{item.missing.what} ({item.missing.element}), asked for by a CommunicationRequest")
    return Action("pended", f"item {item.sequence}: not decided: {item.why_unmapped}; pended for manual review")


# ---------------------------------------------------------------------------
# notes, in plain words
# ---------------------------------------------------------------------------


def where(scope: str) -> str:
    """`` at L4-L5``, `` for interbody device at L5-S1``, or nothing for the whole case."""
    if scope == "case":
        return ""
    if scope in SPINAL_LEVELS:
        return f" at {scope}"
    name, _, level = scope.partition("@")
    return f" for {labels.item(name, level or None)}"


def criterion_note(c: CriterionResult) -> str:
    state = f"waived by {c.waived_by}" if c.waived_by else labels.status(c.status)
    parts = [f"{c.id}{where(c.scope)} {state}: {c.title} [{c.citation}]"]
    if c.status == "not_documented" and not c.waived_by:
        if c.unsettled:
            parts.append("the record leaves it open: " + "; ".join(e.text for e in c.unsettled))
        # only what this record is silent on is said not documented (labels.missing)
        parts += [f"{'needs' if lead == labels.NEEDS else lead} {what}" for lead, what in labels.missing(c)]
    parts += [e.text for e in c.evidence]
    parts += [f"superseded: {e.text}" for e in c.superseded]
    parts += [f"noted, does not count: {e.text}" for e in c.noted]
    return ": ".join(parts[:2]) + "".join(f"; {p}" for p in parts[2:])


def requirement(a: Assumption, decision: Decision) -> str:
    c = criterion_of(decision, a.criterion, a.scope)
    title = f" {c.title}" if c else ""
    return f"{a.criterion}{where(a.scope)}{title} ({labels.status(a.status)})"


def change_note(subject: str, w: WouldChange, decision: Decision) -> str:
    needs = [requirement(a, decision) for a in w.requires]
    if w.one_of:
        choices = "; ".join(requirement(a, decision) for a in w.one_of)
        head = "any one of" if w.choose == 1 else f"any {w.choose} of"
        needs.append(f"{head}: {choices}" if len(w.one_of) > 1 else choices)
    target = labels.determination(w.determination)
    if w.kind == CONTRADICTED:
        return f"{subject}: {target} only if a different finding were documented (the record contradicts it): " \
               + " and ".join(needs)
    if w.kind == CONTRADICTED_AND_DOCUMENTATION:
        return f"{subject}: {target} only if a different finding were documented (the record contradicts it) " \
               "and documentation obtained, each as marked: " + " and ".join(needs)
    return f"{subject}: documentation to obtain for {target}: " + " and ".join(needs)


def criterion_of(decision: Decision, cid: str, scope: str) -> CriterionResult | None:
    """The criterion as the decision reports it, at its scope if reported there."""
    found = [c for s in (*decision.levels, *decision.items) for c in s.criteria if c.id == cid]
    return next((c for c in found if c.scope == scope), found[0] if found else None)


class _Notes:
    def __init__(self) -> None:
        self.texts: dict[str, int] = {}

    def number(self, text: str) -> list[int]:
        """The numbers of a note: one, or one per part of a note too long for one (issued.split)."""
        return [self.texts.setdefault(part, len(self.texts) + 1) for part in split(text)]

    def json(self) -> list[dict[str, Any]]:
        return [{"number": n, "type": "display", "text": t} for t, n in self.texts.items()]


def subject_name(subject: LevelDecision | ItemDecision) -> str:
    return subject.level if isinstance(subject, LevelDecision) else labels.item(subject.item, subject.level)


def subject_notes(subject: LevelDecision | ItemDecision, decision: Decision, notes: _Notes) -> list[int]:
    numbers = [n for c in subject.criteria for n in notes.number(criterion_note(c))]
    numbers += [n for w in subject.would_change for n in notes.number(change_note(subject_name(subject), w, decision))]
    return numbers


# ---------------------------------------------------------------------------
# what to obtain: one CommunicationRequest per criterion, one per set of interchangeable ones
# ---------------------------------------------------------------------------


@dataclass
class _Wanted:
    choices: tuple[Assumption, ...]  # one criterion, or any one of several
    lines: list[int]  # the Claim items it would change
    choose: int = 1  # how many of the choices will do (a declared n_of): one unless said


def _wanted(obtain: tuple[WouldChange, ...]) -> list[tuple[tuple[Assumption, ...], int]]:
    out = [((a,), 1) for w in obtain for a in w.requires]
    out += [(w.one_of, w.choose) for w in obtain if w.one_of]
    return out


def _key(choices: tuple[Assumption, ...]) -> tuple[tuple[str, str], ...]:
    return tuple((a.criterion, a.scope) for a in choices)


def _what(a: Assumption, c: CriterionResult | None) -> str:
    if c is None:
        return f"{a.criterion}{where(a.scope)} ({labels.status(a.status)})"
    head = f"{a.criterion}{where(a.scope)}, {c.title} [{c.citation}], {labels.status(a.status)}"
    if c.unsettled:
        open_ = "; ".join(e.text for e in c.unsettled)
        return f"{head}: the record leaves it open ({open_})" + (f"; to settle it: {c.documentation}" if c.documentation else "")
    return f"{head}: document {c.documentation}" if c.documentation else head


def _communication(decision: Decision, wanted: _Wanted, codes: dict[str, Row], general: Row,
                   parties: dict[str, Any]) -> dict[str, Any]:
    found = [(a, criterion_of(decision, a.criterion, a.scope)) for a in wanted.choices]
    names = [f"{a.criterion}-{a.scope}" for a in wanted.choices]
    group = ([f"any-{wanted.choose}-of"] if wanted.choose > 1 else ["any-of"]) if len(found) > 1 else []
    attachments = {codes.get(a.criterion, general)["code"] for a in wanted.choices}
    code = attachments.pop() if len(attachments) == 1 else general["code"]
    if len(found) == 1:
        text = "Documentation to obtain: " + _what(*found[0])
    else:
        many = "any one of these will do" if wanted.choose == 1 else f"any {wanted.choose} of these will do"
        text = f"Documentation to obtain, {many}: " + " | ".join(_what(a, c) for a, c in found)
    resource: dict[str, Any] = {
        "resourceType": "CommunicationRequest",
        "meta": {"profile": [PROFILES["CommunicationRequest"]]},
        "id": resource_id("-".join([decision.case, *group, *names])),
        "identifier": [{"system": CASE_SYSTEM, "value": "/".join([decision.case, *group, *names])}],
        "status": "active",
        "category": [{"coding": [REPORT_TYPE]}],
        "medium": [{"coding": [MEDIUM]}],
        **parties,
        "payload": [{"contentString": code}],
        "reasonCode": [{"text": f"{a.criterion}{where(a.scope)}: {c.title} [{c.citation}]" if c else a.criterion}
                       for a, c in found],
        "note": [{"text": text}],
    }
    if len(wanted.lines) == 1:
        resource["extension"] = [{"url": SERVICE_LINE, "valuePositiveInt": wanted.lines[0]}]
    return resource


def _asking(decision: Decision, item: ClaimItem, code: Row, parties: dict[str, Any]) -> dict[str, Any]:
    """The CommunicationRequest for what the request lacks to decide a Claim item (its spinal level), tied
    to the item by its service line number."""
    missing = item.missing
    assert missing is not None
    name = f"{decision.case}/missing/item-{item.sequence}"
    return {
        "resourceType": "CommunicationRequest",
        "meta": {"profile": [PROFILES["CommunicationRequest"]]},
        "id": resource_id(name.replace("/", "-")),
        "extension": [{"url": SERVICE_LINE, "valuePositiveInt": item.sequence}],
        "identifier": [{"system": CASE_SYSTEM, "value": name}],
        "status": "active",
        "category": [{"coding": [REPORT_TYPE]}],
        "medium": [{"coding": [MEDIUM]}],
        **parties,
        "payload": [{"contentString": code["code"]}],
        "reasonCode": [{"text": f"Claim item {item.sequence} is not decided: {item.why_unmapped}"}],
        "note": [{"text": f"Information to send: {missing.what}, in {missing.element} (text such as L4-L5, or a "
                          "body-structure code), then submit the request again: the item is decided once it is known"}],
    }


# ---------------------------------------------------------------------------
# the Bundle
# ---------------------------------------------------------------------------


def _review(action: str, number: str | None = None) -> dict[str, Any]:
    """An adjudication carrying the PAS reviewAction: its code as the standalone reviewActionCode
    extension (by its full url, as ClaimResponse.fsh declares it), the authorization number, reasons."""
    row = next(r for r in table("review-actions") if r["action"] == action)
    ext: list[dict[str, Any]] = [{"url": "number", "valueString": number}] if number else []
    ext.append({"url": REVIEW_ACTION_CODE, "valueCodeableConcept": {
        "coding": [{"system": row["system"], "code": row["code"], "display": row["display"]}]}})
    for reason in (r for r in table("reason-codes") if r["action"] == action):
        ext.append({"url": "reasonCode", "valueCodeableConcept": {
            "coding": [{"system": reason["system"], "code": reason["code"], "display": reason["display"]}]}})
    return {"extension": [{"url": REVIEW_ACTION, "extension": ext}],
            "category": {"coding": [{"system": ADJUDICATION, "code": "submitted"}]}}


def _approval(number: str, decided: str) -> list[dict[str, Any]]:
    """The must-support extensions of an approved item: the day it was issued and the period it is valid."""
    return [{"url": ISSUE_DATE, "valueDate": decided[:10]},
            {"url": PREAUTH_PERIOD, "valuePeriod": validity(decided)}]


def _subject(decision: Decision, item: ClaimItem) -> LevelDecision | ItemDecision | None:
    if item.subject is None:
        return None
    kind, name, at = item.subject
    try:
        return decision.level(name) if kind == "level" else decision.item(name, at)
    except KeyError:
        return None


def action_for(decision: Decision, item: ClaimItem) -> tuple[Action, LevelDecision | ItemDecision | None]:
    subject = _subject(decision, item)
    if subject is None:
        if item.subject is not None:
            return Action("pended", f"item {item.sequence}: not decided: the decision holds no "
                                    f"{labels.item(item.subject[1])}; pended for manual review"), None
        return unmapped_action(item), None
    if isinstance(subject, LevelDecision):
        return level_action(subject, item.subject[2]), subject
    return item_action(subject), subject


def _decompression_coding(request: Request, level: str) -> dict[str, Any]:
    for item in request.items:
        if item.subject == ("level", level, "decompression") and item.coding:
            return item.coding
    row = next(r for r in table("procedures") if r["service"] == "decompression")
    return {"system": row["system"], "code": row["code"], "display": row["display"]}


def _body_site(level: str) -> dict[str, Any]:
    row = next(r for r in table("body-sites") if r["level"] == level)
    return {"coding": [{"system": row["system"], "code": row["code"], "display": row["display"]}]}


def _parties(request: Request, resolved: dict[str, str | None]) -> dict[str, Any]:
    """Who asks for documentation (the payer), who is to send it (the requestor) and who receives it."""
    out: dict[str, Any] = {"requester": _ref(request.insurer, resolved), "recipient": [_ref(request.insurer, resolved)]}
    if request.requestor is not None and _kind(request.requestor, resolved, request) == "Organization":
        out["sender"] = _ref(request.requestor, resolved)
    return out


def _ref(reference: dict[str, Any], resolved: dict[str, str | None]) -> dict[str, Any]:
    """A reference of the request as the response makes it: to the echoed entry's fullUrl when it resolves."""
    url = resolved.get(reference.get("reference") or "")
    return {**reference, "reference": url} if url else reference


def _kind(reference: dict[str, Any], resolved: dict[str, str | None], request: Request) -> str | None:
    """The resource type a reference points at: the echoed resource's, else the one its text names."""
    url = resolved.get(reference.get("reference") or "")
    kinds = {u: r.get("resourceType") for u, r in request.echo}
    if url in kinds:
        return kinds[url]
    text = reference.get("reference") or ""
    return next((t for t in ("Organization", "PractitionerRole", "Practitioner") if f"/{t}/" in f"/{text}"), None)


def _resolved(request: Request) -> dict[str, str | None]:
    """Each reference of the Claim the response repeats, resolved to the echoed entry it points at."""
    listed = [(url, r.get("resourceType"), r.get("id")) for url, r in request.echo]
    refs = [request.patient, request.insurer, request.requestor or {}]
    return {t: resolve(t, request.claim_url, listed) for t in (r.get("reference") for r in refs) if t}


def _request_key(request: Request) -> str:
    """What names the request for its authorization numbers: the Claim's identifier, else its fullUrl."""
    ident = request.claim_identifier or {}
    return f"{ident.get('system', '')}|{ident['value']}" if ident.get("value") else request.claim_url


def to_response(decision: Decision, request: Request, policy: Policy, decided: str | None = None) -> dict[str, Any]:
    """The PAS response Bundle for a decision on a request, under ``policy`` (the one that decided it).

    ``decided`` is the time of decision (a FHIR instant); by default $NECESSITY_DECISION_TIME, else now.
    """
    from exchange.documents import attachment_codes, attachment_for, general_attachment

    decided = decision_time(decided)
    decision = noticed(decision, request)
    notes = _Notes()
    p = decision.policy
    key = _request_key(request)
    items, add_items = [], []
    said: list[tuple[str, str]] = []  # (what, review action) for the disposition
    wanted: dict[tuple[tuple[str, str], ...], _Wanted] = {}

    def want(action: Action, line: int | None) -> None:
        for choices, choose in _wanted(action.obtain) if action.action == "pended" else ():
            entry = wanted.setdefault((*_key(choices), ("choose", str(choose))), _Wanted(choices, [], choose))
            if line is not None and line not in entry.lines:
                entry.lines.append(line)

    first = notes.number("Decided under")  # placeholder: the first note is written once the items are known
    for notice in decision.notices:
        notes.number(f"Notice: {notice.text}")
    modified: dict[str, list[int]] = {}
    answered: dict[int, tuple[Action, list[int]]] = {}
    for ci in request.items:
        action, subject = action_for(decision, ci)
        numbers = notes.number(action.reason)
        if subject is not None:
            numbers += subject_notes(subject, decision, notes)
        answered[ci.sequence] = (action, numbers)
        if action.action == "modified" and ci.subject is not None:
            modified.setdefault(ci.subject[1], []).append(ci.sequence)
    decompressed = {ci.subject[1]: ci.sequence for ci in request.items
                    if ci.subject is not None and ci.subject[0] == "level" and ci.subject[2] == "decompression"
                    and answered[ci.sequence][0].action == "certified"}
    for level, sequences in modified.items():
        if level in decompressed:
            # The decompression is requested by an item of its own, which is certified: it is not authorised twice.
            text = f"{level}: decompression is authorised in place of the requested fusion, by item {decompressed[level]}"
            for n in sequences:
                answered[n][1].extend(notes.number(text))
            continue
        number = reference_number(key, "add", sequences[0])
        others = f" (the fusion items {', '.join(map(str, sequences))})" if len(sequences) > 1 else ""
        add_items.append({
            "extension": _approval(number, decided),
            "itemSequence": [sequences[0]],  # 1..1 in PAS; an array in JSON (0..* in R4)
            "productOrService": {"coding": [_decompression_coding(request, level)]},
            "bodySite": _body_site(level),
            "noteNumber": notes.number(f"{level}: decompression is authorised in place of the requested fusion{others}"),
            "adjudication": [_review("certified", number)],
        })
    for ci in request.items:
        action, numbers = answered[ci.sequence]
        item: dict[str, Any] = {"itemSequence": ci.sequence, "noteNumber": list(dict.fromkeys(numbers))}
        number = reference_number(key, ci.sequence) if action.action == "certified" else None
        if number:
            item["extension"] = _approval(number, decided)
        items.append({**item, "adjudication": [_review(action.action, number)]})
        said.append((f"item {ci.sequence}", action.action))
        want(action, ci.sequence)
    covered = {ci.subject for ci in request.items}
    header = []
    for it in decision.items:
        if ("item", it.item, it.level) in covered:
            continue
        # Requested through the Claim as a whole (the inpatient setting from the Claim): its review
        # action is the Claim's own adjudication, its notes claim-level notes.
        action = item_action(it)
        notes.number(f"{action.reason} (requested by the Claim as a whole, not by one item)")
        subject_notes(it, decision, notes)
        header.append(_review(action.action, reference_number(key, it.item) if action.action == "certified" else None))
        said.append((labels.item(it.item, it.level), action.action))
        want(action, None)
    disposed = disposition(said)
    notes.texts = {(f"Decided under {p.id} version {p.version} (effective {p.effective}): {disposed}"
                    if n == first[0] else t): n for t, n in notes.texts.items()}
    resolved = _resolved(request)
    codes, general = attachment_codes(policy), general_attachment()
    parties = _parties(request, resolved)
    communications = [_communication(decision, w, codes, general, parties) for w in wanted.values()]
    communications += [_asking(decision, ci, attachment_for(ci.missing.field), parties) for ci in request.items
                       if ci.missing is not None and not ci.cancelled and answered[ci.sequence][0].action == "pended"]
    cid = decision.case
    response: dict[str, Any] = {
        "resourceType": "ClaimResponse",
        "id": resource_id(f"{cid}-response"),
        "meta": {"profile": [PROFILES["ClaimResponse"]]},
        "identifier": [{"system": CASE_SYSTEM, "value": cid}],
        "status": "active",
        "type": request.claim_type,
        "use": "preauthorization",
        "patient": _ref(request.patient, resolved),
        "created": decided,
        "insurer": _ref(request.insurer, resolved),
        "request": {"reference": request.claim_url, **({"identifier": request.claim_identifier} if request.claim_identifier else {})},
        "outcome": "complete",
        "disposition": f"{disposed} (under {p.id} {p.version})",
        "item": items,
    }
    if request.requestor is not None:
        response["requestor"] = _ref(request.requestor, resolved)
    if any(a in ("certified", "modified") for _, a in said) or add_items:
        response["preAuthRef"] = reference_number(key)
        response["preAuthPeriod"] = validity(decided)
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
    echoed = set(resolved.values())
    entries += [{"fullUrl": url, "resource": resource} for url, resource in request.echo if url in echoed]
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "meta": {"profile": [PROFILES["Bundle"]]},
        "identifier": {"system": CASE_SYSTEM, "value": f"{cid}/response"},
        "type": "collection",
        "timestamp": decided,
        "entry": entries,
    }
    return plain(bundle)
