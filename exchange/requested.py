"""Reading the Claim of a PAS request: what each item requests, at which level, in which setting,
and the documented plan folded into it (``merge_request``).

Each item's code (exchange/data/procedures.csv; a CPT code sent under the
HCPCS system as well, code-systems.csv) names a service; its level comes
from the body site: a code of body-sites.csv, or the text (``L4-L5``,
``L4/5``, ``L4-5``), else from the QuestionnaireResponse when it documents
the service at one level only (``place``).  The inpatient setting is
requested as PAS requests it: a line of request type AR (request-types.csv)
or an admission code; the place of service never requests a stay.

What is read is read whole: two codings of one element that mean different
things, a body site naming two levels, two sides on one item, a sequence
given twice are refused at their element path, never the first or last
taken.  What cannot be decided is pended, never refused: an item with no
row, one whose level cannot be found (what would let it be decided is named,
for a CommunicationRequest), one the requester cancelled
(``modifierextension-infoCancelled``) or that carries a modifier extension
this reader does not know.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.deciding.decision import ITEM_NOT_DECIDED, NOT_READ, Notice
from engine.presenting import labels
from exchange.bundle import as_json
from exchange.strict import shown
from exchange.tables import Row, admits, default_value, is_category, lookup, meaning, values
from facts.model import INPATIENT_ITEM
from facts.terms import SPINAL_LEVELS

if TYPE_CHECKING:
    from exchange import form

REQUEST_TYPE_EXT = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-serviceItemRequestType"
INFO_CANCELLED = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/modifierextension-infoCancelled"
#: Extensions only a PAS inquiry's Claim carries (PASClaimInquiry): an inquiry asks about
#: authorizations already given, it requests none.
INQUIRY_MARKS = ("profile-claim-inquiry", "profile-pas-inquiry-request-bundle", "extension-reviewActionCode",
                 "extension-itemCertificationIssueDate", "extension-itemCertificationEffectiveDate",
                 "extension-itemCertificationExpirationDate")
LEVEL_SERVICES = ("decompression", "fusion", "instrumentation")
#: The part of the documented plan (request.levels[]) that documents a service at a level.
PLAN_PART = {"decompression": "decompression", "fusion": "fusion", "instrumentation": "fusion"}


@dataclass(frozen=True)
class Missing:
    """What a request lacks to decide a Claim item: the response asks for it (a CommunicationRequest)."""

    what: str  # in words: "the spinal level of Claim item 1"
    element: str  # the element path that would carry it: "Bundle.entry[0].resource.item[0].bodySite"
    field: str  # the case record field it gives (request.levels[].level): its attachment code (attachments.csv)


def level_missing(sequence: int, where: str) -> Missing:
    """The spinal level of a Claim item, given by its bodySite."""
    return Missing(f"the spinal level of Claim item {sequence}", f"{where}.bodySite", "request.levels[].level")


@dataclass(frozen=True)
class ClaimItem:
    """One Claim item and what the engine decides for it."""

    sequence: int
    coding: dict[str, Any] | None  # the coding the mapping table read, as given
    subject: tuple[str, str, str | None] | None  # ("level", L, service) or ("item", name, level); None: not decided
    location: dict[str, Any] | None = None
    why_unmapped: str | None = None  # why the item is not decided (pended for manual review)
    #: the requester cancelled the item (modifierextension-infoCancelled): never decided, never certified
    cancelled: bool = False
    #: what the request lacks to decide the item (its spinal level), for a CommunicationRequest asking for it
    missing: Missing | None = None


#: How long an item whose level is missing stays pended: the response asks for the level (exchange/response.py).
UNTIL_LEVEL = "until its spinal level is sent"


class Reading:
    """What reading a request found: problems (refused), warnings and notices (reported)."""

    def __init__(self, source: str):
        self.source = source
        self.problems: list[tuple[str, str]] = []
        self.warnings: list[str] = []
        self.unread: list[tuple[str, str]] = []  # (element path, why) of the Claim items that cannot be read
        self.notices: list[Notice] = []

    def warn(self, where: str, message: str) -> None:
        text = shown(f"{where}: {message}")
        self.warnings.append(text)
        self.notices.append(Notice(NOT_READ, f"not read from the request: {text}"))

    def not_read(self, where: str, why: str, fix: str, sequence: int, coding: Any,
                 pended: str = "for manual review") -> None:
        """A Claim item that cannot be decided: reported, and pended (``pended`` says for what or until when)."""
        why = shown(why)
        self.unread.append((where, why))
        self.warnings.append(f"{where}: {why}: {fix}not decided; the item is pended {pended}")
        code = shown(coding.code) if coding is not None and coding.code else "no code"
        self.notices.append(Notice(ITEM_NOT_DECIDED, f"Claim item {sequence} ({code}) is not decided: {why} "
                                                     f"({where}); pended {pended}"))

    def refusal(self, what: str, fix: str) -> str:
        """A refusal about what the Claim requests: the items that could not be read are named with it."""
        if not self.unread:
            return f"{what}: {fix}"
        unread = "; ".join(f"{w}: {why}" for w, why in self.unread)
        return (f"{what}, as far as its items can be read; not read: {unread}: give each item a code and body site "
                f"the tables in exchange/data/ map, or {fix}")


def codings(concept: Any) -> list[Any]:
    return list(getattr(concept, "coding", None) or []) if concept is not None else []


def said(c: Any) -> str:
    if c is None:
        return "no coding"
    return shown(f"{c.system or '(no system)'}|{c.code}" + (f" ({c.display})" if c.display else ""))


def mapped(name: str, concept: Any, where: str, r: Reading) -> tuple[Row | None, Any]:
    """The row the codings of a concept map to, and the coding read (or reported when none maps).

    Codings that map to rows meaning different things are refused; a coding
    no row maps beside one that maps is reported as not read.
    """
    found: list[tuple[int, Row, Any]] = []
    unmapped: list[tuple[int, Any]] = []
    for n, c in enumerate(codings(concept)):
        row = lookup(name, c.system, c.code)
        if row is None:
            unmapped.append((n, c))
        else:
            found.append((n, row, c))
    if not found:
        return None, unmapped[0][1] if unmapped else None
    n0, row, coding = found[0]
    for n, other, c in found[1:]:
        if meaning(other) != meaning(row):
            r.problems.append((f"{where}.coding[{n}]", f"{said(c)} says {' '.join(meaning(other))}, while coding[{n0}] "
                                                       f"{said(coding)} says {' '.join(meaning(row))}: the codings of "
                                                       "one element are one concept: keep the one meant"))
    for n, c in unmapped:
        if not is_category(c.system, c.code):
            r.warn(f"{where}.coding[{n}]", f"{said(c)} has no row in exchange/data/{name}.csv: coding[{n0}] "
                                           f"{said(coding)} is read")
    return row, coding


_LEVEL_TEXT = re.compile(r"(?<![A-Za-z0-9])([TLS])\s*(\d{1,2})\s*(?:-|/|–|to)\s*([TLS]?)\s*(\d{1,2})(?![0-9])", re.I)


def levels_in(text: str) -> list[str]:
    """The spinal levels a body site's text names (``L4-L5``, ``L4/5``, ``L4-5``, ``L5/S1``), in order."""
    out: list[str] = []
    for upper, a, lower, b in _LEVEL_TEXT.findall(text):
        level = f"{upper.upper()}{int(a)}-{(lower or upper).upper()}{int(b)}"
        if level in SPINAL_LEVELS and level not in out:
            out.append(level)
    return out


def _site(item: Any, here: str, r: Reading) -> tuple[str | None, str | None, str]:
    """The level an item's body site names, or why none is found (None, None: no body site), and the element
    path that says it (the one coding no row maps, when the body site is that coding alone)."""
    site = item.bodySite
    at = f"{here}.bodySite"
    if site is None:
        return None, None, at
    found: dict[str, str] = {}
    unmapped = []
    for n, c in enumerate(codings(site)):
        row = lookup("body-sites", c.system, c.code)
        if row is None:
            unmapped.append((n, c))
        else:
            found.setdefault(row["level"], f"{here}.bodySite.coding[{n}]")
    for level in levels_in(site.text or ""):
        found.setdefault(level, f"{here}.bodySite.text")
    if len(found) > 1:
        (a, wa), (b, wb) = list(found.items())[:2]
        r.problems.append((wb, f"names {b}, while {wa} names {a}: a Claim item is done at one level: send one item "
                               "per level"))
    if found:
        for n, c in unmapped:
            r.warn(f"{here}.bodySite.coding[{n}]", f"body site {said(c)} has no row in exchange/data/body-sites.csv: "
                                                   "not read")
        return next(iter(found)), None, at
    given = [said(c) for _, c in unmapped] + ([f"text '{shown(site.text)}'"] if site.text else [])
    if len(given) == 1 and unmapped:
        at = f"{at}.coding[{unmapped[0][0]}]"
    return None, f"body site {', '.join(given) or '(empty)'} names no spinal level exchange/data/body-sites.csv maps", at


def _side(item: Any, here: str, r: Reading) -> str | None:
    sides: dict[str, str] = {}
    for m_index, m in enumerate(item.modifier or []):
        row, c = mapped("modifiers", m, f"{here}.modifier[{m_index}]", r)
        if row is None:
            r.warn(f"{here}.modifier[{m_index}]", f"modifier {said(c)} has no row in exchange/data/modifiers.csv: "
                                                  "not read")
        else:
            sides.setdefault(row["side"], f"{here}.modifier[{m_index}]")
    if len(sides) > 1:
        (a, wa), (b, wb) = list(sides.items())[:2]
        r.problems.append((wb, f"says the {b} side, while {wa} says the {a} side: one item has one side: send a "
                               "bilateral item (modifier 50), or one item per side"))
    return next(iter(sides), None)


def _cancelled(item: Any, here: str, r: Reading) -> tuple[bool, str | None]:
    """Whether the requester cancelled the item, and a modifier extension this reader does not know."""
    cancelled = False
    for n, ext in enumerate(item.modifierExtension or []):
        if ext.url == INFO_CANCELLED:
            cancelled = cancelled or ext.valueBoolean is True
        else:
            return cancelled, f"{here}.modifierExtension[{n}]"
    return cancelled, None


@dataclass
class Line:
    """A Claim item whose code is read: what it requests, and where its level comes from."""

    where: str
    sequence: int
    row: Row
    raw: dict[str, Any] | None
    coding: Any
    location: dict[str, Any] | None
    level: str | None
    why_no_level: str | None
    no_level_at: str  # the element path of the body site (or of its one coding no row maps)
    entry: dict[str, Any] | None = None  # an item service: the case record's request.items entry


@dataclass
class ClaimRead:
    """The Claim's items as read: each a decided-later Line or a ClaimItem pended now, in Claim order."""

    slots: list[Line | ClaimItem] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)  # setting -> the element requesting it
    inquiry: bool = False


def _marks(value: Any) -> bool:
    text = " ".join(str(x) for x in value)
    return any(mark in text for mark in INQUIRY_MARKS)


def is_inquiry(bundle: Any, claim: Any) -> bool:
    """A PAS inquiry ($inquire) rather than a submission: its profile, or the extensions only an inquiry's items carry."""
    profiles = [*(bundle.meta.profile if bundle.meta and bundle.meta.profile else []),
                *(claim.meta.profile if claim.meta and claim.meta.profile else [])]
    urls = [e.url for e in claim.extension or []] + [e.url for it in claim.item or [] for e in it.extension or []]
    return _marks(profiles) or _marks(urls)


def read_items(claim: Any, at: str, r: Reading) -> ClaimRead:
    """Every item of the Claim: read into a Line, or pended as a ClaimItem with the reason."""
    out = ClaimRead()
    sequences: dict[int, str] = {}
    for i, item in enumerate(claim.item or []):
        here = f"{at}.item[{i}]"
        if item.sequence in sequences:
            r.problems.append((f"{here}.sequence", f"{item.sequence} is the sequence of {sequences[item.sequence]} "
                                                   "too: each Claim item has its own sequence (the response answers "
                                                   "by it)"))
            continue
        sequences[item.sequence] = here
        row, coding = mapped("procedures", item.productOrService, f"{here}.productOrService", r)
        raw = as_json(coding) if coding is not None else None
        location = as_json(item.locationCodeableConcept) if item.locationCodeableConcept else None
        cancelled, unknown = _cancelled(item, here, r)
        if cancelled:
            why = "cancelled by the requester (modifierextension-infoCancelled)"
            r.not_read(f"{here}.modifierExtension", why, "", item.sequence, coding)
            out.slots.append(ClaimItem(item.sequence, raw, None, location, why, cancelled=True))
            continue
        if unknown is not None:
            why = "it carries a modifier extension this reader does not understand (FHIR: it may change the item's meaning)"
            r.not_read(unknown, why, "", item.sequence, coding)
            out.slots.append(ClaimItem(item.sequence, raw, None, location, why))
            continue
        for n, ext in enumerate(item.extension or []):
            if ext.url == REQUEST_TYPE_EXT:
                kind, _ = mapped("request-types", ext.valueCodeableConcept, f"{here}.extension[{n}].valueCodeableConcept", r)
                if kind is not None and kind["setting"]:
                    out.settings.setdefault(kind["setting"], f"{here}.extension[{n}]")
        if row is None:
            why = (f"{said(coding)} has no row in exchange/data/procedures.csv: not a service this engine decides "
                   "under the policy")
            r.not_read(f"{here}.productOrService", why, "", item.sequence, coding)
            out.slots.append(ClaimItem(item.sequence, raw, None, location, why))
            continue
        level, why_no_level, no_level_at = _site(item, here, r)
        line = Line(here, item.sequence, row, raw, coding, location, level, why_no_level, no_level_at)
        service = row["service"]
        if service == "item":
            name, _, detail = row["values"].partition(":")
            if why_no_level is not None:
                r.not_read(no_level_at, why_no_level, "the item's level is unknown; ", item.sequence, coding,
                           pended=UNTIL_LEVEL)
                out.slots.append(ClaimItem(item.sequence, raw, None, location, why_no_level,
                                           missing=level_missing(item.sequence, here)))
                continue
            line.entry = {"item": name, **({"level": level} if level else {}), **({"source": detail} if detail else {})}
            side = _side(item, here, r)
            if side is not None:
                line.entry["side"] = side
        elif service == "admission":
            out.settings.setdefault(row["values"], f"{here}.productOrService")
        out.slots.append(line)
    return out


@dataclass
class Placed:
    """What the Claim requests, once every line has its level: the case record's request, and its items."""

    levels: dict[str, dict[str, Any]] = field(default_factory=dict)
    rows: dict[str, dict[str, list[tuple[Row, str]]]] = field(default_factory=dict)  # level -> service -> codes
    case_items: list[dict[str, Any]] = field(default_factory=list)
    origin: dict[str, str] = field(default_factory=dict)
    items: list[ClaimItem] = field(default_factory=list)
    requested_items: dict[str, str] = field(default_factory=dict)


def _documented_at(documented: list[dict[str, Any]], service: str) -> list[str]:
    part = PLAN_PART[service]
    return [e["level"] for e in documented if isinstance(e, dict) and part in e and e.get("level")]


def place(read: ClaimRead, documented: list[dict[str, Any]], r: Reading) -> Placed:
    """Each line at its level (from its body site, else the one level the QuestionnaireResponse documents the
    service at); a line whose level cannot be found is pended with what would let it be decided."""
    out = Placed()
    for slot in read.slots:
        if isinstance(slot, ClaimItem):
            out.items.append(slot)
            continue
        line, service = slot, slot.row["service"]
        if service in LEVEL_SERVICES:
            level = line.level
            if level is None:
                candidates = _documented_at(documented, service)
                if len(candidates) == 1 and line.why_no_level is None:
                    level = candidates[0]
                    out.origin.setdefault(f"request.levels.{level}", line.where)
            if level is None:
                why = line.why_no_level or (f"{said(line.coding)} is done at a spinal level, and neither the item "
                                            "(bodySite) nor the QuestionnaireResponse says which one")
                r.not_read(line.no_level_at, why, "give bodySite; ", line.sequence, line.coding,
                           pended=UNTIL_LEVEL)
                out.items.append(ClaimItem(line.sequence, line.raw, None, line.location, why,
                                           missing=level_missing(line.sequence, line.where)))
                continue
            entry = out.levels.setdefault(level, {"level": level})
            out.origin.setdefault(f"request.levels.{level}", line.where)
            out.rows.setdefault(level, {}).setdefault(service, []).append((line.row, line.where))
            if service == "decompression":
                entry.setdefault("decompression", {})  # the technique: merged with the answers
            else:
                fusion = entry.setdefault("fusion", {})
                if service == "fusion":
                    for approach in (default_value(line.row) or "").split("+"):
                        if approach and approach not in fusion.setdefault("approaches", []):
                            fusion["approaches"].append(approach)
                else:
                    fusion["instrumentation"] = True
            out.items.append(ClaimItem(line.sequence, line.raw, ("level", level, service), line.location))
        elif service == "item":
            entry = line.entry or {}
            named = labels.item(entry["item"], entry.get("level"))
            if named in out.requested_items:
                r.problems.append((f"{line.where}.productOrService", f"requests {named} again (first at "
                                   f"{out.requested_items[named]}): request each item once per level"))
                continue
            out.requested_items[named] = line.where
            out.origin[f"request.items[{len(out.case_items)}]"] = line.where
            out.case_items.append(entry)
            out.items.append(ClaimItem(line.sequence, line.raw, ("item", entry["item"], entry.get("level")),
                                       line.location))
        else:  # admission
            out.items.append(ClaimItem(line.sequence, line.raw, ("item", INPATIENT_ITEM, None), line.location))
    for entry in out.case_items:
        if entry.get("level") is not None and entry["level"] not in out.levels:
            where = out.requested_items[labels.item(entry["item"], entry["level"])]
            r.problems.append((f"{where}.bodySite", r.refusal(
                f"requests {labels.item(entry['item'], entry['level'])}, where the Claim requests no decompression "
                "or fusion", "add the level's service, or correct the body site")))
    return out


# ---------------------------------------------------------------------------
# the documented plan merged with what the Claim requests
# ---------------------------------------------------------------------------


def merge_request(documented: dict[str, Any], levels: dict[str, dict[str, Any]],
                  rows: dict[str, dict[str, list[tuple[Row, str]]]], request: dict[str, Any],
                  reader: form.Reader, r: Reading) -> None:
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
               r: Reading) -> str | None:
    """The one decompression technique the case record holds for a level: what every code covers.

    A level has one technique in the case record; two codes that name
    different ones (63030 laminotomy, 63005 laminectomy) cannot both be read
    into it, so one is never silently kept over the other.
    """
    if answered is not None:
        refusing = [(row, at) for row, at in codes if not admits(row, answered)]
        if refusing:
            r.problems.append((where or refusing[0][1],
                               f"technique {answered} at {level} disagrees with the Claim's code "
                               f"{_coded(refusing)}: correct one of them"))
        return answered
    defaults = list(dict.fromkeys(t for t in (default_value(row) for row, _ in codes) if t))
    if len(defaults) > 1:
        shared = [v for v in values(codes[0][0]) if v != "*" and all(admits(row, v) for row, _ in codes)]
        fix = (f"answer request.levels[].decompression.technique for {level} with {' or '.join(shared)}, which "
               "every code covers, or request one decompression code" if shared else "request one decompression code")
        r.problems.append((codes[1][1], f"requests decompression at {level} by {defaults[1]} ({codes[1][0]['code']}), "
                                        f"while {codes[0][1]} requests {defaults[0]} ({codes[0][0]['code']}): the case "
                                        f"record holds one technique per level: {fix}"))
    return defaults[0] if defaults else None


def _check_approaches(level: str, approaches: list[str], codes: list[tuple[Row, str]], where: str | None,
                      r: Reading) -> None:
    """The answered approaches say which of its values each fusion code means; they add none and drop none."""
    for approach in approaches:
        if codes and not any(admits(row, approach) for row, _ in codes):
            r.problems.append((where or codes[0][1],
                               f"approach {approach} at {level} disagrees with the Claim's fusion code "
                               f"{_coded(codes)}: correct one of them"))
    for row, at in codes:
        vals = values(row)
        if "*" in vals or any(set(v.split("+")) <= set(approaches) for v in vals):
            continue
        means = " or ".join(v.replace("+", " with ") for v in vals)
        r.problems.append((where or at, f"approaches {', '.join(approaches) or '(none)'} at {level} leave out what "
                                        f"the Claim's code {row['code']} at {at} requests ({means}): answer every "
                                        "approach the Claim's codes request, or correct the Claim"))
