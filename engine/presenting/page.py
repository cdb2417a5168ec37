"""A decision as one HTML page a reviewer can take in at a glance (``explain --format html``).

The page opens with the answer: the outcome, any notice, and one row per
requested level and item (requested, determined, the criteria that stand in
its way), then what would change each answer, documentation to obtain apart
from findings the record contradicts.  Below, the criteria as a tree, the
case-level ones once and then each level's and item's own, folded per
section: composites with their parts, a waiver beside what it waives, every
finding a criterion read, superseded and unsettled ones marked.

The page is one file that needs nothing else: the style and the script are
inline, and its Content-Security-Policy admits those two by hash and nothing
from anywhere, so a page opened from disk makes no request.  Without the
script every section is open; printing opens them all.  Every string from a
case or a policy goes through Jinja's autoescaping, after control characters
and bidirectional overrides are written as visible escapes (``plain``), so it
is shown as text and cannot reorder the text around it.  Everything shown
comes from the ``Decision``: the page arranges, it never decides.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from engine.presenting import labels
from engine.presenting.actions import Action, action_of, request_action, to_request
from engine.presenting.context import Context
from engine.presenting.shape import Shape, shape_of
from engine.deciding.decision import CHANGE_KINDS, CriterionResult, Decision, ItemDecision, LevelDecision
from engine.presenting.terminal import MARK, WAIVED, blocked_elsewhere, blocking, elsewhere, plain, subject_key, subject_name

TEMPLATES = Path(__file__).with_name("templates")

#: The glyph of each criterion status; the page always shows the word beside it.
GLYPHS = {**{status: glyph for status, (glyph, _) in MARK.items()}, "waived": WAIVED[0]}

#: How each kind of what-if answer is headed, in the order CHANGE_KINDS reports them.
CHANGE_TITLES = {
    "documentation": "Documentation to obtain",
    "contradicted": "Findings the record contradicts",
    "contradicted_and_documentation": "Findings the record contradicts, and documentation to obtain",
}
CHANGE_NOTES = {
    "documentation": "The record is silent on these criteria; documenting them would change the decision as shown.",
    "contradicted": "A documented finding refutes a criterion here: only a different finding, not more paperwork, "
                    "would change these.",
    "contradicted_and_documentation": "Each of these needs a different finding (✗, refuted by the record) and "
                                      "documentation the record lacks (?), each criterion marked.",
}


# ---------------------------------------------------------------------------
# the template environment, shared by every page
# ---------------------------------------------------------------------------


def _inert(value: Any) -> Any:
    """Every value a template prints: text with hidden characters written as escapes.

    Markup (what a template or a macro built) is left alone; autoescaping
    then turns the rest into text.
    """
    from markupsafe import Markup

    if isinstance(value, str) and not isinstance(value, Markup):
        return _shown(value)
    return value


@lru_cache(maxsize=1 << 14)
def _shown(text: str) -> str:
    # a library report prints the same ids, names and labels thousands of times
    return plain(text)


@lru_cache(maxsize=1)
def environment():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                      finalize=_inert, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.globals.update(labels=labels, glyphs=GLYPHS)
    return env


@dataclass(frozen=True)
class Inline:
    """A style sheet or script written into the page, with the hash the page's policy admits it by."""

    text: str
    digest: str


@lru_cache(maxsize=None)
def inline(name: str) -> Inline:
    from markupsafe import Markup

    text = (TEMPLATES / name).read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
    return Inline(Markup(text), f"sha256-{digest}")


def css_string(text: str) -> str:
    """Text as a CSS string literal: every character but letters, digits and spaces escaped,
    so nothing in it can end the string or the rule."""
    return '"' + "".join(ch if ch.isascii() and (ch.isalnum() or ch == " ") else f"\\{ord(ch):06x}"
                         for ch in plain(text)) + '"'


def print_style(running_head: str) -> Inline:
    """The page's style sheet with a print rule that repeats ``running_head`` at the top of every printed page."""
    from markupsafe import Markup

    base = inline("page.css")
    text = (f"{base.text}@page {{ margin: 16mm 12mm 14mm; @top-left {{ content: {css_string(running_head)}; "
            "font: 9pt sans-serif; color: #59636e; } @bottom-right { content: counter(page) \" / \" counter(pages); "
            "font: 9pt sans-serif; color: #59636e; } }\n")
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
    return Inline(Markup(text), f"sha256-{digest}")


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


# ---------------------------------------------------------------------------
# what the page shows
# ---------------------------------------------------------------------------


class Anchors:
    """Element ids for a page: readable, unique, and the same on every run."""

    def __init__(self) -> None:
        self.taken: set[str] = set()
        self.by_key: dict[tuple[str, ...], str] = {}

    def add(self, *parts: str) -> str:
        base = "-".join(re.sub(r"[^A-Za-z0-9_.-]+", "_", p) for p in parts)
        name, n = base, 1
        while name in self.taken:
            n += 1
            name = f"{base}-{n}"
        self.taken.add(name)
        self.by_key.setdefault(parts, name)
        return name

    def get(self, *parts: str) -> str | None:
        return self.by_key.get(parts)


@dataclass(frozen=True)
class Blocker:
    """A criterion that stands between what was asked and what was justified."""

    id: str
    title: str
    status: str
    at: str  # where it is judged, in words, when not the subject itself
    anchor: str | None  # where the page explains it, if it does
    citation: str = ""


@dataclass(frozen=True)
class Row:
    """One line of a summary: a requested level or item."""

    kind: str  # "level" or "item"
    key: str  # subject_key: L4-L5, rhbmp2, interbody_device@L4-L5
    name: str
    requested: str
    determination: str
    blockers: tuple[Blocker, ...]
    anchor: str | None = None
    #: levels or items whose own criteria stand in the way too, with where the page explains them
    also: tuple[tuple[str, str | None], ...] = ()
    action: Action | None = None

    def blocked(self, status: str) -> tuple[Blocker, ...]:
        return tuple(b for b in self.blockers if b.status == status)


def explained_at(anchors: Anchors | None, cid: str, scope: str, key: str) -> str | None:
    """Where the page explains a criterion a subject names: case-level ones once, in the
    case's section; others in the subject's own, or else at the level they are judged at."""
    if anchors is None:
        return None
    if scope == "case":
        return anchors.get("case", cid, scope)
    return anchors.get(key, cid, scope) or anchors.get(scope, cid, scope)


def row(decision: Decision, subject: LevelDecision | ItemDecision, anchors: Anchors | None = None) -> Row:
    key = subject_key(subject)
    blockers = tuple(
        Blocker(c.id, c.title, c.status, _where(elsewhere(c.scope, key)),
                explained_at(anchors, c.id, c.scope, key), c.citation)
        for c in blocking(decision, subject)
    )
    level = isinstance(subject, LevelDecision)
    also = tuple((labels.scope(scope), anchors.get("section", scope) if anchors else None)
                 for scope in labels.anatomical(blocked_elsewhere(decision, subject)))
    return Row("level" if level else "item", key, subject_name(subject),
               labels.procedure(subject.requested) if level else labels.item(subject.item), subject.determination,
               blockers, anchors.get("section", key) if anchors else None, also, action_of(decision, subject))


def _where(scope: str) -> str:
    return labels.scope(scope) if scope else ""


def titles(decision: Decision) -> dict[str, tuple[str, str]]:
    """Every criterion id of the decision with its title and citation."""
    out: dict[str, tuple[str, str]] = {}
    for s in (*decision.levels, *decision.items):
        for c in s.criteria:
            out.setdefault(c.id, (c.title, c.citation))
    return out


@dataclass(frozen=True)
class Node:
    """A criterion in the tree: its parts beneath it, the waivers that stand in for it beside it."""

    c: CriterionResult
    anchor: str
    at: str
    parts: tuple[Node, ...] = ()
    waivers: tuple[Node, ...] = ()

    @property
    def state(self) -> str:
        return "waived" if self.c.waived_by else self.c.status


def tree(criteria: list[CriterionResult], key: str, owner: str, anchors: Anchors) -> tuple[Node, ...]:
    """Criteria in the policy's order; a part under its composite, a waiver beside what it waives."""
    by_id = {c.id: c for c in criteria}
    nested = {p for c in criteria for p in c.parts if p in by_id and p != c.id}
    beside = {c.id for c in criteria if c.waives in by_id and c.waives != c.id}

    def node(c: CriterionResult, path: frozenset[str]) -> Node:
        path = path | {c.id}
        return Node(
            c, anchors.add(owner, c.id, c.scope), _where(elsewhere(c.scope, key)),
            tuple(node(by_id[p], path) for p in c.parts if p in by_id and p not in path),
            tuple(node(w, path) for w in criteria if w.waives == c.id and w.id not in path),
        )

    return tuple(node(c, frozenset()) for c in criteria if c.id not in nested and c.id not in beside)


def _nodes(nodes: Iterable[Node]) -> Iterable[Node]:
    for n in nodes:
        yield n
        yield from _nodes(n.parts)
        yield from _nodes(n.waivers)


@dataclass(frozen=True)
class Section:
    """A foldable part of the page: the whole case, or one requested level or item."""

    anchor: str
    kind: str  # "case", "level" or "item"
    key: str
    name: str
    requested: str
    determination: str | None
    nodes: tuple[Node, ...]
    note: str = ""
    shape: Shape | None = None
    action: Action | None = None

    @property
    def counts(self) -> list[tuple[str, int]]:
        """How many of the section's criteria have each status, for its folded line."""
        states = [n.state for n in _nodes(self.nodes)]
        return [(s, states.count(s)) for s in (*MARK, "waived") if states.count(s)]


@dataclass(frozen=True)
class Need:
    """One criterion a what-if answer needs, with the status the record gives it."""

    id: str
    status: str
    at: str
    anchor: str | None
    title: str = ""
    citation: str = ""


@dataclass(frozen=True)
class Change:
    subject: str
    anchor: str | None
    determination: str
    requires: tuple[Need, ...]
    one_of: tuple[Need, ...]
    choose: int = 1


def _need(a, key: str, anchors: Anchors, names: dict[str, tuple[str, str]] | None = None) -> Need:
    title, citation = (names or {}).get(a.criterion, ("", ""))
    return Need(a.criterion, a.status, _where(elsewhere(a.scope, key)), explained_at(anchors, a.criterion, a.scope, key),
                title, citation)


def changes(subjects: list[LevelDecision | ItemDecision], anchors: Anchors,
            names: dict[str, tuple[str, str]] | None = None) -> list[tuple[str, list[Change]]]:
    """Per kind of what-if answer (documentation to obtain first), every subject's answers of that kind."""
    out = []
    for kind in CHANGE_KINDS:
        rows = [
            Change(subject_name(s), anchors.get("section", subject_key(s)), w.determination,
                   tuple(_need(a, subject_key(s), anchors, names) for a in w.requires),
                   tuple(_need(a, subject_key(s), anchors, names) for a in w.one_of), w.choose)
            for s in subjects for w in s.would_change if w.kind == kind
        ]
        if rows:
            out.append((kind, rows))
    return out


def wanted(subjects: list[LevelDecision | ItemDecision], anchors: Anchors,
           names: dict[str, tuple[str, str]] | None = None) -> list[tuple[tuple[Need, ...], str]]:
    """What the record must document for each criterion documentation to obtain names: once per
    criterion and wording, with every place it is needed."""
    said: dict[tuple[str, str], str] = {}
    for s in subjects:
        for c in s.criteria:
            if c.documentation:
                said.setdefault((c.id, c.scope), c.documentation)
    out: dict[tuple[str, str], dict[str, Need]] = {}
    for s in subjects:
        for w in s.would_change:
            if w.kind != "documentation":
                continue
            for a in (*w.requires, *w.one_of):
                if (a.criterion, a.scope) in said:
                    need = _need(a, subject_key(s), anchors, names)
                    need = Need(need.id, need.status, "" if a.scope == "case" else labels.scope(a.scope), need.anchor,
                                need.title, need.citation)
                    out.setdefault((a.criterion, said[a.criterion, a.scope]), {}).setdefault(a.scope, need)
    return [(tuple(sorted(needs.values(), key=lambda n: labels.level_key(n.at))), text)
            for (_, text), needs in out.items()]


def sections(subjects: list[LevelDecision | ItemDecision], anchors: Anchors, decision: Decision | None = None,
             policy=None) -> list[Section]:
    """The case-level criteria once, then each subject's own."""
    case_level: dict[str, CriterionResult] = {}
    for s in subjects:
        for c in s.criteria:
            if c.scope == "case":
                case_level.setdefault(c.id, c)
    out = []
    if case_level:
        out.append(Section(anchors.add("section", "case"), "case", "case", "The whole case", "", None,
                           tree(list(case_level.values()), "case", "case", anchors)))
    for s in subjects:
        key = subject_key(s)
        level = isinstance(s, LevelDecision)
        own = [c for c in s.criteria if c.scope != "case"]
        note = ""
        if s.determination == "not_addressed":
            note = "The policy has no criterion for this: refer for manual review."
        elif level and not own:
            note = "Decided on the case-level criteria alone."
        elif case_level and any(c.scope == "case" for c in s.criteria):
            note = "The case-level criteria above apply as well."
        out.append(Section(anchors.add("section", key), "level" if level else "item", key, subject_name(s),
                           labels.procedure(s.requested) if level else "", s.determination,
                           tree(own, key, key, anchors), note,
                           shape_of(decision, s, policy) if decision is not None and s.determination != "not_addressed"
                           else None,
                           action_of(decision, s) if decision is not None else None))
    return out


def to_html(decision: Decision, level: str | None = None, context: Context | None = None, policy=None) -> str:
    levels = [lv for lv in decision.levels if level is None or lv.level == level]
    items = [it for it in decision.items if level is None or it.level == level]
    subjects: list[LevelDecision | ItemDecision] = [*levels, *items]
    anchors = Anchors()
    names = titles(decision)
    # first: the rows and the what-if link into them
    parts = sections(subjects, anchors, decision, policy) if decision.explained else []
    return render(
        "decision.html.j2",
        decision=decision,
        policy=decision.policy,
        action=request_action(decision),
        to_request=to_request(decision, subjects),
        context=context or Context(),
        criteria=names,
        anchors=anchors,
        rows=[row(decision, s, anchors) for s in subjects],
        changes=changes(subjects, anchors, names) if decision.would_change_computed else [],
        wanted=wanted(subjects, anchors, names) if decision.would_change_computed else [],
        change_titles=CHANGE_TITLES,
        change_notes=CHANGE_NOTES,
        sections=parts,
        style=print_style(f"{decision.case} · {labels.outcome(decision.outcome)} · {decision.policy.id} "
                          f"{decision.policy.version}"),
        script=inline("page.js"),
    )
