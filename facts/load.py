"""Reading case files (YAML or JSON) into validated ``Case`` records.

Every failure becomes a ``CaseFileError`` that names the file, the field path
(``request.levels[2].level``) and, for YAML, the line, with a hint saying how
to fix it.  Nothing in a case file is ever executed: YAML is read with the
safe loader, which builds only plain data.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from facts.model import Case

MAX_BYTES = 2 * 1024 * 1024  # a real case record is a few kilobytes


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a case file."""

    path: str  # field path, or "" for the whole document
    line: int | None
    message: str


class CaseFileError(Exception):
    """A case file that cannot be used, with every problem found in it."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        lines = []
        for p in self.problems:
            where = self.source + (f":{p.line}" if p.line else "")
            field = f" {p.path}:" if p.path else ""
            lines.append(f"{where}:{field} {p.message}")
        return "\n".join(lines)


class _UniqueKeyLoader(yaml.SafeLoader):
    """The safe loader, refusing a key given twice in one mapping."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None,
                f"key '{key}' appears twice (first on line {seen[key] + 1}): keep one",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """The line of the field at ``loc`` in a composed YAML tree (1-based)."""
    best = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if getattr(k, "value", None) == str(part)), None)
            if match is None:
                # the field is missing: point at the mapping that lacks it
                break
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
        best = node.start_mark.line + 1
    return best


def _field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


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
    "enum": None,  # pydantic's own message lists the allowed values
}


def _problems_from(exc: ValidationError, root: yaml.Node | None) -> list[Problem]:
    problems = []
    seen: set[tuple[str, str]] = set()
    errors = exc.errors(include_url=False)
    locs = [_clean_loc(tuple(e["loc"])) for e in errors]
    for err, loc in zip(errors, locs):
        if err["type"] == "too_short" and any(len(o) > len(loc) and o[: len(loc)] == loc for o in locs):
            continue  # a consequence of the failing entry below it, already reported
        path = _field_path(loc)
        kind = err["type"]
        message = err["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, "):]
        hint = _HINTS.get(kind)
        if kind == "enum":
            message = f"{message} (got {err.get('input')!r})"
        elif kind in {"missing", "extra_forbidden"}:
            message = hint or message
        elif hint:
            message = f"{message}: {hint}"
        if (path, message) in seen:
            continue
        seen.add((path, message))
        problems.append(Problem(path, _line_of(root, loc), message))
    return problems


def parse_case(text: str, source: str = "<case>", *, fmt: str | None = None) -> Case:
    """Validate a case given as YAML or JSON text."""
    fmt = fmt or ("json" if source.endswith(".json") else "yaml")
    root: yaml.Node | None = None
    try:
        if fmt == "json":
            data = json.loads(text, object_pairs_hook=_unique_json_object)
        else:
            root = yaml.compose(text, Loader=_UniqueKeyLoader)
            data = yaml.load(text, Loader=_UniqueKeyLoader)
    except json.JSONDecodeError as exc:
        raise CaseFileError(source, [Problem("", exc.lineno, f"not valid JSON: {exc.msg} (column {exc.colno})")]) from None
    except _DuplicateKey as exc:
        raise CaseFileError(source, [Problem("", None, str(exc))]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        what = getattr(exc, "problem", None) or str(exc)
        raise CaseFileError(source, [Problem("", line, f"not valid YAML: {what}")]) from None
    if data is None:
        raise CaseFileError(source, [Problem("", None, "the file is empty: a case needs at least `case:` and `request:`")])
    if not isinstance(data, dict):
        raise CaseFileError(source, [Problem("", 1, f"a case file holds a mapping of fields, not a {type(data).__name__}")])
    try:
        # Validated in JSON mode: strict about types ("4" is not a number)
        # while accepting lists and enum names as a case file writes them.
        return Case.model_validate_json(json.dumps(data, default=_json_default))
    except ValidationError as exc:
        raise CaseFileError(source, _problems_from(exc, root)) from None


def _json_default(value: Any) -> Any:
    """YAML-only types (dates, timestamps, sets, bytes) as JSON text."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


class _DuplicateKey(ValueError):
    pass


def _unique_json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(f"key '{key}' appears twice in one object: keep one")
        out[key] = value
    return out


def load_case(path: str | Path) -> Case:
    """Read and validate a case file."""
    path = Path(path)
    source = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise CaseFileError(source, [Problem("", None, f"the file is {size} bytes; a case file is at most {MAX_BYTES}")])
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CaseFileError(source, [Problem("", None, "no such file: check the path")]) from None
    except IsADirectoryError:
        raise CaseFileError(source, [Problem("", None, "this is a folder, not a case file")]) from None
    except PermissionError:
        raise CaseFileError(source, [Problem("", None, "the file cannot be read (permission denied)")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CaseFileError(source, [Problem("", line, "the file is not UTF-8 text: save it as UTF-8")]) from None
    fmt = "json" if path.suffix.lower() == ".json" else "yaml"
    return parse_case(text, source, fmt=fmt)
