"""The case model described from its own declarations, for `necessity vocab` and docs."""

from __future__ import annotations

import types
import typing
from enum import Enum
from typing import Any

from pydantic import BaseModel

from facts.model import Case
from facts.vocabulary import ARG_KINDS, PREDICATES


def _unwrap(annotation: Any) -> list[Any]:
    """The concrete types inside Optional / Union / tuple / Annotated."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(annotation) if arg is not type(None) for t in _unwrap(arg)]
    if origin is tuple:
        return _unwrap(typing.get_args(annotation)[0])
    return [annotation]


def _type_name(annotation: Any) -> str:
    names = []
    for t in _unwrap(annotation):
        if typing.get_origin(t) is typing.Literal:
            names.append("|".join(str(v) for v in typing.get_args(t)))
        elif typing.get_origin(t) is dict:
            key, value = typing.get_args(t)
            names.append(f"mapping of {_type_name(key)} to {_type_name(value)}")
        elif isinstance(t, type) and issubclass(t, Enum):
            names.append("|".join(m.value for m in t))
        elif isinstance(t, type) and issubclass(t, BaseModel):
            names.append("date" if t.__name__ == "CaseDate" else ("MRC grade" if t.__name__ == "MrcGrade" else "object"))
        else:
            names.append(getattr(t, "__name__", str(t)))
    text = " or ".join(dict.fromkeys(names))
    if typing.get_origin(annotation) is tuple or any(typing.get_origin(a) is tuple for a in typing.get_args(annotation)):
        text = f"list of {text}"
    return text


def walk(model: type[BaseModel] = Case, prefix: str = "") -> list[tuple[str, Any, list[str] | None]]:
    """(field path, annotation, emitted predicates or None for a plain container) for every field."""
    rows: list[tuple[str, Any, list[str] | None]] = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        emits = extra.get("emits")
        nested = [t for t in _unwrap(info.annotation) if isinstance(t, type) and issubclass(t, BaseModel)
                  and t.__name__ not in ("CaseDate", "MrcGrade")]
        rows.append((path, info.annotation, list(emits) if emits is not None else None))
        for sub in nested:
            is_list = "list of" in _type_name(info.annotation)
            rows.extend(walk(sub, f"{path}[]." if is_list else f"{path}."))
    return rows


def field_table() -> list[tuple[str, str, list[str]]]:
    return [(path, _type_name(ann), emits or []) for path, ann, emits in walk() if emits is not None or
            not any(isinstance(t, type) and issubclass(t, BaseModel) for t in _unwrap(ann))]


def vocabulary_table() -> dict[str, Any]:
    sources: dict[str, list[str]] = {}
    for path, _, emits in walk():
        for pred in emits or []:
            sources.setdefault(pred, []).append(path)
    return {
        "predicates": [
            {
                "name": p.name,
                "arity": len(p.args),
                "group": p.group,
                "meaning": p.meaning,
                "args": [{"name": a.name, "kind": a.kind} for a in p.args],
                "from": sources.get(p.name, ["(vocabulary)"] if p.group == "anatomy" else []),
            }
            for p in PREDICATES
        ],
        "kinds": ARG_KINDS,
    }
