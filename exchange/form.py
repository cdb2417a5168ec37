"""The case record's documentation as a DTR Questionnaire and its QuestionnaireResponse.

The form is the case model itself: one item per field, its ``linkId`` the
field's path as ``necessity vocab --fields`` prints it
(``imaging[].levels[].stenosis[].grade``), a group per record, a repeating
group per list of records.  Nothing here is listed by hand: the items, their
types and their answer options come from the model's declarations.

Three states are kept apart in the answers as in a case file: an answered
item is documented; ``false`` (or a list's gate item answered ``false``) is
documented false; an item left unanswered is not documented.  A list the
record may leave out (``history.prior_surgeries``) has a yes/no gate item
under its own path and its entries under ``path[]``.

What the Claim carries (the request's date, setting, services and items) is
not asked here: exchange.request reads it from the Claim.
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from functools import lru_cache
from typing import Any

from pydantic import BaseModel

from facts.footprint import checked_by, strip
from facts.model import Case, CaseDate, Level, MrcGrade, Vertebra
from facts.terms import SPINAL_LEVELS, VERTEBRAE

LEVEL_SYSTEM = "urn:necessity:spinal-level"
VERTEBRA_SYSTEM = "urn:necessity:vertebra"
VOCABULARY_SYSTEM = "urn:necessity:vocabulary:"
ITEM_CONTROL = "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl"
ITEM_CONTROL_SYSTEM = "http://hl7.org/fhir/questionnaire-item-control"
SDC = "http://hl7.org/fhir/uv/sdc/StructureDefinition/"
LAUNCH_CONTEXT = SDC + "sdc-questionnaire-launchContext"
INITIAL_EXPRESSION = SDC + "sdc-questionnaire-initialExpression"
CQF_LIBRARY = "http://hl7.org/fhir/StructureDefinition/cqf-library"
#: The CQL library that prepopulates the form from US Core data (exchange/data/LumbarSpinePrepopulation.cql).
LIBRARY_NAME = "LumbarSpinePrepopulation"
LIBRARY_URL = f"urn:necessity:library:{LIBRARY_NAME}"
#: The request date: carried by the Claim (Claim.created) and read from it; the form shows it, read-only.
REQUEST_DATE = "request.date"

#: Text fields whose values the vocabulary closes, by the type the model checks them with.
CLOSED_TEXT = ((Level, LEVEL_SYSTEM, SPINAL_LEVELS), (Vertebra, VERTEBRA_SYSTEM, VERTEBRAE))

#: Fields the Claim carries, never asked in the form (exchange.request reads them).
CLAIM_FIELDS = frozenset({"case", "assessment", "request.date", "request.setting", "request.items"})


class FormError(Exception):
    """An answer that cannot be read: where (an element path) and what to do."""

    def __init__(self, where: str, message: str):
        self.where, self.message = where, message
        super().__init__(f"{where}: {message}")


# ---------------------------------------------------------------------------
# the model as a tree of fields
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    path: str
    name: str
    base: Any
    is_list: bool
    meta: tuple[Any, ...]
    required: bool
    default: Any
    description: str | None
    children: tuple["Field", ...] = field(default=())

    @property
    def is_record(self) -> bool:
        return isinstance(self.base, type) and issubclass(self.base, BaseModel) and self.base not in (CaseDate, MrcGrade)

    @property
    def gated(self) -> bool:
        """A list the record may leave out: None (not documented) is not [] (documented none)."""
        return self.is_list and not self.required and self.default is None

    @property
    def entries(self) -> str:
        """The linkId of the list's entries: the path itself unless a gate item holds it."""
        return self.path + "[]" if self.is_list and (self.is_record or self.gated) else self.path

    @property
    def closed(self) -> tuple[str, tuple[str, ...]] | None:
        """For text the vocabulary closes (a spinal level, a vertebra): its code system and values."""
        for annotated, system, values in CLOSED_TEXT:
            if checked_by(list(self.meta), annotated):
                return system, values
        return None

    def child(self, name: str) -> "Field":
        return next(c for c in self.children if c.name == name)


def _fields(model: type[BaseModel], prefix: str) -> tuple[Field, ...]:
    out = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        if path in CLAIM_FIELDS or typing.get_origin(strip(info.annotation)[0]) is dict:
            continue
        base, is_list, meta = strip(info.annotation)
        f = Field(path, name, base, is_list, tuple(list(info.metadata) + meta), info.is_required(),
                  None if info.is_required() else info.get_default(call_default_factory=True), info.description)
        if f.is_record:
            f = Field(f.path, f.name, f.base, f.is_list, f.meta, f.required, f.default, f.description,
                      _fields(base, f"{path}[]." if is_list else f"{path}."))
        out.append(f)
    return tuple(out)


@lru_cache(maxsize=1)
def tree() -> tuple[Field, ...]:
    """Every field of the case model the form holds, nested as the model nests them."""
    return _fields(Case, "")


def every_field(fields: tuple[Field, ...] | None = None) -> list[Field]:
    out = []
    for f in tree() if fields is None else fields:
        out.append(f)
        out.extend(every_field(f.children))
    return out


def _system(enum: type[Enum]) -> str:
    return VOCABULARY_SYSTEM + re.sub(r"(?<!^)(?=[A-Z])", "-", enum.__name__).lower()


def _words(name: str) -> str:
    return name.replace("_", " ").replace("pct", "%").strip().capitalize()


# ---------------------------------------------------------------------------
# the Questionnaire
# ---------------------------------------------------------------------------


def _answer_options(f: Field) -> list[dict[str, Any]] | None:
    if isinstance(f.base, type) and issubclass(f.base, Enum):
        system = _system(f.base)
        return [{"valueCoding": {"system": system, "code": m.value, "display": _words(m.value)}} for m in f.base]
    if f.closed is not None:
        system, values = f.closed
        return [{"valueCoding": {"system": system, "code": v, "display": v}} for v in values]
    return None


def _item_type(f: Field) -> str:
    if f.is_record:
        return "group"
    if f.base is bool:
        return "boolean"
    if _answer_options(f) is not None:
        return "choice"
    if f.base is CaseDate:
        return "date"
    if f.base is int:
        return "integer"
    if f.base is float:
        return "decimal"
    return "string"


def _help(f: Field, readers: dict[str, list[tuple[str, str, str]]]) -> list[dict[str, Any]]:
    """A help item naming the criteria that read the field (SDC itemControl ``help``, must-support in DTR)."""
    criteria = readers.get(f.path)
    if not criteria:
        return []
    text = "; ".join(f"{cid} {title} [{citation}]" for cid, title, citation in criteria)
    return [{
        "linkId": f"{f.path}#criteria",
        "text": f"Read by {text}",
        "type": "display",
        "extension": [{"url": ITEM_CONTROL, "valueCodeableConcept": {
            "coding": [{"system": ITEM_CONTROL_SYSTEM, "code": "help", "display": "Help-Button"}]}}],
    }]


def _question(f: Field, siblings: tuple[Field, ...], readers, wanted: set[str] | None) -> list[dict[str, Any]]:
    enable = []
    present = next((s for s in siblings if s.name == "present" and s.base is bool), None)
    if present is not None and f is not present:
        enable = [{"question": present.path, "operator": "=", "answerBoolean": True}]
    out: list[dict[str, Any]] = []
    if f.gated:
        gate = {"linkId": f.path, "type": "boolean",
                "text": f"{_words(f.name)}: any? (no: the record documents that there were none; "
                        "leave unanswered when it does not say)"}
        if enable:
            gate["enableWhen"] = enable
        out.append(gate)
        enable = [{"question": f.path, "operator": "=", "answerBoolean": True}]
    item: dict[str, Any] = {"linkId": f.entries, "text": f.description or _words(f.name), "type": _item_type(f)}
    _coded(item, f.path)
    if f.required and not f.is_list:
        item["required"] = True
    if f.is_list:
        item["repeats"] = True
    if enable:
        item["enableWhen"] = enable
    options = _answer_options(f)
    if options is not None and not f.is_record:
        item["answerOption"] = options
    children = _help(f, readers)
    if f.is_record:
        children += [q for c in f.children if _included(c, wanted) for q in _question(c, f.children, readers, wanted)]
        if not children:
            return out
    if children:
        item["item"] = children
    out.append(item)
    return out


@lru_cache(maxsize=1)
def _codes() -> dict[str, tuple[dict[str, str] | None, str]]:
    """For a field: its item.code (questionnaire-codes.csv, else observations.csv) and its CQL define."""
    from exchange.tables import table

    out: dict[str, tuple[dict[str, str] | None, str]] = {}
    for row in table("observations"):
        out.setdefault(row["field"], ({"system": row["system"], "code": row["code"], "display": row["display"]}, ""))
    for row in table("questionnaire-codes"):
        code = {"system": row["system"], "code": row["code"], "display": row["display"]} if row["code"] else None
        out[row["field"]] = (code or out.get(row["field"], (None, ""))[0], row["define"])
    return out


def _coded(item: dict[str, Any], path: str) -> None:
    """The item's code and the CQL define that prepopulates it, when the tables give them."""
    code, define = _codes().get(path, (None, ""))
    if code is not None:
        item["code"] = [code]
    if define:
        item.setdefault("extension", []).append({"url": INITIAL_EXPRESSION, "valueExpression": {
            "language": "text/cql", "expression": f'"{LIBRARY_NAME}"."{define}"',
            "description": f"prepopulated by the CQL library {LIBRARY_NAME}: {define}"}})


def _request_date(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The request date, read-only (the Claim carries it), in the request group the form holds or a new one."""
    date: dict[str, Any] = {"linkId": REQUEST_DATE, "text": "Request date (read from the Claim's created date; shown "
                            "here for reference, an answer to it is not read)", "type": "date", "readOnly": True}
    _coded(date, REQUEST_DATE)
    group = next((i for i in items if i["linkId"] == "request"), None)
    if group is None:
        return [{"linkId": "request", "text": "The request", "type": "group", "item": [date]}, *items]
    group["item"] = [date, *group.get("item", [])]
    return items


def _narrative(title: str, description: str, count: int) -> dict[str, str]:
    from html import escape

    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><p><b>{escape(title)}</b></p>'
                                         f"<p>{escape(description)}</p><p>{count} items.</p></div>"}


def _count(items: list[dict[str, Any]]) -> int:
    return sum(1 + _count(i.get("item", [])) for i in items)


def _included(f: Field, wanted: set[str] | None) -> bool:
    return wanted is None or f.path in wanted


def closure(wanted: set[str]) -> set[str]:
    """The fields asked for, with the groups that hold them and the fields each group requires."""
    out = set()
    for f in every_field():
        if f.path in wanted:
            out.add(f.path)
    changed = True
    while changed:
        changed = False
        for f in every_field():
            if f.path in out:
                continue
            if f.children and any(c.path in out for c in f.children):
                out.add(f.path)
                changed = True
        for f in every_field():
            if f.path in out and f.children:
                for c in f.children:
                    if c.required and c.path not in out and not c.children:
                        out.add(c.path)
                        changed = True
                    if c.name == "present" and c.base is bool and c.path not in out:
                        out.add(c.path)
                        changed = True
    return out


def questionnaire(url: str, version: str, title: str, wanted: set[str] | None,
                  readers: dict[str, list[tuple[str, str, str]]], description: str) -> dict[str, Any]:
    """A DTR-style Questionnaire of the fields in ``wanted`` (every field when None)."""
    keep = None if wanted is None else closure(wanted)
    items = _request_date([q for f in tree() if _included(f, keep) for q in _question(f, tree(), readers, keep)])
    return {
        "resourceType": "Questionnaire",
        "id": re.sub(r"[^A-Za-z0-9.-]", "-", url.rsplit(":", 1)[-1])[:64],
        "meta": {"profile": ["http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/dtr-std-questionnaire"]},
        "text": _narrative(title, description, _count(items)),
        "extension": [
            {"url": LAUNCH_CONTEXT, "extension": [
                {"url": "name", "valueCoding": {"system": "http://hl7.org/fhir/uv/sdc/CodeSystem/launchContext",
                                                "code": "patient", "display": "Patient"}},
                {"url": "type", "valueCode": "Patient"},
                {"url": "description", "valueString": "The patient the request is for: the US Core data the CQL "
                                                      "library reads is this patient's"}]},
            {"url": CQF_LIBRARY, "valueCanonical": LIBRARY_URL},
        ],
        "url": url,
        "version": version,
        "name": re.sub(r"[^A-Za-z0-9]", "", title.title())[:100] or "Documentation",
        "title": title,
        "status": "active",
        "subjectType": ["Patient"],
        "description": description,
        "item": items,
    }


# ---------------------------------------------------------------------------
# a case record as answers
# ---------------------------------------------------------------------------


def _answer(f: Field, value: Any) -> dict[str, Any]:
    if f.base is bool:
        return {"valueBoolean": value}
    if isinstance(f.base, type) and issubclass(f.base, Enum):
        return {"valueCoding": {"system": _system(f.base), "code": value.value}}
    if f.closed is not None:
        return {"valueCoding": {"system": f.closed[0], "code": value}}
    if f.base is CaseDate:
        return {"valueDate": str(value)}
    if f.base is MrcGrade:
        return {"valueString": str(value)}
    if f.base is int:
        return {"valueInteger": value}
    if f.base is float:
        return {"valueDecimal": Decimal(str(value))}
    return {"valueString": value}


def _record_items(record: BaseModel, fields: tuple[Field, ...]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for f in fields:
        value = getattr(record, f.name)
        if value is None:
            continue
        if not f.required and value == f.default and not f.gated:
            continue
        if f.gated:
            items.append({"linkId": f.path, "answer": [{"valueBoolean": bool(value)}]})
            if not value:
                continue
        if f.is_record:
            for entry in (value if f.is_list else [value]):
                # An empty record is still a record (``facet_resection_pct: {}``): a group with no items.
                inner = _record_items(entry, f.children)
                items.append({"linkId": f.entries, "item": inner} if inner else {"linkId": f.entries})
        elif f.is_list:
            if value:
                items.append({"linkId": f.entries, "answer": [_answer(f, v) for v in value]})
        else:
            items.append({"linkId": f.path, "answer": [_answer(f, value)]})
    return items


def answers(case: Case) -> list[dict[str, Any]]:
    """The QuestionnaireResponse items for everything the case documents beyond the Claim."""
    return _record_items(case, tree())


# ---------------------------------------------------------------------------
# answers as a case record
# ---------------------------------------------------------------------------

_VALUE_KEYS = {
    "boolean": ("valueBoolean",), "choice": ("valueCoding", "valueString"), "date": ("valueDate",),
    "integer": ("valueInteger",), "decimal": ("valueDecimal", "valueInteger"), "string": ("valueString",),
}


def _value(f: Field, answer: Any, where: str) -> Any:
    kind = _item_type(f)
    given = {k: getattr(answer, k) for k in _VALUE_KEYS[kind] if getattr(answer, k, None) is not None}
    if not given:
        present = [k for k in type(answer).model_fields if k.startswith("value") and getattr(answer, k, None) is not None]
        what = present[0] if present else "no value"
        raise FormError(where, f"{what} given, but {f.path} is answered with {' or '.join(_VALUE_KEYS[kind])}: "
                               f"answer it as a {kind}")
    key, value = next(iter(given.items()))
    if key == "valueCoding":
        return value.code
    if key == "valueDecimal":
        return float(str(value))
    if key == "valueDate":
        return str(value)
    return value


class Reader:
    """Reads QuestionnaireResponse items back into a case-file dict, remembering where each value came from."""

    def __init__(self) -> None:
        self.origin: dict[str, str] = {}  # case field path with indexes -> element path
        self.unknown: list[tuple[str, str]] = []  # (element path, linkId) of items the form does not hold

    def record(self, items: list[Any] | None, fields: tuple[Field, ...], where: str, at: str) -> dict[str, Any]:
        by_link = {}
        for f in fields:
            by_link[f.entries] = f
            if f.gated:
                by_link[f.path] = f
        out: dict[str, Any] = {}
        gates: dict[str, bool] = {}
        first: dict[str, str] = {}  # linkId -> where it was answered, for the items that do not repeat
        for i, item in enumerate(items or []):
            here = f"{where}.item[{i}]"
            f = by_link.get(item.linkId)
            if f is None:
                # A help item, or the read-only request date (read from the Claim): neither is a case field.
                if not item.linkId.endswith("#criteria") and item.linkId != REQUEST_DATE:
                    self.unknown.append((here, item.linkId))
                continue
            # Only a list of records repeats its group (one per entry).  Anything else answered
            # twice would let the later answer silently replace the earlier, so it is refused,
            # as a case file with a repeated key is.
            if not (f.is_list and f.is_record and item.linkId == f.entries):
                if item.linkId in first:
                    raise FormError(here, f"{item.linkId} appears twice in this group (first at "
                                          f"{first[item.linkId]}): keep one, with every answer in it")
                first[item.linkId] = here
            key = f"{at}.{f.name}" if at else f.name
            self.origin.setdefault(key, here)
            if f.gated and item.linkId == f.path:
                answer = (item.answer or [None])[0]
                if answer is None or answer.valueBoolean is None:
                    if item.answer:
                        raise FormError(f"{here}.answer[0]", f"{f.path} is answered true or false (valueBoolean)")
                    continue
                gates[f.name] = answer.valueBoolean
                continue
            if f.is_record:
                if item.answer:
                    raise FormError(f"{here}.answer", f"{f.entries} is a group: give its fields as nested items")
                if f.is_list:
                    entries = out.setdefault(f.name, [])
                    index = len(entries)
                    self.origin.setdefault(f"{key}[{index}]", here)
                    entries.append(self.record(item.item, f.children, here, f"{key}[{index}]"))
                else:
                    out[f.name] = self.record(item.item, f.children, here, key)
                continue
            values = [_value(f, a, f"{here}.answer[{n}]") for n, a in enumerate(item.answer or [])]
            for n in range(len(values)):
                self.origin.setdefault(f"{key}[{n}]", f"{here}.answer[{n}]")
            if not values:
                continue
            if f.is_list:
                out.setdefault(f.name, []).extend(values)
            elif len(values) > 1:
                raise FormError(f"{here}.answer[1]", f"{f.path} takes one answer: keep one")
            else:
                out[f.name] = values[0]
        for name, flag in gates.items():
            f = next(c for c in fields if c.name == name)
            key = f"{at}.{name}" if at else name
            if not flag and out.get(name):
                raise FormError(self.origin[key], f"{f.path} is answered false, yet entries for it follow: "
                                                  "answer true, or remove the entries")
            if flag and not out.get(name):
                raise FormError(self.origin[key], f"{f.path} is answered true, yet no entry follows under "
                                                  f"{f.entries}: give them, or answer false")
            out.setdefault(name, [])
        return out

    def where(self, field_path: str) -> str | None:
        """The element path that holds a case field (or its nearest recorded parent)."""
        path = field_path
        while path:
            if path in self.origin:
                return self.origin[path]
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return None


def read(items: list[Any] | None, where: str) -> tuple[dict[str, Any], Reader]:
    reader = Reader()
    return reader.record(items, tree(), where, ""), reader


# ---------------------------------------------------------------------------
# the CQL library the questionnaire names
# ---------------------------------------------------------------------------


def library() -> dict[str, Any]:
    """The Library resource holding the CQL that prepopulates the form (cqf-library of the Questionnaire)."""
    import base64
    from importlib import resources

    text = resources.files("exchange").joinpath("data", f"{LIBRARY_NAME}.cql").read_text(encoding="utf-8")
    version = re.search(r"^library \w+ version '([^']+)'", text, re.M)
    return {
        "resourceType": "Library",
        "id": LIBRARY_NAME,
        "url": LIBRARY_URL,
        "version": version[1] if version else "1",
        "name": LIBRARY_NAME,
        "title": "Prepopulation of the lumbar spine surgery documentation from US Core data",
        "status": "active",
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/library-type", "code": "logic-library"}]},
        "description": "CQL for the initialExpressions of the DTR Questionnaire `necessity fhir questionnaire` "
                       "writes. Not run by this project (it has no CQL engine): a DTR client evaluates it.",
        "content": [{"contentType": "text/cql", "data": base64.b64encode(text.encode()).decode()}],
    }
