"""Reading case files (YAML or JSON) into validated ``Case`` records.

Every failure becomes a ``CaseFileError`` that names the file, the field path
(``request.levels[2].level``) and, for YAML, the line, with a hint saying how
to fix it.  Nothing in a case file is ever executed: YAML is read with the
safe loader, which builds only plain data.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
import math
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

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
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a list or mapping is used as a key: write a field name there", key_node.start_mark,
            ) from None
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None,
                f"key '{key}' appears twice (first on line {seen[key] + 1}): keep one",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


def _construct_timestamp(loader: _UniqueKeyLoader, node: yaml.ScalarNode) -> Any:
    """A YAML date, or its text when it is not a calendar date (``2025-13-45``).

    The text then reaches the case model, which says which field holds it.
    """
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


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
            message = f"{message} (got {_shown(err.get('input'))}){_closest(err)}"
        elif kind == "extra_forbidden":
            message = _unknown_field(loc) or hint or message
        elif kind == "missing":
            message = hint or message
        elif kind in _BOUNDS:
            message = f"{message} (got {_shown(err.get('input'))}): {_bound_hint(err)}"
        elif hint:
            message = f"{message} (got {_shown(err.get('input'))}): {hint}"
        if (path, message) in seen:
            continue
        seen.add((path, message))
        problems.append(Problem(path, _line_of(root, loc), message))
    return problems


#: More values than any case record holds; YAML aliases can multiply a small
#: file into billions of values, which must be refused before they expand.
MAX_VALUES = 100_000

_YAML_HINTS = (
    ("mapping values are not allowed", "quote a value that contains ': ', or put the key on its own line"),
    ("cannot start any token", "indent with spaces, not tabs, and quote text that starts with @, ` or %"),
    ("expected ',' or ']'", "close the list with ] or separate its entries with commas"),
    ("expected ',' or '}'", "close the mapping with } or separate its entries with commas"),
    ("could not determine a constructor", "remove the tag: a case file holds plain values only"),
    ("appears twice", None),  # the message says what to do
    ("used as a key", None),
)


def _yaml_problem(exc: yaml.YAMLError, text: str) -> Problem:
    """Where a YAML syntax error is, what is wrong and what to do about it."""
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        char = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        return Problem("", line, f"character {char} is not allowed in a case file: remove it")
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    what = getattr(exc, "problem", None) or str(exc)
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and context_mark is not None and context_mark.line + 1 != line:
        what = f"{what} ({context} opened on line {context_mark.line + 1})"
    hint = "fix the syntax there: indent with spaces, quote text with ': ' or ' #' in it, close every bracket"
    for needle, specific in _YAML_HINTS:
        if needle in what:
            hint = specific
            break
    return Problem("", line, f"not valid YAML: {what}" + (f": {hint}" if hint else ""))


def _count_values(root: yaml.Node) -> int:
    """How many values the document expands to (aliases counted at each use),
    stopping once past ``MAX_VALUES``; raises ``_Cyclic`` for an alias inside
    the value it names."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            raise _Cyclic(node)
        open_nodes.add(key)
        total = 1
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                total += size(k) + size(v)
                if total > MAX_VALUES:
                    break
        elif isinstance(node, yaml.SequenceNode):
            for v in node.value:
                total += size(v)
                if total > MAX_VALUES:
                    break
        open_nodes.discard(key)
        sizes[key] = total
        return total

    return size(root)


class _Cyclic(Exception):
    def __init__(self, node: yaml.Node):
        self.node = node


def _nested(node: Any, loc: tuple[int | str, ...] = ()) -> Any:
    """Every (loc, value) in plain data, depth first."""
    yield loc, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _nested(v, loc + (str(k),))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _nested(v, loc + (i,))


def _data_problems(data: Any, root: yaml.Node | None) -> list[Problem]:
    """What JSON or YAML parsing lets through but a case cannot hold."""
    problems = []
    for loc, value in _nested(data):
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(Problem(_field_path(loc), _line_of(root, loc), f"{value} is not a finite number: write a number"))
        elif isinstance(value, _JsonObject):
            for key in value.duplicates:
                path = _field_path(loc + (key,))
                problems.append(Problem(path, None, f"key '{key}' appears twice in one object: keep one"))
    return problems


def parse_case(text: str, source: str = "<case>", *, fmt: str | None = None) -> Case:
    """Validate a case given as YAML or JSON text."""
    fmt = fmt or ("json" if source.endswith(".json") else "yaml")
    root: yaml.Node | None = None
    try:
        if fmt == "json":
            data = json.loads(text, object_pairs_hook=_JsonObject.from_pairs)
        else:
            root = yaml.compose(text, Loader=_UniqueKeyLoader)
            if root is not None:
                values = _count_values(root)
                if values > MAX_VALUES:
                    raise CaseFileError(source, [Problem("", None, (
                        f"the file holds more than {MAX_VALUES} values (counting each use of a YAML alias): "
                        "a case record holds a few hundred; write the values out"
                    ))])
            data = yaml.load(text, Loader=_UniqueKeyLoader)
    except json.JSONDecodeError as exc:
        raise CaseFileError(source, [Problem("", exc.lineno, (
            f"not valid JSON: {exc.msg} (column {exc.colno}): fix it there "
            "(keys in double quotes, no trailing commas, every bracket closed)"
        ))]) from None
    except yaml.YAMLError as exc:
        raise CaseFileError(source, [_yaml_problem(exc, text)]) from None
    except _Cyclic as exc:
        line = exc.node.start_mark.line + 1
        raise CaseFileError(source, [Problem("", line, "a YAML alias refers to the value that contains it: write the value out")]) from None
    except RecursionError:
        raise CaseFileError(source, [Problem("", None, "the file is nested too deeply to be a case record: check its brackets")]) from None
    if data is None:
        raise CaseFileError(source, [Problem("", None, "the file is empty: a case needs at least `case:` and `request:`")])
    if not isinstance(data, dict):
        raise CaseFileError(source, [Problem("", 1, f"a case file holds a mapping of fields, not a {type(data).__name__}")])
    try:
        problems = _data_problems(data, root)
        if problems:
            raise CaseFileError(source, problems)
        # Validated in JSON mode: strict about types ("4" is not a number)
        # while accepting lists and enum names as a case file writes them.
        return Case.model_validate_json(json.dumps(data, default=_json_default))
    except ValidationError as exc:
        raise CaseFileError(source, _problems_from(exc, root)) from None
    except RecursionError:
        raise CaseFileError(source, [Problem("", None, "the file is nested too deeply to be a case record: check its brackets")]) from None


def _json_default(value: Any) -> Any:
    """YAML-only types (dates, timestamps, sets, bytes) as JSON text."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


class _JsonObject(dict):
    """A JSON object that remembers the keys it was given more than once."""

    duplicates: tuple[str, ...] = ()

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, Any]]) -> "_JsonObject":
        out = cls()
        duplicates = []
        for key, value in pairs:
            if key in out and key not in duplicates:
                duplicates.append(key)
            out[key] = value
        out.duplicates = tuple(duplicates)
        return out


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
