"""Reading a model: the atoms the engine shows, decoded into determinations, statuses and evidence.

A shown atom is decoded once per process (``_row``, remembered): a batch sees
the same atoms again and again.  ``_Reading`` indexes the atoms of one plain
model for ``solver.Engine``.  An atom not of the engine's shape reads as
nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from functools import lru_cache, wraps

from clingo import Function, String, Symbol, SymbolType

from engine.deciding.core import shown as core_shown
from facts import anatomy
from facts.terms import SPINAL_LEVELS, Item

_LEVEL_ORDER = {lv: i for i, lv in enumerate(SPINAL_LEVELS)}
_ITEM_ORDER = {it.value: i for i, it in enumerate(Item)} | {"inpatient_setting": len(Item)}


def _scope_text(sym: Symbol) -> str:
    if sym.type == SymbolType.String:
        return sym.string
    if sym.type == SymbolType.Function and sym.name == "item":
        item, where = sym.arguments
        return item.name if where.type == SymbolType.Function else f"{item.name}@{where.string}"
    return str(sym)


def _scope_symbol(scope: str) -> Symbol:
    """The inverse of ``_scope_text``."""
    if scope == "case":
        return Function("case")
    if scope in _LEVEL_ORDER:
        return String(scope)
    item, _, where = scope.partition("@")
    return Function("item", [Function(item), String(where) if where else Function("case")])


@lru_cache(maxsize=1)
def _anatomy() -> tuple[Symbol, ...]:
    return tuple(anatomy())


def _level_key(level: str) -> int:
    return _LEVEL_ORDER.get(level, len(_LEVEL_ORDER))


_MEMO_LIMIT = 200_000
_rows: dict[Symbol, tuple] = {}
#: The arity of each atom the engine shows (core.lp's #show), the only ones the reader decodes.
_SHOWN = {name: int(arity) for name, _, arity in (sig.rpartition("/") for sig in core_shown())}


def _foreign_read_past(decode):
    """An atom not of the engine's shape (a policy's own #show, a number, a criterion id
    that is not a string) is nothing the engine reports: it reads as ``("",)``."""
    @wraps(decode)
    def row(sym: Symbol) -> tuple:
        try:
            return decode(sym)
        except (RuntimeError, ValueError, IndexError):
            return ("",)
    return row


@_foreign_read_past
def _row(sym: Symbol) -> tuple:
    """A shown atom as (name, key...), decoded once per process: a batch sees the same atoms again and again."""
    row = _rows.get(sym)
    if row is not None:
        return row
    name, a = sym.name, sym.arguments
    if len(a) != _SHOWN.get(name, len(a)):
        raise ValueError(f"{name}/{len(a)} is not shown by the engine")
    if name == "determination":
        row = (name, a[0].string, a[1].name)
    elif name == "item_determination":
        row = (name, a[0].name, None if a[1].type == SymbolType.Function else a[1].string, a[2].name)
    elif name == "outcome":
        row = (name, a[0].name)
    elif name == "status":
        row = (name, a[0].string, _scope_text(a[1]), a[2].name)
    elif name in ("met", "not_met", "noted", "unsettled"):
        row = (name, a[0].string, _scope_text(a[1]), a[2])
    elif name == "superseded":
        row = (name, a[0].string, _scope_text(a[1]), a[2], a[3])
    elif name == "waived":
        row = (name, a[0].string, _scope_text(a[1]), a[2].string)
    elif name == "assumed_status":
        row = (name, a[0].string, _scope_text(a[1]), a[2].name)
    elif name == "lacking":
        row = (name, a[0].string, _scope_text(a[1]), a[2])
    elif name in ("tree_condition", "tree_condition_ev"):
        row = (name, a[0].string, a[1], a[2].name if name == "tree_condition" else a[2])
    elif name == "report":
        subject = a[0]  # level(L) or item(I, W)
        key = subject.arguments[0].string if subject.name == "level" else _scope_text(subject)
        row = (name, key, a[1].string, _scope_text(a[2]))
    else:
        row = (name,)
    if len(_rows) >= _MEMO_LIMIT:
        _rows.clear()
    _rows[sym] = row
    return row


_texts: dict[Symbol, str] = {}


def _text(sym: Symbol) -> str:
    """``str(sym)``, remembered."""
    text = _texts.get(sym)
    if text is None:
        if len(_texts) >= _MEMO_LIMIT:
            _texts.clear()
        text = _texts[sym] = str(sym)
    return text


class _Reading:
    """The atoms of one plain model, indexed."""

    def __init__(self, symbols: Iterable[Symbol]):
        self.determination: dict[str, str] = {}
        self.items: dict[tuple[str, str | None], str] = {}
        self.outcome = ""
        self.status: dict[tuple[str, str], str] = {}
        self.evidence: dict[tuple[str, str, str], list[Symbol]] = defaultdict(list)
        self.reports: dict[str, set[tuple[str, str]]] = defaultdict(set)
        self.superseded: dict[tuple[str, str], list[tuple[Symbol, Symbol]]] = defaultdict(list)
        self.waived: dict[tuple[str, str], str] = {}
        self.lacking: dict[tuple[str, str], list[Symbol]] = defaultdict(list)
        #: a determination tree's conditions other than criteria: (level, term) -> t or f, and evidence
        self.conditions: dict[tuple[str, Symbol], str] = {}
        self.condition_evidence: dict[tuple[str, Symbol], list[Symbol]] = defaultdict(list)
        for sym in symbols:
            row = _row(sym)
            name = row[0]
            if name == "determination":
                self.determination[row[1]] = row[2]
            elif name == "item_determination":
                self.items[(row[1], row[2])] = row[3]
            elif name == "outcome":
                self.outcome = row[1]
            elif name == "status":
                self.status[(row[1], row[2])] = row[3]
            elif name == "report":
                self.reports[row[1]].add((row[2], row[3]))
            elif name == "superseded":
                self.superseded[(row[1], row[2])].append((row[3], row[4]))
            elif name == "waived":
                self.waived[(row[1], row[2])] = row[3]
            elif name in ("met", "not_met", "noted", "unsettled"):
                self.evidence[row[:3]].append(row[3])
            elif name == "lacking":
                self.lacking[(row[1], row[2])].append(row[3])
            elif name == "tree_condition":
                self.conditions[(row[1], row[2])] = row[3]
            elif name == "tree_condition_ev":
                self.condition_evidence[(row[1], row[2])].append(row[3])

