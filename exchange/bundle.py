"""FHIR JSON validated by the R4B models, and its problems said by element path.

Every bundle read or written goes through ``validate``: a problem becomes a
``BundleError`` naming the element (``Bundle.entry[3].resource.item[0].productOrService``)
and how to fix it.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from typing import Any

import pydantic

from engine.deciding.errors import UserError


class BundleError(UserError):
    """A FHIR document that cannot be used: every problem, each at an element path."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        from exchange.strict import shown  # text from the request is printed: its control characters escaped

        self.source = source
        self.problems = [(shown(where), shown(what)) for where, what in problems]
        super().__init__("\n".join(f"{source}: {where}: {what}" for where, what in self.problems))

    def render(self) -> str:
        return str(self)


def element_path(root: str, loc: tuple[Any, ...]) -> str:
    out = root
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


_HINTS = {
    "missing": "the element is required: add it",
    "model_field_validation.missing": "the element is required: add it",
    "extra_forbidden": "not an element of this resource in FHIR R4: check its spelling or move it into an extension",
    "int_parsing": "write a whole number",
    "int_type": "write a whole number",
    "bool_type": "write true or false",
    "bool_parsing": "write true or false",
    "string_type": "write text",
    "list_type": "write a list ([...]): the element repeats",
    "model_type": "write an object ({...})",
    "dict_type": "write an object ({...})",
}


def known_type(name: Any) -> bool:
    from fhir.resources.R4B import get_fhir_model_class

    try:
        get_fhir_model_class(str(name))
        return True
    except (KeyError, ValueError, AttributeError, ImportError):
        return False


def _resource_types(data: Any, root: str) -> list[tuple[str, str]]:
    """Resources whose resourceType the R4B models do not know (the models would fail without a path)."""
    problems = []
    if not isinstance(data, dict):
        return [(root, f"a FHIR resource is a JSON object, not a {type(data).__name__}")]
    if not isinstance(data.get("resourceType"), str) or not known_type(data["resourceType"]):
        return [(f"{root}.resourceType", f"'{data.get('resourceType')}' is not a FHIR R4 resource type: correct it")]
    for i, entry in enumerate(data.get("entry") or [] if isinstance(data.get("entry"), list) else []):
        if isinstance(entry, dict) and "resource" in entry:
            problems += _resource_types(entry["resource"], f"{root}.entry[{i}].resource")
    return problems


def validate(data: Any, source: str, root: str = "Bundle") -> Any:
    """The R4B model of a resource given as parsed JSON, or a BundleError with every problem."""
    from fhir.resources.R4B import get_fhir_model_class

    problems = _resource_types(data, root)
    if problems:
        raise BundleError(source, problems)
    model = get_fhir_model_class(data["resourceType"])
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        out = []
        for err in exc.errors(include_url=False):
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))
            message = err["msg"].removeprefix("Value error, ")
            hint = _HINTS.get(err["type"])
            out.append((element_path(root, loc), f"{message}: {hint}" if hint else f"{message}: correct the value"))
        raise BundleError(source, out) from None
    except (TypeError, ValueError, KeyError) as exc:
        raise BundleError(source, [(root, f"not a valid FHIR R4 resource ({exc}): check it against the R4 spec")]) from None
    except RecursionError:
        raise BundleError(source, [(root, "nested too deeply to be a FHIR resource: check its brackets")]) from None


def plain(value: Any) -> Any:
    """JSON-ready data: decimals as numbers, in a stable form."""
    return json.loads(json.dumps(value, default=_default))


def as_json(model: Any) -> Any:
    """A parsed element back as FHIR JSON data (dates as written, decimals as numbers)."""
    return json.loads(model.model_dump_json(exclude_none=True))


def _default(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral_value() or "." in str(value) else int(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def dumps(resource: Any) -> str:
    """A validated resource as FHIR JSON text, the same bytes for the same resource."""
    text = resource.model_dump_json(exclude_none=True)
    return json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n"


def line(resource: Any) -> str:
    """A validated resource on one line (NDJSON), ASCII only."""
    text = resource.model_dump_json(exclude_none=True)
    return json.dumps(json.loads(text), ensure_ascii=True, separators=(",", ":"))


def full_url(*parts: str) -> str:
    """A stable ``urn:uuid`` for an entry: the same case gives the same identifiers."""
    return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, "necessity:" + ":".join(parts)))


def resource_id(text: str, room: int = 64) -> str:
    """A FHIR id (letters, digits, '-' and '.') of at most ``room`` characters for any text.

    The text itself when it is one; else a cleaned prefix and a hash of the
    whole, so that two texts never share an id.
    """
    clean = re.sub(r"[^A-Za-z0-9.-]", "-", text).strip("-.") or "id"
    if clean == text and len(text) <= room:
        return clean
    return clean[: room - 9].rstrip("-.") + "-" + hashlib.sha256(text.encode()).hexdigest()[:8]
