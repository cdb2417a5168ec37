"""What a solve returns: plain, frozen data, ordered the same way every time."""

from __future__ import annotations

from dataclasses import dataclass

DETERMINATIONS = ("none", "decompression_only", "fusion")
ITEM_DETERMINATIONS = ("medically_necessary", "not_medically_necessary", "not_addressed")
STATUSES = ("met", "not_met", "not_documented")
OUTCOMES = ("approved", "partially_approved", "denied")


@dataclass(frozen=True)
class Evidence:
    """One fact behind a status: the atom as the solver saw it and its reading."""

    atom: str
    text: str


@dataclass(frozen=True)
class CriterionResult:
    id: str
    title: str
    citation: str
    scope: str  # "case", a level such as "L4-L5", or an item such as "interbody_device@L4-L5"
    status: str
    evidence: tuple[Evidence, ...]
    noted: tuple[Evidence, ...] = ()
    documentation: str | None = None  # what the record must say, for not_documented


@dataclass(frozen=True)
class Assumption:
    criterion: str
    scope: str


@dataclass(frozen=True)
class WouldChange:
    """Assume every criterion in ``requires`` met, and the subject becomes ``determination``."""

    determination: str
    requires: tuple[Assumption, ...]

    @property
    def criterion_ids(self) -> tuple[str, ...]:
        return tuple(a.criterion for a in self.requires)


@dataclass(frozen=True)
class LevelDecision:
    level: str
    requested: tuple[str, ...]
    determination: str
    criteria: tuple[CriterionResult, ...] = ()
    would_change: tuple[WouldChange, ...] = ()


@dataclass(frozen=True)
class ItemDecision:
    item: str
    level: str | None
    determination: str
    criteria: tuple[CriterionResult, ...] = ()
    would_change: tuple[WouldChange, ...] = ()


@dataclass(frozen=True)
class PolicyRef:
    id: str
    version: str
    effective: str
    payer: str = ""
    title: str = ""


@dataclass(frozen=True)
class Decision:
    case: str
    policy: PolicyRef
    outcome: str
    levels: tuple[LevelDecision, ...]
    items: tuple[ItemDecision, ...]
    explained: bool = True
    would_change_computed: bool = True
    #: every criterion the policy evaluated, as (id, scope, status), reported or not
    statuses: tuple[tuple[str, str, str], ...] = ()

    def status_of(self, criterion: str, scope: str = "case") -> str | None:
        for cid, sc, st in self.statuses:
            if cid == criterion and sc == scope:
                return st
        return None

    def level(self, name: str) -> LevelDecision:
        for lv in self.levels:
            if lv.level == name:
                return lv
        raise KeyError(name)

    def item(self, name: str, level: str | None = None) -> ItemDecision:
        for it in self.items:
            if it.item == name and it.level == level:
                return it
        raise KeyError((name, level))
