"""A case library's run as one HTML page (``necessity batch … --report``).

What a team re-deciding a library asks first: how the outcomes fell, what
each spinal level came to, which criteria stand in the way most often (not
met on a documented finding apart from not documented), which items are
most often not medically necessary or not addressed; then every case, in input order,
each with its answer and review action per level and item.  The charts are inline SVG drawn by
the template from the geometry computed here; each one has its figures in
words beside it and a table of the same counts.  The counts are of the engine's answers, never new ones.

The cases are a worked list: the page's script filters them by outcome,
review action, level, item and criterion, sorts them and finds a case by its
id; a blocking criterion's count of cases lists those cases; a case opens its
review (every level and item with its determination, action and the criteria
in its way, each with its title) in place.  The cases travel as one JSON data
block, a few hundred bytes a case, and are drawn a page at a time, so a
library of thousands opens at once (bench/report.py measures it).

A worker keeps of each decision only its ``CaseBrief`` (the summary rows the
review page shows), so a run of any size does not hold its decisions.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from markupsafe import Markup

from engine.presenting import labels
from engine.deciding.decision import DETERMINATIONS, ITEM_DETERMINATIONS, NOT_ADDRESSED, OUTCOMES, Decision, PolicyRef
from engine.presenting.page import Row, inline, render, row
from engine.presenting.terminal import MARK

#: How many criteria the blocking chart shows (the table under it lists them all).
CHART_CRITERIA = 15
#: A mark for every series a chart draws, beside its colour and in its key, so that no bar is told by hue alone.
GLYPHS = {
    "approved": "✓", "partially_approved": "◐", "denied": "✗", "error": "!",
    "fusion": "▲", "decompression_only": "◆", "none": "–", "not_addressed": "?",
    "medically_necessary": "✓", "not_medically_necessary": "✗",
}
#: Level determinations from the most granted to the least, then manual review.
LEVEL_ORDER = (*reversed(DETERMINATIONS), NOT_ADDRESSED)


@dataclass(frozen=True)
class CaseBrief:
    """What the report keeps of one decided case."""

    source: str
    case: str
    outcome: str
    notices: tuple[str, ...]
    rows: tuple[Row, ...]
    items: tuple[tuple[str, str], ...]  # (item, determination) for each requested item
    undecided: int = 0  # requested services no determination covers (a Claim item no row reads)


@dataclass(frozen=True)
class CaseError:
    """A record that could not be read or decided."""

    source: str
    message: str


def brief(decision: Decision, source: str) -> CaseBrief:
    return CaseBrief(source, decision.case, decision.outcome, tuple(n.text for n in decision.notices),
                     tuple(row(decision, s) for s in (*decision.levels, *decision.items)),
                     tuple((it.item, it.determination) for it in decision.items), len(decision.undecided))


def policy_ref(policy) -> PolicyRef:
    """The run's policy, named as a decision names it."""
    return PolicyRef(policy.id, policy.version, policy.effective, policy.header.get("payer", ""),
                     policy.header.get("title", ""))


# ---------------------------------------------------------------------------
# charts
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    name: str
    label: str
    glyph: str = ""  # a status's glyph, so that no bar tells its kind by colour alone


@dataclass(frozen=True)
class Segment:
    series: Series
    count: int
    x: float
    width: float

    @property
    def figure(self) -> str:
        return " ".join(filter(None, (self.series.glyph, str(self.count), self.series.label)))


@dataclass(frozen=True)
class Bar:
    label: str
    note: str  # a longer name, shown on hover and in the table
    total: int
    segments: tuple[Segment, ...]
    figures: str  # the counts in words, drawn after the bar
    end: float  # where the bar ends


@dataclass(frozen=True)
class Chart:
    """Horizontal stacked bars: one per row, one segment per series."""

    id: str
    title: str
    series: tuple[Series, ...]  # in stacking order
    bars: tuple[Bar, ...]
    label_width: int = 150
    bar_width: int = 520
    row_height: int = 26
    width: int = 1100

    @property
    def height(self) -> int:
        return self.row_height * max(len(self.bars), 1) + 4

    @property
    def key(self) -> tuple[Series, ...]:
        """The series some bar has."""
        drawn = {s.series.name for b in self.bars for s in b.segments}
        return tuple(s for s in self.series if s.name in drawn)


def chart(id: str, title: str, series: Iterable[Series], rows: Iterable[tuple[str, str, Counter]],
          label_width: int = 150) -> Chart:
    """Bars scaled to the longest; segment positions rounded so the page's bytes never vary."""
    series = tuple(series)
    rows = list(rows)
    most = max((sum(counts[s.name] for s in series) for _, _, counts in rows), default=0) or 1
    scale = Chart(id, title, series, (), label_width).bar_width / most
    bars = []
    for label, note, counts in rows:
        x, segments = float(label_width), []
        for s in series:
            if counts[s.name]:
                width = round(counts[s.name] * scale, 2)
                segments.append(Segment(s, counts[s.name], round(x, 2), width))
                x += width
        bars.append(Bar(label, note, sum(counts[s.name] for s in series), tuple(segments),
                        " · ".join(s.figure for s in segments), round(x, 2)))
    return Chart(id, title, series, tuple(bars), label_width)


# ---------------------------------------------------------------------------
# the library
# ---------------------------------------------------------------------------


def _spine_order(level: str) -> tuple[int, str]:
    from facts.terms import SPINAL_LEVELS

    return (SPINAL_LEVELS.index(level) if level in SPINAL_LEVELS else len(SPINAL_LEVELS), level)


@dataclass
class Library:
    """Everything the report counts, from the records of a run in input order."""

    records: list[CaseBrief | CaseError]
    outcomes: Counter = field(default_factory=Counter)
    levels: dict[str, Counter] = field(default_factory=dict)
    items: dict[str, Counter] = field(default_factory=dict)
    blocks: dict[str, Counter] = field(default_factory=dict)  # criterion → status → subjects blocked
    cases_blocked: Counter = field(default_factory=Counter)  # criterion → cases it blocks anything in
    titles: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, records: Iterable[CaseBrief | CaseError]) -> Library:
        lib = cls(list(records))
        for rec in lib.records:
            if isinstance(rec, CaseError):
                lib.outcomes["error"] += 1
                continue
            lib.outcomes[rec.outcome] += 1
            for r in rec.rows:
                if r.kind == "level":
                    lib.levels.setdefault(r.key, Counter())[r.determination] += 1
                for b in r.blockers:
                    lib.blocks.setdefault(b.id, Counter())[b.status] += 1
                    lib.titles.setdefault(b.id, b.title)
            for item, determination in rec.items:
                lib.items.setdefault(item, Counter())[determination] += 1
            lib.cases_blocked.update({b.id for r in rec.rows for b in r.blockers})
        return lib

    @property
    def decided(self) -> int:
        return sum(1 for r in self.records if isinstance(r, CaseBrief))

    @property
    def errors(self) -> list[CaseError]:
        return [r for r in self.records if isinstance(r, CaseError)]

    def blocking(self) -> list[tuple[str, Counter]]:
        """Criteria by how many requested levels and items they block, most first."""
        return sorted(self.blocks.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))

    def items_short(self) -> list[tuple[str, Counter]]:
        """Items by how often they are not medically necessary or not addressed, most first.

        The engine's determinations, not review actions: a PAS response pends a
        not medically necessary item that documentation would change (docs/fhir.md).
        """
        return sorted(self.items.items(),
                      key=lambda kv: (-(kv[1]["not_medically_necessary"] + kv[1]["not_addressed"]),
                                      -sum(kv[1].values()), kv[0]))

    def charts(self) -> list[Chart]:
        out = [chart("outcomes", "Outcomes", [Series(o, labels.outcome(o), GLYPHS.get(o, "")) for o in (*OUTCOMES, "error")],
                     [(labels.outcome(o) if o != "error" else "could not be decided", "",
                       Counter({o: self.outcomes[o]}))
                      for o in (*OUTCOMES, "error") if self.outcomes[o] or o != "error"])]
        if self.levels:
            out.append(chart("levels", "Determinations by level",
                             [Series(d, labels.determination(d), GLYPHS[d]) for d in LEVEL_ORDER],
                             [(level, "", counts) for level, counts in sorted(self.levels.items(),
                                                                             key=lambda kv: _spine_order(kv[0]))]))
        if self.blocks:
            out.append(chart("blocking", "The criteria by how many requests they fail",
                             [Series(s, labels.status(s), MARK[s][0]) for s in ("not_met", "not_documented")],
                             [(cid, self.titles.get(cid, ""), counts)
                              for cid, counts in self.blocking()[:CHART_CRITERIA]]))
        if self.items:
            out.append(chart("items", "Items most often not medically necessary or not addressed",
                             [Series(d, labels.determination(d), GLYPHS[d])
                              for d in ("not_medically_necessary", "not_addressed", "medically_necessary")],
                             [(labels.item(item), "", counts) for item, counts in self.items_short()],
                             label_width=190))
        return out


def data(lib: Library) -> dict:
    """What the page's script draws the list of cases from: every record, compactly, in input order.

    ``criteria``: id → [title, citation]; ``cases``: per record either
    ``[source, case, outcome, action, undecided (the words after the outcome), notices, rows]`` with each row
    ``[kind, key, name, requested, determination, action, blockers, also]`` and each blocker
    ``[status, id, at]``, or ``[source, null, "error", message]``.
    """
    from engine.presenting.actions import CERTIFY, PEND, REFER

    from engine.presenting.terminal import plain

    criteria: dict[str, list[str]] = {}
    cases: list[list] = []
    for rec in lib.records:
        if isinstance(rec, CaseError):
            cases.append([plain(rec.source), None, "error", plain(rec.message)])
            continue
        rows = []
        for r in rec.rows:
            for b in r.blockers:
                criteria.setdefault(b.id, [b.title, b.citation])
            rows.append([r.kind, r.key, r.name, r.requested, r.determination, r.action.code if r.action else "",
                         [[b.status, b.id, b.at] for b in r.blockers], [scope for scope, _ in r.also]])
        codes = {r[5] for r in rows}
        action = PEND if PEND in codes else REFER if REFER in codes or rec.undecided else CERTIFY
        cases.append([plain(rec.source), plain(rec.case), rec.outcome, action, labels.in_part(rec.undecided),
                      [plain(n) for n in rec.notices], rows])
    return {"criteria": criteria, "cases": cases}


def json_block(obj) -> Markup:
    """JSON to sit in a ``<script type="application/json">``: no ``<``, ``>`` or ``&`` in it,
    so nothing in a case can end the block or start markup."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=False)
    return Markup(text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
                  .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def to_html(records: Iterable[CaseBrief | CaseError], policy: PolicyRef, source: str, out_path: str | None,
            would_change: bool = False, stopped: str = "") -> str:
    """The report of a run: ``records`` in input order; ``out_path`` the JSON Lines file the
    records went to (None for standard output); ``stopped`` why the run ended early, if it did."""
    lib = Library.of(records)
    charts = {c.id: c for c in lib.charts()}
    return render(
        "report.html.j2",
        lib=lib,
        policy=policy,
        source=source,
        out_path=out_path,
        would_change=would_change,
        stopped=stopped,
        charts=charts,
        outcomes=(*OUTCOMES, "error"),
        item_determinations=ITEM_DETERMINATIONS,
        statuses=("not_met", "not_documented"),
        data=json_block(data(lib)),
        actions=("certify", "pend", "refer"),
        style=inline("page.css"),
        script=inline("report.js"),
    )
