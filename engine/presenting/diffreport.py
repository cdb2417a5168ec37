"""What a policy edit changes on a case library, as one page (``diff A B --cases LIB --report FILE``).

The cases whose decision changes (``engine/analysing/impact.py`` decides
each under both policies and compares them), grouped by what changed (the
outcome's transition, each level's and item's) and by the criteria that
caused it (those whose status differs between the two decisions of a
changed case), and every changed case with both decisions side by side.
The page arranges what the comparison found; it decides nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.presenting import labels
from engine.presenting.page import Anchors, inline, render


@dataclass(frozen=True)
class Side:
    """One service of a changed case under both policies."""

    kind: str  # "outcome", "level" or "item"
    name: str
    a: str
    b: str

    @property
    def changed(self) -> bool:
        return self.a != self.b


@dataclass(frozen=True)
class Case:
    anchor: str
    source: str
    case: str
    sides: tuple[Side, ...]
    criteria: tuple[tuple[str, str, str, str], ...]  # (id, scope in words, under a, under b)
    errors: tuple[str, str]


def _status(value: str) -> str:
    return labels.status(value) if value else "not evaluated"


def _cases(result: Any, anchors: Anchors) -> list[Case]:
    out = []
    for c in result.changes:
        va, vb = c.verdicts
        sides = [Side("outcome", "the request", va.outcome if va else "", vb.outcome if vb else "")]
        la, lb = dict(va.levels) if va else {}, dict(vb.levels) if vb else {}
        for level in labels.anatomical([*la, *lb]):
            sides.append(Side("level", level, la.get(level, ""), lb.get(level, "")))
        ia, ib = dict(va.items) if va else {}, dict(vb.items) if vb else {}
        for key in dict.fromkeys([*ia, *ib]):
            sides.append(Side("item", labels.scope(key), ia.get(key, ""), ib.get(key, "")))
        criteria = tuple((cid, labels.scope(scope), _status(x), _status(y)) for cid, scope, x, y in c.criteria)
        out.append(Case(anchors.add("case", c.case or c.source), c.source, c.case, tuple(sides), criteria, c.errors))
    return out


def _by_criterion(result: Any, cases: list[Case]) -> list[tuple[str, str, str, list[Case]]]:
    """(criterion, under a, under b, cases) for each change of a criterion's status, most cases first."""
    groups: dict[tuple[str, str, str], list[Case]] = {}
    for change, case in zip(result.changes, cases):
        for cid, _scope, x, y in change.criteria:
            groups.setdefault((cid, _status(x), _status(y)), [])
            if case not in groups[(cid, _status(x), _status(y))]:
                groups[(cid, _status(x), _status(y))].append(case)
    return [(cid, x, y, found) for (cid, x, y), found in
            sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))]


def to_html(result: Any, policies: tuple[Any, Any] | None = None, source: str = "") -> str:
    """The page of one ``impact`` result; ``policies`` (A, B) give the criteria their titles and citations."""
    anchors = Anchors()
    cases = _cases(result, anchors)
    names: dict[str, tuple[str, str]] = {}
    for policy in policies or ():
        for criterion in getattr(policy, "criteria", ()):
            names.setdefault(criterion.id, (criterion.title, criterion.citation))
    case_of = dict(zip((id(c) for c in result.changes), cases))
    transitions = []
    for what in ("outcomes", "levels", "items", "answers"):
        groups = []
        for key, changes in result.transitions(what):
            words = [labels.item(key[0]), *key[1:]] if what == "items" else list(key)
            shown = [labels.outcome(w) if what == "outcomes" else labels.determination(w) if w else w for w in words]
            groups.append((shown, [case_of[id(c)] for c in changes]))
        if groups:
            transitions.append((what, groups))
    return render(
        "diff.html.j2",
        result=result,
        source=source,
        cases=cases,
        transitions=transitions,
        criteria=_by_criterion(result, cases),
        names=names,
        style=inline("page.css"),
        script=None,
    )


def write(path: str, result: Any, policies: tuple[Any, ...] = (), source: str = "") -> None:
    """The page written whole or not at all (engine/presenting/output.py)."""
    from engine.deciding.errors import UserError
    from engine.presenting.output import Replacement

    page = to_html(result, tuple(policies) or None, source)
    replacement = Replacement(path, "--report")
    try:
        with replacement as handle:
            handle.write(page)
            replacement.commit()
    except OSError as exc:
        raise UserError(f"--report {path}: cannot write ({exc.strerror or exc}): check the path") from None
