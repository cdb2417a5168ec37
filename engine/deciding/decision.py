"""What a solve returns: plain, frozen data, ordered the same way every time."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

DETERMINATIONS = ("none", "decompression_only", "fusion")
#: A level the policy has no criterion for: manual review, never a silent none.
NOT_ADDRESSED = "not_addressed"
LEVEL_DETERMINATIONS = (*DETERMINATIONS, NOT_ADDRESSED)
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
    #: older findings a newer study overrules (the text names the newer study)
    superseded: tuple[Evidence, ...] = ()
    #: documented facts that leave the criterion open (a date known only to the
    #: month, studies that disagree with no order documented)
    unsettled: tuple[Evidence, ...] = ()
    #: the waiver that stands in for this criterion, when it does
    waived_by: str | None = None
    #: the criteria this one is made of (it holds when all of them do)
    parts: tuple[str, ...] = ()
    #: the criterion this one waives, for a waiver
    waives: str | None = None
    #: it rests on other determinations only (``derived/1``), so no what-if line names it
    derived: bool = False
    #: for not_documented, what this record is silent on that the criterion reads: each leaf of
    #: its formula left open (core.lp's ``lacking/3``), the leaf as ``atom`` and its words as
    #: ``text``; empty for a criterion of raw rules, which the engine cannot split
    lacking: tuple[Evidence, ...] = ()


@dataclass(frozen=True)
class Assumption:
    """A criterion the what-if solve assumes met, with the status the record gives it."""

    criterion: str
    scope: str
    status: str = "not_documented"  # or "not_met": refuted by a documented finding


#: The kinds of what-if answer, in the order they are reported: never mixed in one line.
DOCUMENTATION = "documentation"  # every criterion needed is not documented: documentation to obtain
CONTRADICTED = "contradicted"  # every criterion needed is refuted by a documented finding
#: some criterion needed is refuted by a documented finding, and some other is not documented
CONTRADICTED_AND_DOCUMENTATION = "contradicted_and_documentation"
CHANGE_KINDS = (DOCUMENTATION, CONTRADICTED, CONTRADICTED_AND_DOCUMENTATION)
#: The two searches that find them: sets of not-documented criteria only, and sets needing a refuted one.
SEARCHED_KINDS = (DOCUMENTATION, CONTRADICTED)


def change_kind(assumed: "tuple[Assumption, ...]") -> str:
    """The kind of a what-if set: from the statuses of what it needs, so that a line says exactly that."""
    statuses = {a.status for a in assumed}
    if "not_met" not in statuses:
        return DOCUMENTATION
    return CONTRADICTED if statuses == {"not_met"} else CONTRADICTED_AND_DOCUMENTATION


@dataclass(frozen=True)
class WouldChange:
    """Every criterion in ``requires`` met, and (when ``one_of`` is given) any one
    of ``one_of``, and the subject becomes ``determination``.

    ``kind`` is ``documentation`` when every criterion needed is not
    documented (what a provider can send), ``contradicted`` when every one is
    refuted by a documented finding (only a different finding could change it),
    ``contradicted_and_documentation`` when it needs both.
    """

    determination: str
    requires: tuple[Assumption, ...]
    one_of: tuple[Assumption, ...] = ()
    kind: str = DOCUMENTATION
    #: how many of ``one_of`` are needed: more than one where the policy's declared tree asks for
    #: at least K of them (``n_of``) and the solver found every such choice
    choose: int = 1

    @property
    def criterion_ids(self) -> tuple[str, ...]:
        return tuple(a.criterion for a in (*self.requires, *self.one_of))

    @property
    def alternatives(self) -> tuple[tuple[Assumption, ...], ...]:
        """Each set of criteria this line stands for, written out."""
        if not self.one_of:
            return (self.requires,)
        return tuple((*self.requires, *chosen) for chosen in combinations(self.one_of, self.choose))


#: The kinds of node of a declared tree (``Tree``).
ALL, ANY, N_OF, CRITERION, WAIVED_BY, CONDITION = "all", "any", "n_of", "criterion", "waived_by", "condition"


@dataclass(frozen=True)
class Condition:
    """A condition of a declared tree that is not a criterion (``lacks(finding(x))``, say): its term
    as nested tuples (``("lacks", ("finding", "x"))``), its value at the level and what it cites."""

    term: tuple
    status: str
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True)
class Tree:
    """What justifies a level, as the policy declares it (``justifies/2``, ``formula/2``), read back
    from the model with every criterion's result at the scope it is judged at.

    ``all``, ``any`` and ``n_of`` (``k`` of the children) are connectives; a ``criterion`` node
    holds its result, and beneath it what it is made of (its parts, or its own formula when that
    is a tree of criteria) and, where the tree accepts a waiver (``satisfied(C)``), a
    ``waived_by`` node of the waivers (``or_waived``); a ``condition`` node holds a condition
    of the tree that is not a criterion.
    """

    kind: str
    children: tuple[Tree, ...] = ()
    criterion: CriterionResult | None = None
    k: int = 0
    or_waived: bool = False
    condition: Condition | None = None


@dataclass(frozen=True)
class LevelDecision:
    level: str
    requested: tuple[str, ...]
    determination: str
    criteria: tuple[CriterionResult, ...] = ()
    would_change: tuple[WouldChange, ...] = ()
    #: the policy's declared tree for what the level asked, where that tree alone decides it
    #: (None: no tree declared, or a raw rule decides the level too; engine/deciding/trees.py)
    tree: Tree | None = None


@dataclass(frozen=True)
class ItemDecision:
    item: str
    level: str | None
    determination: str
    criteria: tuple[CriterionResult, ...] = ()
    would_change: tuple[WouldChange, ...] = ()


def asked(subject: LevelDecision | ItemDecision) -> str:
    """The determination that gives what was asked: ``fusion`` where fusion is requested, else
    ``decompression_only``; ``medically_necessary`` for an item."""
    if isinstance(subject, ItemDecision):
        return "medically_necessary"
    return "fusion" if "fusion" in subject.requested else "decompression_only"


def reaches(determination: str, wanted: str) -> bool:
    """``determination`` gives ``wanted`` or more (fusion gives decompression only)."""
    if wanted in DETERMINATIONS and determination in DETERMINATIONS:
        return DETERMINATIONS.index(determination) >= DETERMINATIONS.index(wanted)
    return determination == wanted


def requirements(subject: LevelDecision | ItemDecision) -> tuple[WouldChange, ...]:
    """The what-if lines that give what was asked: what the requested service needs.

    A level that asked for fusion alone also has lines for decompression only
    (a lower answer the record could reach); those are not what the service
    needs, so neither "blocked by" nor the documentation to request reads them.
    """
    wanted = asked(subject)
    return tuple(w for w in subject.would_change if reaches(w.determination, wanted))


@dataclass(frozen=True)
class PolicyRef:
    id: str
    version: str
    effective: str
    payer: str = ""
    title: str = ""


@dataclass(frozen=True)
class Notice:
    """Something a reader must know about the decision as a whole, e.g. a request
    dated outside the policy's effective period."""

    code: str
    text: str


#: A notice of a requested service the case record could not hold (a Claim item no mapping row
#: reads): no determination covers it, so the outcome holds only for what was decided.
ITEM_NOT_DECIDED = "item_not_decided"
#: A notice of something in the request that was not read (a linkId, a place of service, a result).
NOT_READ = "not_read"


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
    notices: tuple[Notice, ...] = ()

    @property
    def undecided(self) -> tuple[Notice, ...]:
        """The notices of requested services no determination covers (the outcome is for the rest)."""
        return tuple(n for n in self.notices if n.code == ITEM_NOT_DECIDED)

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
