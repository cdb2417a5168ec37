"""A case document's text as plain data: YAML by the YAML 1.2 core rules, or JSON,
bounded while it is read.

A case file means what it says.  YAML 1.1, which most YAML readers still
follow, reads ``012`` as 10 (octal), ``yes`` and ``off`` as booleans and
``1:30`` as 90; YAML 1.2 reads them as 12 and as text.  A plain value that the
two read differently is refused, with a way to write it that both read alike.
Dates are the one exception: YAML 1.1 reads ``2025-06-01`` as a date, YAML 1.2
as text, and the case model reads that text as the same date.  Tags
(``!!binary``, ``!!set``, ``!!python/...``) are refused: a case file holds
plain values only (docs/security.md).

The limits hold while the document is read, before it is built: more than
``MAX_VALUES`` values (a YAML alias counted at each use), nesting deeper than
``MAX_DEPTH`` or an alias inside the value it names stop the reading there.
In every string and key, control characters other than tab and newline are
refused (clingo ends a string at a NUL, so ``"walk\\u0000ing"`` would reach a
policy as ``"walk"``), and so is a number longer than ``MAX_DIGITS`` digits.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import yaml

from facts.numbers import MAX_DIGITS, InexactNumber, kept  # MAX_DIGITS: more digits than any value of a case
from facts.problem import CaseFileError, Problem
from facts.text import HIDDEN as _HIDDEN, control_character as _control

#: More values than any case record holds; YAML aliases can multiply a small
#: file into billions of values, which must be refused before they expand.
MAX_VALUES = 100_000
#: A case record nests a few levels deep.
MAX_DEPTH = 64

TOO_MANY = (f"the file holds more than {MAX_VALUES} values (counting each use of a YAML alias): a case record "
            "holds a few hundred; check that this is one case record, and write the values out instead of "
            "repeating an alias")
TOO_DEEP = "the file is nested too deeply to be a case record: check its brackets"

# libyaml, when PyYAML was built with it, gives the same events twenty times faster.
_PARSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BYTE_POSITIONS = _PARSER is not yaml.SafeLoader  # libyaml places a reader error by UTF-8 byte

# Control characters but tab and newline, and halves of a surrogate pair (not characters at all).


class _Refused(Exception):
    """Reading stops here: the document cannot be a case record."""

    def __init__(self, line: int | None, message: str):
        self.line = line
        self.message = message


def read_document(text: str, source: str, fmt: str) -> tuple[Any, yaml.Node | None, list[Problem]]:
    """The document as plain data (dicts, lists, strings, numbers, booleans, None),
    for YAML its node tree (for line numbers), and the values in it a case cannot
    hold.  Those are reported with what validation finds (``facts.load.validate``);
    a document that cannot be read at all raises ``CaseFileError``."""
    problems: list[Problem] = []
    try:
        if fmt == "json":
            data, root = _json(text), None
        else:
            root = _Composer(text).document()
            data = _plain(root, (), problems) if root is not None else None
    except _Refused as exc:
        raise CaseFileError(source, [Problem("", exc.line, exc.message)]) from None
    except yaml.YAMLError as exc:
        raise CaseFileError(source, [_yaml_problem(exc, text)]) from None
    except json.JSONDecodeError as exc:
        raise CaseFileError(source, [Problem("", exc.lineno, (
            f"not valid JSON: {exc.msg} (column {exc.colno}): fix it there "
            "(keys in double quotes, no trailing commas, every bracket closed)"
        ))]) from None
    except RecursionError:
        raise CaseFileError(source, [Problem("", None, TOO_DEEP)]) from None
    return data, root, problems + _data_problems(data, root)


# ---------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------

_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)


def _json_values(text: str) -> int:
    """About how many values (keys counted) a JSON text holds, without building it."""
    def count(t: str) -> int:
        return t.count(",") + t.count(":") + t.count("[") + t.count("{") + 1

    rough = count(text)  # punctuation inside strings counts too: an upper bound
    return rough if rough <= MAX_VALUES else count(_JSON_STRING.sub('""', text))


class _Huge(str):
    """A number too long to be any value of a case, kept as its text."""


def _json_int(text: str) -> int | _Huge:
    return _Huge(text) if len(text.lstrip("-")) > MAX_DIGITS else int(text)


class _Inexact(str):
    """A decimal the case model cannot keep exactly, kept as why (facts/numbers.py)."""


def _float(text: str) -> float | _Inexact:
    """A decimal literal read exactly, then as the float the model keeps; never rounded silently."""
    try:
        return kept(text)
    except InexactNumber as exc:
        return _Inexact(str(exc))


def _json(text: str) -> Any:
    if _json_values(text) > MAX_VALUES:
        raise _Refused(None, TOO_MANY)
    return json.loads(text, object_pairs_hook=_JsonObject.from_pairs, parse_int=_json_int, parse_float=_float)


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


# ---------------------------------------------------------------------------
# YAML: events composed into nodes under the limits, then read as plain data
# ---------------------------------------------------------------------------

_PLAIN = "plain"  # the tag of a composed plain scalar: resolved by the core rules below


def _line(mark: Any) -> int | None:
    return mark.line + 1 if mark is not None else None


def _shown_tag(tag: str) -> str:
    return "!!" + tag[len("tag:yaml.org,2002:"):] if tag.startswith("tag:yaml.org,2002:") else tag


class _Composer:
    """The node tree of one YAML document, composed from the parser's events.

    Every value is counted as it arrives (an alias by the size of the value it
    names), so a bomb stops at the limit instead of after it has been built.
    """

    def __init__(self, text: str):
        self.parser = _PARSER(text)
        self.values = 0
        self.anchors: dict[str, yaml.Node] = {}
        self.sizes: dict[str, int] = {}
        self.open: set[str] = set()

    def document(self) -> yaml.Node | None:
        parser = self.parser
        try:
            parser.get_event()  # stream start
            if parser.check_event(yaml.StreamEndEvent):
                return None
            parser.get_event()  # document start
            root = self.node(0)
            parser.get_event()  # document end
            if not parser.check_event(yaml.StreamEndEvent):
                raise _Refused(_line(parser.get_event().start_mark),
                               "the file holds more than one YAML document (---): a case file holds one record per file")
            return root
        finally:
            parser.dispose()

    def _count(self, n: int) -> None:
        self.values += n
        if self.values > MAX_VALUES:
            raise _Refused(None, TOO_MANY)

    def node(self, depth: int) -> yaml.Node:
        event = self.parser.get_event()
        if isinstance(event, yaml.AliasEvent):
            name = event.anchor
            if name in self.open:
                raise _Refused(_line(event.start_mark), "a YAML alias refers to the value that contains it: write the value out")
            if name not in self.anchors:
                raise _Refused(_line(event.start_mark),
                               f"the alias *{name} names no anchor (&{name}) above it: write the value out")
            self._count(self.sizes[name])
            return self.anchors[name]
        if event.tag is not None:
            raise _Refused(_line(event.start_mark), f"the tag {_shown_tag(event.tag)} is not allowed: a case file holds "
                                                    "plain values only; remove the tag")
        before = self.values
        self._count(1)
        name = event.anchor
        if isinstance(event, yaml.ScalarEvent):
            tag = _PLAIN if event.implicit[0] else "text"
            node: yaml.Node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
            if name is not None:
                self.anchors[name], self.sizes[name] = node, 1
            return node
        if depth >= MAX_DEPTH:
            raise _Refused(_line(event.start_mark), TOO_DEEP)
        if name is not None:
            self.open.add(name)
        if isinstance(event, yaml.SequenceStartEvent):
            node = yaml.SequenceNode(None, [], event.start_mark, None, event.flow_style)
            if name is not None:
                self.anchors[name] = node
            while not self.parser.check_event(yaml.SequenceEndEvent):
                node.value.append(self.node(depth + 1))
        else:
            node = yaml.MappingNode(None, [], event.start_mark, None, event.flow_style)
            if name is not None:
                self.anchors[name] = node
            while not self.parser.check_event(yaml.MappingEndEvent):
                key = self.node(depth + 1)
                node.value.append((key, self.node(depth + 1)))
        node.end_mark = self.parser.get_event().end_mark
        if name is not None:
            self.open.discard(name)
            self.sizes[name] = self.values - before
        return node


def _plain(node: yaml.Node, loc: tuple[int | str, ...], problems: list[Problem]) -> Any:
    """A composed node as plain data; what a case cannot mean goes to ``problems``."""
    if isinstance(node, yaml.ScalarNode):
        if node.tag != _PLAIN:
            return node.value
        value, why = _resolve(node.value)
        if why:
            problems.append(Problem(field_path(loc), _line(node.start_mark), why))
        return value
    if isinstance(node, yaml.SequenceNode):
        return [_plain(child, loc + (i,), problems) for i, child in enumerate(node.value)]
    out: dict[str, Any] = {}
    first: dict[str, int | None] = {}
    for key_node, value_node in node.value:
        line = _line(key_node.start_mark)
        if not isinstance(key_node, yaml.ScalarNode):
            problems.append(Problem(field_path(loc), line, "a list or mapping is used as a key: write a field name there"))
            continue
        if key_node.tag == _PLAIN:
            key, why = _resolve(key_node.value, as_key=True)
            if why:
                problems.append(Problem(field_path(loc), line, why))
                continue
        else:
            key = key_node.value
        if not isinstance(key, str):
            problems.append(Problem(field_path(loc), line, f"the key {key_node.value} is {_kind(key)}: a key is a field "
                                                      "name (quote it if it is one)"))
            continue
        if key in first:
            problems.append(Problem(field_path(loc), line, f"key '{key}' appears twice (first on line {first[key]}): keep one"))
            continue
        first[key] = line
        out[key] = _plain(value_node, loc + (key,), problems)
    return out


def _kind(value: Any) -> str:
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


# The YAML 1.2 core schema (YAML 1.2.2, 10.3.2).
_CORE = re.compile(r"""
    (?P<null>~|null|Null|NULL|)
  | (?P<bool>true|True|TRUE|false|False|FALSE)
  | (?P<int>[-+]?[0-9]+)
  | (?P<oct>0o[0-7]+)
  | (?P<hex>0x[0-9a-fA-F]+)
  | (?P<float>[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?)
  | (?P<inf>[-+]?\.(?:inf|Inf|INF))
  | (?P<nan>\.(?:nan|NaN|NAN))
""", re.X)

_YAML11 = yaml.resolver.Resolver()
_YAML11_VALUES = yaml.constructor.SafeConstructor()
_COMPARED = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:null"}


def _core(text: str) -> Any:
    """A plain scalar by the YAML 1.2 core rules."""
    m = _CORE.fullmatch(text)
    kind = m.lastgroup if m else "str"
    if kind == "str":
        return text
    if kind == "null":
        return None
    if kind == "bool":
        return text.lower() == "true"
    if kind in ("int", "oct", "hex"):
        digits = text.lstrip("+-") if kind == "int" else text[2:]
        if len(digits) > MAX_DIGITS:
            return _Huge(text)
        return int(text) if kind == "int" else int(digits, 8 if kind == "oct" else 16)
    if kind in ("inf", "nan"):
        return float(text.replace(".", "", 1))
    return _float(text)


def _yaml11(text: str) -> tuple[bool, Any]:
    """(whether YAML 1.1 reads ``text`` as a boolean, number or null, the value it reads)."""
    tag = _YAML11.resolve(yaml.ScalarNode, text, (True, False))
    if tag not in _COMPARED:
        return False, text
    return True, _YAML11_VALUES.yaml_constructors[tag](_YAML11_VALUES, yaml.ScalarNode(tag, text))


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    return a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b))


def _resolve(text: str, *, as_key: bool = False) -> tuple[Any, str | None]:
    """A plain scalar's value by YAML 1.2, and why it is refused when YAML 1.1 reads it otherwise."""
    value = _core(text)
    if isinstance(value, _Huge):
        return None, _too_long(text)
    if isinstance(value, _Inexact):
        return None, str(value)
    special, old = _yaml11(text) if len(text) <= 64 else (False, text)
    if _same(old, value) or (not special and isinstance(value, str)):
        return value, None
    if as_key:
        return value, f"the key {text} means {_word(old)} to YAML 1.1 and {_word(value)} to YAML 1.2: quote it"
    if isinstance(old, bool):
        word = "true" if old else "false"
        return value, f"{text} means {word} to YAML 1.1 and is text to YAML 1.2: write {word}, or quote it if it is text"
    if isinstance(value, str):
        return value, f"{text} means {old} to YAML 1.1 and is text to YAML 1.2: write {old}, or quote it if it is text"
    if isinstance(old, int) and isinstance(value, int):
        return value, (f"{text} is octal ({old}) to YAML 1.1 and {value} to YAML 1.2: write {value} (no leading zero), "
                       "or quote it if it is text")
    if isinstance(old, str):
        return value, f"{text} is text to YAML 1.1 and means {value} to YAML 1.2: write {value}, or quote it if it is text"
    return value, (f"{text} means {_word(old)} to YAML 1.1 and {_word(value)} to YAML 1.2: write it so that both "
                   "read it alike, or quote it if it is text")


def _word(value: Any) -> str:
    """A plain value as YAML writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return f"the text '{value}'" if isinstance(value, str) else str(value)


def _too_long(text: str) -> str:
    digits = sum(ch.isdigit() for ch in text)
    return (f"a number of {digits} digits: no field of a case holds a number this long; correct it "
            "(or quote it if it is text)")


def _yaml_problem(exc: yaml.YAMLError, text: str) -> Problem:
    """Where a YAML syntax error is, what is wrong and what to do about it."""
    if isinstance(exc, yaml.reader.ReaderError):
        before = text.encode("utf-8")[: exc.position].count(b"\n") if _BYTE_POSITIONS else text.count("\n", 0, exc.position)
        char = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        return Problem("", before + 1, f"character {char} is not allowed in a case file: remove it")
    mark = getattr(exc, "problem_mark", None)
    line = _line(mark)
    what = getattr(exc, "problem", None) or str(exc)
    # libyaml and PyYAML's own parser word the commonest error apart: one wording for both
    what = re.sub(r", but (?:got|found) .*$", "", re.sub(r"^did not find expected", "expected", what))
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and context_mark is not None and context_mark.line + 1 != line:
        what = f"{what} ({context} opened on line {context_mark.line + 1})"
    hint = "fix the syntax there: indent with spaces, quote text with ': ' or ' #' in it, close every bracket"
    for needle, specific in _YAML_HINTS:
        if needle in what:
            hint = specific
            break
    return Problem("", line, f"not valid YAML: {what}" + (f": {hint}" if hint else ""))


_YAML_HINTS = (
    ("mapping values are not allowed", "quote a value that contains ': ', or put the key on its own line"),
    ("cannot start any token", "indent with spaces, not tabs, and quote text that starts with @, ` or %"),
    ("expected ',' or ']'", "close the list with ] or separate its entries with commas"),
    ("expected ',' or '}'", "close the mapping with } or separate its entries with commas"),
)


# ---------------------------------------------------------------------------
# What either format lets through but a case cannot hold
# ---------------------------------------------------------------------------


def field_path(loc: tuple[int | str, ...]) -> str:
    """``request.levels[2].level``: a field path as messages show it, hidden characters escaped."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + printable(str(part))
    return out


def printable(text: str) -> str:
    """Text from a file, fit to print in a message: control characters and bidi overrides escaped."""
    return "".join(ch.encode("unicode_escape").decode("ascii") if _hidden(ch) else ch for ch in text)


def _hidden(ch: str) -> bool:
    return bool(_HIDDEN.match(ch)) or ch in "\n\t" or "\u202a" <= ch <= "\u202e" or "\u2066" <= ch <= "\u2069"


def line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
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


def _data_problems(data: Any, root: yaml.Node | None) -> list[Problem]:
    problems = []
    stack: list[tuple[tuple[int | str, ...], Any]] = [((), data)]
    while stack:
        loc, value = stack.pop()
        if len(loc) > MAX_DEPTH:
            return [Problem("", None, TOO_DEEP)]
        if isinstance(value, _Huge):
            problems.append(Problem(field_path(loc), line_of(root, loc), _too_long(value)))
        elif isinstance(value, _Inexact):
            problems.append(Problem(field_path(loc), line_of(root, loc), str(value)))
        elif isinstance(value, str):
            why = _control(value)
            if why:
                problems.append(Problem(field_path(loc), line_of(root, loc), why))
        elif isinstance(value, float) and not math.isfinite(value):
            problems.append(Problem(field_path(loc), line_of(root, loc), f"{value} is not a finite number: write a number"))
        elif isinstance(value, dict):
            for key in getattr(value, "duplicates", ()):
                problems.append(Problem(field_path(loc + (key,)), None, f"key '{printable(key)}' appears twice in one object: keep one"))
            for key, child in reversed(value.items()):  # popped in the document's order
                why = _control(key)
                if why:
                    problems.append(Problem(field_path(loc + (key,)), line_of(root, loc), f"in this key, {why}"))
                else:
                    stack.append((loc + (key,), child))
        elif isinstance(value, list):
            stack.extend((loc + (i,), value[i]) for i in reversed(range(len(value))))
    return problems
