"""Reading case files (YAML or JSON) into validated ``Case`` records.

Every failure becomes a ``CaseFileError`` that names the file, the field path
(``request.levels[2].level``) and, for YAML, the line, with a hint saying how
to fix it.  Nothing in a case file is ever executed: the text is read as plain
data by ``facts.document`` (YAML 1.2 core rules, no tags, bounded while it is
read), then validated by the case model.
"""

from __future__ import annotations

import difflib
import json
import re
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from facts.document import MAX_VALUES, field_path, line_of, read_document
from facts.model import Case
from facts.problem import CaseFileError, Problem

__all__ = ["MAX_BYTES", "MAX_VALUES", "CaseFileError", "Problem", "case_format", "decode", "load_case",
           "parse_case", "read_text", "validate"]

MAX_BYTES = 2 * 1024 * 1024  # a real case record is a few kilobytes


def _clean_loc(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """Drop pydantic's internal steps (union branches, validator names)."""
    kept: list[int | str] = []
    for part in loc:
        if isinstance(part, str) and (
            part.startswith("function-") or part in {"str", "int", "float", "bool", "CaseDate", "MrcGrade"}
            or "[" in part
        ):
            continue
        kept.append(part)
    return tuple(kept)


_HINTS = {
    "extra_forbidden": "this field is not part of the case model: check its spelling (see `necessity vocab --fields`)",
    "missing": "this field is required",
    "bool_type": "write true or false",
    "int_type": "write a whole number",
    "float_type": "write a number",
    "string_type": "write text",
    "dict_type": "write a mapping of fields (key: value)",
    "model_type": "write a mapping of fields (key: value)",
    "list_type": "write a list",
    "tuple_type": "write a list",
    "enum": None,  # pydantic's own message lists the allowed values
}

#: Bounds on a number: the message says the bound, the hint what to do.
_BOUNDS = {"greater_than_equal", "greater_than", "less_than_equal", "less_than"}


def _bound_hint(err: dict[str, Any]) -> str:
    ctx = err.get("ctx") or {}
    if ctx.get("ge", ctx.get("gt")) == 0:
        return "a duration, count or measurement cannot be negative: correct the value"
    return "correct the value, and check that it is in the field's unit"


def _closest(err: dict[str, Any]) -> str:
    """For a value outside a closed vocabulary: the allowed value it most likely meant."""
    allowed = re.findall(r"'([^']*)'", str((err.get("ctx") or {}).get("expected", "")))
    given = err.get("input")
    if not allowed or not isinstance(given, str):
        return ""
    folded = given.strip().lower().replace("-", "_").replace(" ", "_")
    same = [a for a in allowed if a.lower() == folded]
    close = same or difflib.get_close_matches(folded, allowed, n=1, cutoff=0.6)
    return f": did you mean '{close[0]}'?" if close else ": use one of the values listed"


def _record_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The case model's record class that holds the field at ``loc`` (None when the path leaves the model)."""
    model: type[BaseModel] = Case
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        nested = _records_in(field.annotation)
        if not nested:
            return None
        model = nested[0]
    return model


def _records_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _records_in(arg)]


def _unknown_field(loc: tuple[int | str, ...]) -> str | None:
    """For a field the case model does not know: the field it most likely meant, and where the list is."""
    record = _record_at(loc)
    if record is None or not loc or not isinstance(loc[-1], str):
        return None
    known = list(record.model_fields)
    given = loc[-1]
    folded = given.strip().lower().replace("-", "_").replace(" ", "_")
    close = [k for k in known if k == folded] or difflib.get_close_matches(folded, known, n=1, cutoff=0.6)
    if close:
        return f"'{given}' is not a field here: did you mean '{close[0]}'?"
    return f"'{given}' is not a field here: use one of {', '.join(known)} (see `necessity vocab --fields`)"


def _shown(value: Any, limit: int = 60) -> str:
    """The offending value as the message quotes it, cut short if long."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _problems_from(exc: ValidationError, root: yaml.Node | None, at: tuple[int | str, ...] = (),
                   unknown_field: str | None = None) -> list[Problem]:
    problems = []
    seen: set[tuple[str, str]] = set()
    errors = exc.errors(include_url=False)
    # a record's validator may name the field it refuses inside the record (``ctx["at"]``)
    locs = [at + _clean_loc(tuple(e["loc"])) + tuple((e.get("ctx") or {}).get("at", ())) for e in errors]
    for err, loc in zip(errors, locs):
        if err["type"] == "too_short" and any(len(o) > len(loc) and o[: len(loc)] == loc for o in locs):
            continue  # a consequence of the failing entry below it, already reported
        where = field_path(loc)
        kind = err["type"]
        message = err["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, "):]
        hint = _HINTS.get(kind)
        if kind == "enum":
            message = f"{message} (got {_shown(err.get('input'))}){_closest(err)}"
        elif kind == "extra_forbidden":
            message = unknown_field or _unknown_field(loc[len(at):]) or hint or message
        elif kind == "missing":
            message = hint or message
        elif kind in _BOUNDS:
            message = f"{message} (got {_shown(err.get('input'))}): {_bound_hint(err)}"
        elif hint:
            message = f"{message} (got {_shown(err.get('input'))}): {hint}"
        if (where, message) in seen:
            continue
        seen.add((where, message))
        problems.append(Problem(where, line_of(root, loc), message))
    return problems


def validate(model: type[BaseModel], data: Any, source: str, root: yaml.Node | None = None,
             at: tuple[int | str, ...] = (), unknown_field: str | None = None, found: list[Problem] = ()) -> Any:
    """``data`` (as ``facts.document`` reads it) validated as ``model``.

    ``at`` is where ``data`` sits in the document, for field paths and lines;
    ``unknown_field`` the hint for a field the model does not have; ``found``
    what the reader found already, reported together with what validation
    finds (the reader's word on a field comes first).
    """
    problems = list(found)
    try:
        # Validated in JSON mode: strict about types ("4" is not a number)
        # while accepting lists and enum names as a case file writes them.
        result = model.model_validate_json(json.dumps(data))
    except ValidationError as exc:
        known = {p.path for p in problems}
        problems += [p for p in _problems_from(exc, root, at, unknown_field) if p.path not in known]
    if problems:
        # in the file's order where lines are known, else in the order found
        raise CaseFileError(source, sorted(problems, key=lambda p: p.line or 0)) from None
    return result


def parse_case(text: str, source: str = "<case>", *, fmt: str | None = None) -> Case:
    """Validate a case given as YAML or JSON text."""
    fmt = fmt or ("json" if source.endswith(".json") else "yaml")
    data, root, found = read_document(text, source, fmt)
    if data is None:
        raise CaseFileError(source, [Problem("", None, "the file is empty: a case needs at least `case:` and `request:`")])
    if not isinstance(data, dict):
        raise CaseFileError(source, found or [
            Problem("", 1, f"a case file holds a mapping of fields, not a {type(data).__name__}")])
    return validate(Case, data, source, root, found=found)


def read_text(path: str | Path) -> str:
    """A case file's text: UTF-8 (a byte-order mark allowed), at most MAX_BYTES."""
    path = Path(path)
    source = str(path)
    try:
        # Read one byte past the limit rather than trusting the size on disk:
        # a pipe or a device reports none.
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise CaseFileError(source, [Problem("", None, "no such file: check the path")]) from None
    except IsADirectoryError:
        raise CaseFileError(source, [Problem("", None, "this is a folder, not a case file")]) from None
    except PermissionError:
        raise CaseFileError(source, [Problem("", None, "the file cannot be read (permission denied)")]) from None
    except OSError as exc:
        raise CaseFileError(source, [Problem("", None, f"the file cannot be read ({exc.strerror or exc}): check the path")]) from None
    if len(raw) > MAX_BYTES:
        raise CaseFileError(source, [Problem("", None, f"the file is over {MAX_BYTES} bytes; a case file is a few kilobytes")])
    return decode(raw, source)


def decode(raw: bytes, source: str, first_line: int = 1) -> str:
    """UTF-8 text, or a CaseFileError naming the line of the first bad byte."""
    try:
        # A byte-order mark is allowed (some editors write one) and dropped.
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = first_line + raw[: exc.start].count(b"\n")
        raise CaseFileError(source, [Problem("", line, "the file is not UTF-8 text: save it as UTF-8")]) from None


def case_format(path: str | Path) -> str:
    return "json" if Path(path).suffix.lower() == ".json" else "yaml"


def load_case(path: str | Path) -> Case:
    """Read and validate a case file."""
    return parse_case(read_text(path), str(path), fmt=case_format(path))
