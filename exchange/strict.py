"""A request Bundle's JSON text read as strictly as a case file (docs/security.md).

Before the FHIR models see it, the text is parsed here, and refused, each
problem at its element path, when

* an object gives a key twice (``json`` would keep the last silently: a
  second ``subject`` naming another patient, a second ``valueBoolean``);
* a number is longer than any FHIR number (``FHIR_DIGITS``), or a value the
  case record reads (an answer's ``valueDecimal``, an Observation's
  ``valueQuantity.value``) holds more decimals than the case model keeps, or
  more digits than a case value has.  Numbers are read exactly
  (``decimal.Decimal`` for every number with a fraction or an exponent),
  before any rounding: ``-2.4999999999999999999`` is not -2.5;
* the request holds more than a real one does: ``MAX_ENTRIES`` Bundle
  entries, ``MAX_ITEMS`` Claim items, ``MAX_ANSWERS`` QuestionnaireResponse
  items and answers in all, ``MAX_LIST_ENTRIES`` entries of one list of
  records (conservative care episodes, imaging studies) in one group,
  counted while the text is walked, before the FHIR models or the case
  model are built on it.

Strings with control characters are left to the case model (it refuses them
in every value it reads); what is only reported (a warning naming a linkId)
is shown with its control characters escaped (``shown``).
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from facts.numbers import InexactNumber, kept
from facts.text import HIDDEN

#: More digits than any FHIR number holds (R4 asks readers for 18 significant digits of a decimal;
#: a longer one is kept so that the value read is refused for its precision, at its element).
FHIR_DIGITS = 40
#: A PAS request bundles the Claim with the few dozen resources it references.
MAX_ENTRIES = 1_000
#: An X12 278 request carries a handful of service lines; a lumbar request a dozen.
MAX_ITEMS = 200
#: Items and answers in every QuestionnaireResponse of a request, nested ones included.
MAX_ANSWERS = 10_000
#: Entries of one list of records in the answers (conservative care episodes, imaging studies, prior surgeries):
#: each is grounded against the others, so the work grows faster than their number.
MAX_LIST_ENTRIES = 100


class Refused(Exception):
    """The text cannot be a request Bundle: each problem at an element path."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{w}: {m}" for w, m in problems))


class _Object(dict):
    """A JSON object that remembers the keys it was given more than once."""

    duplicates: tuple[str, ...] = ()

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, Any]]) -> "_Object":
        out = cls()
        seen: list[str] = []
        for key, value in pairs:
            if key in out and key not in seen:
                seen.append(key)
            out[key] = value
        if seen:
            out.duplicates = tuple(seen)
        return out


class Huge(str):
    """A number too long to be a FHIR number, kept as its text (never converted)."""


def _int(text: str) -> int | Huge:
    return Huge(text) if len(text.lstrip("-")) > FHIR_DIGITS else int(text)


def _decimal(text: str) -> Decimal | Huge:
    digits = len(text.lstrip("-").split("e")[0].split("E")[0].replace(".", "").lstrip("0"))
    if digits > FHIR_DIGITS or len(text) > 2 * FHIR_DIGITS + 8:
        return Huge(text)
    try:
        return Decimal(text)
    except InvalidOperation:  # json only hands over what its grammar admits
        return Huge(text)


def _constant(text: str) -> Any:
    return Huge(text)  # NaN, Infinity: not JSON numbers, and no FHIR value


def loads(text: str) -> Any:
    """The JSON text as plain data (objects that remember duplicated keys, numbers exact)."""
    return json.loads(text, object_pairs_hook=_Object.from_pairs, parse_int=_int, parse_float=_decimal,
                      parse_constant=_constant)


def shown(text: Any) -> str:
    """Text from a request as it may be printed: control characters (an escape sequence) written as ``\\x1b``."""
    return HIDDEN.sub(lambda m: ascii(m.group())[1:-1], str(text))


def _read_value(parent_key: str, grand_key: str) -> bool:
    """Whether a number at this place is one the case record reads."""
    return parent_key == "valueDecimal" or (parent_key == "value" and grand_key == "valueQuantity")


def _too_precise(value: Decimal) -> str | None:
    """Why the case record cannot keep ``value`` exactly, in the words a case file gets (facts/numbers.py)."""
    try:
        kept(value)
    except InexactNumber as e:
        return str(e)
    return None


def check(data: Any) -> None:
    """Refuse what no request Bundle holds; return when the data may be given to the FHIR models."""
    problems: list[tuple[str, str]] = []
    counts = {"answers": 0}
    root = data.get("resourceType") if isinstance(data, dict) and isinstance(data.get("resourceType"), str) else "Bundle"
    # an explicit stack: a deep document is walked without recursion (the models refuse it after)
    stack: list[tuple[Any, str, str, str]] = [(data, shown(root), "", "")]
    while stack:
        node, path, key, parent = stack.pop()
        if len(problems) >= 20:
            break
        if isinstance(node, Huge):
            problems.append((path, f"the number {node[:20]}{'...' if len(node) > 20 else ''} is not a FHIR number "
                                   f"(more than {FHIR_DIGITS} digits, or not a number at all): correct it"))
        elif isinstance(node, Decimal) or (isinstance(node, int) and not isinstance(node, bool)):
            if _read_value(key, parent):
                why = _too_precise(Decimal(node))
                if why:
                    problems.append((path, why))
        elif isinstance(node, dict):
            for dup in getattr(node, "duplicates", ()):
                problems.append((f"{path}.{shown(dup)}", "given twice in one object: JSON readers keep one of them "
                                                          "silently; keep one"))
            kind = node.get("resourceType")
            if kind == "Bundle" and isinstance(node.get("entry"), list) and len(node["entry"]) > MAX_ENTRIES:
                problems.append((f"{path}.entry", f"{len(node['entry'])} entries: a request Bundle holds at most "
                                                   f"{MAX_ENTRIES} (docs/security.md)"))
                continue
            if kind == "Claim" and isinstance(node.get("item"), list) and len(node["item"]) > MAX_ITEMS:
                problems.append((f"{path}.item", f"{len(node['item'])} items: a request holds at most {MAX_ITEMS} "
                                                  "(docs/security.md): send them in several requests"))
                continue
            if kind == "QuestionnaireResponse" or key in ("item", "answer"):
                counts["answers"] += len(node.get("item") or []) if isinstance(node.get("item"), list) else 0
                counts["answers"] += len(node.get("answer") or []) if isinstance(node.get("answer"), list) else 0
                if counts["answers"] > MAX_ANSWERS:
                    problems.append((path, f"more than {MAX_ANSWERS} QuestionnaireResponse items and answers in "
                                           "the request (docs/security.md): a case record holds a few hundred"))
                    break
                repeated: dict[str, int] = {}
                for child in node.get("item") if isinstance(node.get("item"), list) else ():
                    link = child.get("linkId") if isinstance(child, dict) else None
                    if isinstance(link, str) and link.endswith("[]"):
                        repeated[link] = repeated.get(link, 0) + 1
                for link, n in repeated.items():
                    if n > MAX_LIST_ENTRIES:
                        problems.append((f"{path}.item", f"{n} entries of {shown(link)}: a request holds at most "
                                                         f"{MAX_LIST_ENTRIES} (docs/security.md)"))
            for k in reversed(list(node)):
                stack.append((node[k], f"{path}.{shown(k)}", k, key))
        elif isinstance(node, list):
            for i in range(len(node) - 1, -1, -1):
                stack.append((node[i], f"{path}[{i}]", key, parent))
    if problems:
        raise Refused(problems)
