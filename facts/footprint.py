"""The atoms each case field becomes, found by asking the emitter.

``emits`` metadata names the predicates a field becomes; several fields share
a predicate (``finding/2`` holds radiculopathy, ADL limitation and a dozen
more), told apart by a constant argument.  Rather than keep a second list of
those constants, each field is emitted once in a small probe case and the
atoms it adds are read back: the emitter itself says which
``finding(adl_limitation, _)`` comes from ``clinical.adl_limitation``.
"""

from __future__ import annotations

import copy
import re
import types
import typing
from enum import Enum
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ValidationError

from facts.emit import case_atoms
from facts.model import Case, CaseDate, Level, MrcGrade
from facts.plausible import can_show
from facts.schema import walk
from facts.terms import StudyType
from facts.vocabulary import BY_NAME

#: (predicate signature, key): the key is the constant that names the fact
#: where a predicate is shared, e.g. ("finding/2", "adl_limitation").
Pattern = tuple[str, str | None]

_PROBE_LEVEL = "L4-L5"
_BASE: dict[str, Any] = {"case": "probe", "request": {"levels": [{"level": _PROBE_LEVEL, "decompression": True}]}}


def key_position(predicate: str) -> int | None:
    """The argument that names the fact of a shared predicate (a finding's name, a list's term)."""
    pred = BY_NAME.get(predicate)
    if pred is None:
        return None
    for i, arg in enumerate(pred.args):
        if arg.name == "finding" or arg.kind == "term":
            return i
    return None


def pattern_of(atom: Any) -> Pattern:
    name, args = atom.name, atom.arguments
    pos = key_position(name)
    key = None
    if pos is not None and pos < len(args):
        key = args[pos].name if args[pos].type.name == "Function" else str(args[pos])
    return f"{name}/{len(args)}", key


# ---------------------------------------------------------------------------
# annotations
# ---------------------------------------------------------------------------


def strip(annotation: Any) -> tuple[Any, bool, list[Any]]:
    """(the base type, whether it is a list, the Annotated metadata) of a field's annotation."""
    meta: list[Any] = []
    is_list = False
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            args = typing.get_args(annotation)
            annotation, meta = args[0], meta + list(args[1:])
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[0]
        elif origin is tuple:
            annotation, is_list = typing.get_args(annotation)[0], True
        else:
            return annotation, is_list, meta


def checked_by(meta: list[Any], annotated: Any) -> bool:
    """Whether a field's metadata holds the validator of an annotated type (``Level``, ``Vertebra``)."""
    check = next(m.func for m in typing.get_args(annotated)[1:] if hasattr(m, "func"))
    return any(getattr(m, "func", None) is check for m in meta)


def is_level(meta: list[Any]) -> bool:
    return checked_by(meta, Level)


def _bound(meta: list[Any], name: str) -> Any:
    for m in meta:
        if hasattr(m, name):
            return getattr(m, name)
        for inner in getattr(m, "metadata", ()) or ():
            if hasattr(inner, name):
                return getattr(inner, name)
    return None


def _pattern(meta: list[Any]) -> str | None:
    for m in meta:
        for inner in [m, *(getattr(m, "metadata", ()) or ())]:
            if getattr(inner, "pattern", None):
                return inner.pattern
    return None


def sample(annotation: Any, meta: list[Any] = ()) -> Any:
    """A valid value for a field, as a case file writes it."""
    base, is_list, inner = strip(annotation)
    meta = list(meta) + inner
    if is_list:
        return [sample(base, meta)]
    if isinstance(base, type) and issubclass(base, Enum):
        return next(iter(base)).value
    if base is bool:
        return True
    if base is CaseDate:
        return "2020-01-15"
    if base is MrcGrade:
        return "4"
    if isinstance(base, type) and issubclass(base, BaseModel):
        return required(base)
    if base is int:
        low = _bound(meta, "ge")
        return int(low) if low is not None else 1
    if base is float:
        low = _bound(meta, "ge")
        return float(low) if low is not None else 1.0
    if base is str:
        if is_level(meta):
            return _PROBE_LEVEL
        pattern = _pattern(meta)
        for candidate in ("text", "L5", "x"):
            if pattern is None or re.fullmatch(pattern, candidate):
                return candidate
    return None


def required(model: type[BaseModel]) -> dict[str, Any]:
    """A model's required fields, each with a sample value."""
    out = {}
    for name, info in model.model_fields.items():
        if info.is_required():
            out[name] = sample(info.annotation, info.metadata)
    return out


# ---------------------------------------------------------------------------
# probes
# ---------------------------------------------------------------------------


def _probe(path: str) -> tuple[dict[str, Any], list[tuple[Any, str]]] | None:
    """A case setting the field at ``path``, and the (container, key) steps that lead to it."""
    data = copy.deepcopy(_BASE)
    model: type[BaseModel] = Case
    node: Any = data
    steps: list[tuple[Any, str]] = []
    parts = path.split(".")
    for i, part in enumerate(parts):
        name = part.removesuffix("[]")
        info = model.model_fields.get(name)
        if info is None:
            return None
        last = i == len(parts) - 1
        steps.append((node, name))
        if last:
            base, is_list, _ = strip(info.annotation)
            # A list of records is probed empty: what the list itself becomes (``documented(cobb_curves(S))``),
            # apart from its entries, which are probed field by field.
            is_records = is_list and isinstance(base, type) and issubclass(base, BaseModel)
            node[name] = [] if is_records else sample(info.annotation, info.metadata)
            break
        base, is_list, _ = strip(info.annotation)
        if not (isinstance(base, type) and issubclass(base, BaseModel)):
            return None
        if is_list:
            existing = node.get(name)
            if not existing:
                node[name] = [required(base)]
            node = node[name][0]
        else:
            if not isinstance(node.get(name), dict):
                node[name] = required(base)
            node = node[name]
        model = base
    if path.startswith("imaging[].") and len(parts) > 2:  # a study of a kind that can show the field
        shown = parts[2].removesuffix("[]")
        data["imaging"][0]["study"] = next(t.value for t in StudyType if can_show(t, shown))
    return data, steps


def _atoms(data: dict[str, Any]) -> set[Any] | None:
    try:
        case = Case.model_validate_json(_json(data))
    except ValidationError:
        return None
    return set(case_atoms(case))


def _json(data: Any) -> str:
    import json

    return json.dumps(data)


def _without(data: dict[str, Any], steps: list[tuple[Any, str]], path: str) -> dict[str, Any] | None:
    """The probe without the field, or without its nearest optional ancestor when the field is required."""
    parts = path.split(".")
    model: type[BaseModel] = Case
    optional_at = None
    for i, part in enumerate(parts):
        info = model.model_fields[part.removesuffix("[]")]
        if not info.is_required():
            optional_at = i
        base, _, _ = strip(info.annotation)
        if isinstance(base, type) and issubclass(base, BaseModel):
            model = base
    if optional_at is None:
        return None
    container, key = steps[optional_at]
    saved = container.pop(key)
    out = copy.deepcopy(data)
    container[key] = saved
    return out


@lru_cache(maxsize=1)
def footprints() -> dict[str, frozenset[Pattern]]:
    """For every emitted field path: the atom patterns it becomes.

    A field whose probe the model refuses (a rule across several fields)
    falls back to every predicate its metadata names, with no key: it then
    counts as read whenever one of those predicates is.
    """
    out: dict[str, frozenset[Pattern]] = {}
    for path, _, emits in walk():
        if not emits:
            continue
        declared = {f"{name}/{len(BY_NAME[name].args)}" for name in emits}
        fallback = frozenset((sig, None) for sig in declared)
        probe = _probe(path)
        if probe is None:
            out[path] = fallback
            continue
        data, steps = probe
        base = _without(data, steps, path)
        with_field = _atoms(data)
        without = _atoms(base) if base is not None else _atoms(copy.deepcopy(_BASE))
        if with_field is None or without is None:
            out[path] = fallback
            continue
        added = frozenset(p for p in map(pattern_of, with_field - without) if p[0] in declared)
        out[path] = added
    return out


def matches(pattern: Pattern, predicate: str, fixed: tuple[tuple[int, str], ...]) -> bool:
    """Whether a read of ``predicate`` with ``fixed`` arguments can see atoms of ``pattern``."""
    sig, key = pattern
    if sig != predicate:
        return False
    if key is None:
        return True
    pos = key_position(sig.rsplit("/", 1)[0])
    given = dict(fixed).get(pos) if pos is not None else None
    return given is None or given == key
