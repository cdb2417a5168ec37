"""The mapping tables: codes of the outside world and what they mean here.

Every mapping between a FHIR code and the case model is a row in a CSV file
in ``exchange/data/`` with its source (docs/fhir.md lists them).  This is the
one loader; nothing else reads those files, and no code is mapped anywhere
else.  Lines starting with ``#`` are comments.
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from engine.deciding.errors import UserError

#: Each table and the columns its rows carry (every table has ``source``).
COLUMNS: dict[str, tuple[str, ...]] = {
    "procedures": ("system", "code", "display", "service", "values", "source"),
    "body-sites": ("system", "code", "display", "level", "source"),
    "modifiers": ("system", "code", "display", "side", "source"),
    "places-of-service": ("system", "code", "display", "setting", "source"),
    "observations": ("system", "code", "display", "field", "unit", "source"),
    "review-actions": ("action", "system", "code", "display", "source"),
    "reason-codes": ("action", "system", "code", "display", "source"),
    "attachments": ("field", "system", "code", "display", "source"),
    "request-types": ("system", "code", "display", "setting", "source"),
    "code-systems": ("system", "pattern", "read_as", "source"),
    "authorization": ("setting", "value", "source"),
    "questionnaire-codes": ("field", "system", "code", "display", "define", "source"),
}

#: The cells that say what a row means: two codings of one element that map to rows differing in
#: them say two different things (refused), rows agreeing in them say the same thing twice.
MEANING: dict[str, tuple[str, ...]] = {
    "procedures": ("service", "values"),
    "body-sites": ("level",),
    "modifiers": ("side",),
    "places-of-service": ("setting",),
    "observations": ("field", "unit"),
    "request-types": ("setting",),
}

#: A file that replaces the shipped reason codes (the same columns).
REASON_CODES_ENV = "NECESSITY_REASON_CODES"
#: The cells a row of a table must fill (besides ``source``): a code goes into a FHIR coding as written.
REQUIRED: dict[str, tuple[str, ...]] = {"reason-codes": ("action", "system", "code")}


@dataclass(frozen=True)
class Row:
    table: str
    line: int
    cells: tuple[tuple[str, str], ...]

    def __getitem__(self, column: str) -> str:
        for name, value in self.cells:
            if name == column:
                return value
        raise KeyError(column)


def _read(name: str, text: str, origin: str) -> tuple[Row, ...]:
    wanted = COLUMNS[name]
    lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip() and not line.startswith("#")]
    if not lines:
        raise UserError(f"{origin}: empty: the first line names the columns {','.join(wanted)}")
    reader = csv.reader(io.StringIO("\n".join(line for _, line in lines)))
    header = next(reader)
    if tuple(header) != wanted:
        raise UserError(f"{origin}:{lines[0][0]}: the columns are {','.join(header)}: write {','.join(wanted)}")
    rows = []
    for (number, _), cells in zip(lines[1:], reader):
        if len(cells) != len(wanted):
            raise UserError(f"{origin}:{number}: {len(cells)} cells, not {len(wanted)}: quote a cell that holds a comma")
        if not cells[wanted.index("source")].strip():
            raise UserError(f"{origin}:{number}: the row names no source: say where the code comes from")
        for column in REQUIRED.get(name, ()):
            if not cells[wanted.index(column)].strip():
                raise UserError(f"{origin}:{number}: the {column} cell is empty: fill it in")
        row = Row(name, number, tuple(zip(wanted, (c.strip() for c in cells))))
        if name == "reason-codes":
            # A reason for an action no response takes would never be sent: a typo, not a choice.
            actions = [r["action"] for r in _shipped("review-actions")]
            if row["action"] not in actions:
                raise UserError(f"{origin}:{number}: action '{row['action']}' is not a review action: "
                                f"use one of {', '.join(actions)}")
        rows.append(row)
    return tuple(rows)


@lru_cache(maxsize=None)
def _shipped(name: str) -> tuple[Row, ...]:
    text = resources.files("exchange").joinpath("data", f"{name}.csv").read_text(encoding="utf-8")
    return _read(name, text, f"exchange/data/{name}.csv")


def table(name: str) -> tuple[Row, ...]:
    """The rows of one mapping table, in file order."""
    if name == "reason-codes" and os.environ.get(REASON_CODES_ENV):
        path = Path(os.environ[REASON_CODES_ENV])
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UserError(f"{path} (${REASON_CODES_ENV}): cannot be read ({exc.strerror or exc}): check the path") from None
        except UnicodeDecodeError as exc:
            line = path.read_bytes()[: exc.start].count(b"\n") + 1
            raise UserError(f"{path}:{line} (${REASON_CODES_ENV}): not UTF-8 text (byte {exc.start}): "
                            "save the file as UTF-8") from None
        return _read(name, text, str(path))
    return _shipped(name)


def _by_code(rows: tuple[Row, ...]) -> dict[tuple[str, str], Row]:
    out: dict[tuple[str, str], Row] = {}
    for row in rows:
        out.setdefault((row["system"], row["code"]), row)
    return out


@lru_cache(maxsize=None)
def _shipped_index(name: str) -> dict[tuple[str, str], Row]:
    return _by_code(_shipped(name))


@lru_cache(maxsize=None)
def _aliases() -> tuple[tuple[str, re.Pattern[str], str], ...]:
    return tuple((r["system"], re.compile(r["pattern"]), r["read_as"]) for r in _shipped("code-systems"))


def lookup(name: str, system: str | None, code: str | None) -> Row | None:
    """The row for a code, or None when the table has no row for it.

    A code given under a system that code-systems.csv says also carries
    another's codes (CPT codes are HCPCS Level I codes) is looked up under
    that system too.
    """
    if code is None:
        return None
    rows = table(name)
    index = _shipped_index(name) if rows is _shipped(name) else _by_code(rows)
    row = index.get((system or "", code))
    if row is not None:
        return row
    for alias, pattern, read_as in _aliases():
        if read_as and alias == (system or "") and pattern.fullmatch(code):
            return index.get((read_as, code))
    return None


def is_category(system: str | None, code: str | None) -> bool:
    """Whether a code classifies a service rather than names it (code-systems.csv rows with no read_as)."""
    return code is not None and any(not read_as and alias == (system or "") and pattern.fullmatch(code)
                                    for alias, pattern, read_as in _aliases())


def meaning(row: Row) -> tuple[str, ...]:
    """What a row says, in the cells that say it (MEANING)."""
    return tuple(row[c] for c in MEANING.get(row.table, ("code",)))


# ---------------------------------------------------------------------------
# what a procedures.csv row's values say
# ---------------------------------------------------------------------------


def values(row: Row) -> list[str]:
    return row["values"].split()


def default_value(row: Row) -> str | None:
    """The value a code stands for when the documentation does not refine it (None: ``*``, it names none)."""
    first = values(row)[0]
    return None if first == "*" else first


def admits(row: Row, value: str) -> bool:
    vals = values(row)
    return "*" in vals or any(value in v.split("+") for v in vals)


def coding_of(row: Row) -> dict[str, str]:
    return {"system": row["system"], "code": row["code"], "display": row["display"]}
