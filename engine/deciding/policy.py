"""Finding, vetting and parsing a policy folder.

A policy is a folder ``policies/<id>/`` whose ``*.lp`` files (not its
``tests/``) make one program.  Before clingo sees a byte of it, every file is
scanned for directives that would run code or read other files: ``#script``
is refused outright, and ``#include`` only within the policy's own folder
(the included file is loaded by the engine, never by clingo, which would
follow any path it is given).  The header's ``% key: value`` lines give the
policy's identity; criteria are read from its ``criterion/3`` facts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from clingo import ast

from engine.deciding.core import intrusions
from engine.deciding.errors import PolicyError
from engine.deciding.predicates import nodes

HEADER_KEYS = ("payer", "policy", "title", "version", "effective", "source", "verification", "appeal-rights")
REQUIRED_HEADER = ("payer", "policy", "version", "effective", "source")

#: The repository's own policies, beside the engine package.
DEFAULT_POLICIES_DIR = Path(__file__).resolve().parents[2] / "policies"


def policies_dir(override: str | Path | None = None) -> Path:
    if override is not None:
        return Path(override)
    env = os.environ.get("NECESSITY_POLICIES")
    return Path(env) if env else DEFAULT_POLICIES_DIR


@dataclass(frozen=True)
class Criterion:
    id: str
    title: str
    citation: str


@dataclass(frozen=True)
class Policy:
    id: str
    folder: Path
    header: dict[str, str]
    files: tuple[Path, ...]
    statements: tuple[ast.AST, ...] = field(repr=False)
    criteria: tuple[Criterion, ...]

    @property
    def version(self) -> str:
        return self.header.get("version", "")

    @property
    def effective(self) -> str:
        return self.header.get("effective", "")

    def criterion(self, cid: str) -> Criterion:
        for c in self.criteria:
            if c.id == cid:
                return c
        return Criterion(cid, cid, "")


def shipped_policies(directory: str | Path | None = None) -> list[str]:
    root = policies_dir(directory)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and any(p.glob("*.lp")))


def resolve(ref: str, directory: str | Path | None = None) -> Path:
    """A policy id (looked up in the policies folder) or a folder path."""
    candidate = Path(ref)
    looks_like_path = os.sep in ref or ref.startswith(".") or candidate.is_dir()
    if looks_like_path:
        if not candidate.is_dir():
            raise PolicyError([f"{ref}: no such policy folder: give a folder holding policy .lp files"])
        return candidate.resolve()
    root = policies_dir(directory)
    folder = root / ref
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", ref) or not folder.is_dir():
        known = ", ".join(shipped_policies(directory)) or "none"
        raise PolicyError([f"{ref}: unknown policy (known in {root}: {known}); give an id or a policy folder"])
    return folder.resolve()


# --------------------------------------------------------------------------
# Vetting the text: directives that reach outside the policy
# --------------------------------------------------------------------------

_TOKEN = re.compile(
    r'%\*.*?\*%'            # block comment
    r'|%[^\n]*'             # line comment
    r'|"(?:\\.|[^"\\\n])*"'  # string
    r'|#[a-z]+',            # directive
    re.S,
)
# Control characters other than tab and line ends (E205).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Outside comments and strings, the characters clingo reads: any other stops its parser with a
# message that cuts a UTF-8 character in half, and clingo's logger then aborts the process (E206).
_UNREADABLE = re.compile(r'%\*.*?\*%|%[^\n]*|"(?:\\.|[^"\\\n])*"|(?P<bad>[^\x00-\x7f])', re.S)
BOM = "\ufeff"
_INCLUDE = re.compile(r'#include\s*(?:"((?:\\.|[^"\\\n])*)"|<([^>\n]*)>)\s*\.')


@dataclass(frozen=True)
class Directive:
    file: Path
    line: int
    column: int
    name: str
    end: int  # offset just past the directive's text
    start: int
    target: str | None = None


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def scan_directives(path: Path, text: str) -> list[Directive]:
    """Every ``#script``, ``#include`` (and ``#program``) outside comments and strings."""
    found = []
    for m in _TOKEN.finditer(text):
        tok = m.group(0)
        if not tok.startswith("#") or tok not in ("#script", "#include", "#program"):
            continue
        line, col = _line_col(text, m.start())
        if tok == "#include":
            inc = _INCLUDE.match(text, m.start())
            target = (inc.group(1) if inc.group(1) is not None else inc.group(2)) if inc else None
            end = inc.end() if inc else m.end()
            found.append(Directive(path, line, col, tok, end, m.start(), target))
        else:
            found.append(Directive(path, line, col, tok, m.end(), m.start()))
    return found


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def vet(folder: Path) -> tuple[list[tuple[Path, str]], list[str]]:
    """The policy's files (includes resolved inside the folder) and what is refused."""
    errors: list[str] = []
    # policy.lp first (it carries the header), then the other files by name
    pending = sorted((p for p in folder.glob("*.lp") if p.is_file()), key=lambda p: (p.name != "policy.lp", p.name))
    if not pending:
        return [], [f"{_display(folder)}: no .lp files: a policy folder holds at least policy.lp"]
    seen: set[Path] = set()
    files: list[tuple[Path, str]] = []
    inside = folder.resolve()
    while pending:
        path = pending.pop(0).resolve()
        if path in seen:
            continue
        seen.add(path)
        if not path.is_relative_to(inside):
            errors.append(f"{_display(path)}: E202 a link to a file outside the policy folder "
                          f"{_display(folder)}: copy the file into the folder")
            continue
        try:
            raw = path.read_bytes()
            text = raw.decode("utf-8").removeprefix(BOM)  # a byte-order mark is read, not parsed (lint: W207)
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            errors.append(f"{_display(path)}:{line}: not UTF-8 text: save the file as UTF-8")
            continue
        except OSError as exc:
            errors.append(f"{_display(path)}: cannot be read ({exc.strerror or exc}): check the file")
            continue
        blanked = list(text)
        for n, m in enumerate(_CONTROL.finditer(text)):
            if n < 5:
                line, col = _line_col(text, m.start())
                errors.append(f"{_display(path)}:{line}:{col}: E205 control character U+{ord(m.group()):04X}: clingo "
                              "stops reading a file at a NUL, hiding every rule after it; delete the character")
            blanked[m.start()] = " "  # lint then reads the rules after it
        unreadable = [m.start("bad") for m in _UNREADABLE.finditer(text) if m.group("bad") and not _CONTROL.match(m["bad"])]
        for n, start in enumerate(unreadable):
            if n < 5:
                line, col = _line_col(text, start)
                errors.append(f"{_display(path)}:{line}:{col}: E206 character U+{ord(text[start]):04X} outside a "
                              "string or a comment: clingo reads only ASCII there; write it in a \"string\" or "
                              "a % comment, or delete it")
            blanked[start] = " "
        for d in scan_directives(path, text):
            where = f"{_display(path)}:{d.line}:{d.column}"
            if d.name == "#script":
                errors.append(f"{where}: E201 #script is refused: a policy may not run code; express the rule in ASP")
            elif d.name == "#program":
                errors.append(f"{where}: E203 #program is refused: a policy is one base program")
            elif d.target is None:
                errors.append(f"{where}: E202 #include must name a file in quotes inside the policy folder")
            else:
                target = (path.parent / d.target).resolve()
                if not target.is_relative_to(folder) or not target.is_file():
                    errors.append(
                        f"{where}: E202 #include of '{d.target}' reaches outside the policy folder "
                        f"{_display(folder)}: copy the rules into the policy"
                        if not target.is_relative_to(folder)
                        else f"{where}: E202 #include of '{d.target}': no such file in the policy folder"
                    )
                else:
                    pending.append(target)
                # the engine loads the file itself; clingo never follows the path
                for i in range(d.start, d.end):
                    if blanked[i] != "\n":
                        blanked[i] = " "
        files.append((path, "".join(blanked)))
    return files, errors


# --------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------

_HEADER = re.compile(r"^%\s*([a-z]+(?:-[a-z]+)*)\s*:\s*(.+?)\s*$")


def read_header(text: str) -> dict[str, str]:
    """The ``% key: value`` lines at the top of a file (``|`` separates pairs)."""
    header: dict[str, str] = {}
    for raw in text.splitlines():
        if not raw.startswith("%"):
            if raw.strip():
                break
            continue
        for part in raw.lstrip("%").split(" | "):
            m = _HEADER.match("%" + part)
            if m and m.group(1) in HEADER_KEYS:
                header.setdefault(m.group(1), m.group(2))
    return header


def _relocate(stm: ast.AST, name: str) -> ast.AST:
    loc = stm.location
    return stm.update(location=ast.Location(
        ast.Position(name, loc.begin.line, loc.begin.column),
        ast.Position(name, loc.end.line, loc.end.column),
    ))


def _syntax_message(message: str, name: str) -> str:
    """clingo's parse message as ``file:line:col: what: how to fix``."""
    text = message.replace("<string>", name).strip().replace(": error: ", ": ", 1)
    if "syntax error" in text or "lexer error" in text:
        hint = "end the last rule with a period and close its brackets" if "unexpected EOF" in text else "correct the rule at that position"
        text = f"{text}: {hint}"
    return text


def parse_files(files: list[tuple[Path, str]]) -> tuple[list[ast.AST], list[str]]:
    statements: list[ast.AST] = []
    errors: list[str] = []
    for path, text in files:
        name = _display(path)
        messages: list[str] = []
        batch: list[ast.AST] = []
        try:
            ast.parse_string(text, batch.append, logger=lambda _code, msg: messages.append(msg))
        except RuntimeError:
            errors.extend(_syntax_message(m, name) for m in messages)
            continue
        for stm in batch if "@" in text else ():  # the walk is costly; an @-term needs an '@'
            for call in _external_calls(stm):
                loc = call.location.begin
                errors.append(f"{name}:{loc.line}:{loc.column}: E204 @{call.name} is refused: an @-term calls "
                              "a host-language function; compute the value in ASP")
        statements.extend(_relocate(s, name) for s in batch)
    return statements, errors


def _external_calls(stm: ast.AST) -> Iterator[ast.AST]:
    """The ``@f(...)`` terms in ``stm``: calls out of ASP, never allowed in a policy."""
    return (n for n in nodes(stm) if n.ast_type == ast.ASTType.Function and n.external)


def _criteria(statements: list[ast.AST]) -> tuple[list[Criterion], list[str]]:
    """``criterion(Id, Title, Citation).`` facts, in the order they are written."""
    out: list[Criterion] = []
    problems: list[str] = []
    for stm in statements:
        if stm.ast_type != ast.ASTType.Rule or stm.body:
            continue
        head = stm.head
        if head.ast_type != ast.ASTType.Literal or head.atom.ast_type != ast.ASTType.SymbolicAtom:
            continue
        term = head.atom.symbol
        if term.ast_type != ast.ASTType.Function or term.name != "criterion" or len(term.arguments) != 3:
            continue
        values = []
        for arg in term.arguments:
            if arg.ast_type == ast.ASTType.SymbolicTerm and arg.symbol.type.name == "String":
                values.append(arg.symbol.string)
            else:
                values.append(None)
        loc = stm.location.begin
        if None in values or not all(values):
            problems.append(f"{loc.filename}:{loc.line}:{loc.column}: E301 criterion/3 needs three non-empty strings: id, title, citation")
            continue
        out.append(Criterion(*values))
    return out, problems


@lru_cache(maxsize=32)
def _load(folder: Path) -> Policy:
    files, errors = vet(folder)
    if errors:
        raise PolicyError(errors)
    statements, errors = parse_files(files)
    if errors:
        raise PolicyError(errors)
    intruding = intrusions(statements)
    if intruding:
        raise PolicyError([f"{loc.begin.filename}:{loc.begin.line}:{loc.begin.column}: {code} {message}"
                           for loc, code, message in intruding])
    criteria, problems = _criteria(statements)
    if problems:
        raise PolicyError(problems)
    main = next((t for p, t in files if p.name == "policy.lp"), files[0][1])
    header = read_header(main)
    missing = [k for k in REQUIRED_HEADER if k not in header]
    if missing:
        raise PolicyError([f"{_display(files[0][0])}:1:1: E302 header lacks {', '.join(missing)}: add '% key: value' lines"])
    return Policy(
        id=header.get("policy", folder.name),
        folder=folder,
        header=header,
        files=tuple(p for p, _ in files),
        statements=tuple(statements),
        criteria=tuple(criteria),
    )


def load(ref: str, directory: str | Path | None = None) -> Policy:
    """Resolve, vet and parse a policy; raise ``PolicyError`` with every problem."""
    return _load(resolve(ref, directory))
