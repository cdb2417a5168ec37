"""What ``check``, ``diff`` and ``diff --cases`` found, as text for a terminal and as JSON.

Every line is read from a result: the answers the solver gave, the witnesses
the engine confirmed, and what the search could not vouch for, which is
always said ("not proved") rather than left out.
"""

from __future__ import annotations

from typing import Any

import click
import yaml

from engine.deciding.decision import CriterionResult, Decision
from engine.presenting.render import to_json
from engine.presenting.terminal import MARK as _MARK
from engine.presenting.terminal import WAIVED as _WAIVED
from engine.presenting.terminal import plain as _plain
from engine.presenting.terminal import styled as _det

# ---------------------------------------------------------------------------
# necessity check
# ---------------------------------------------------------------------------


def _indented_yaml(case: dict, indent: str = "    ") -> list[str]:
    return [indent + line for line in yaml.safe_dump(case, sort_keys=False, allow_unicode=True).rstrip().splitlines()]


def check_text(result) -> str:
    ok, bad, maybe, info = (click.style("✓", fg="green"), click.style("✗", fg="red"),
                            click.style("?", fg="yellow"), click.style("·", dim=True))
    out = [f"{click.style('check', bold=True)} {result.policy} {result.version}"]
    totality = result.totality
    if totality == "counterexample":
        out.append(f"  {bad} not total: {result.totality_why}:")
        out += _indented_yaml(result.totality_witness)
    elif totality == "proved":
        out.append(f"  {ok} total: on every case within the bounds the policy has one answer, with exactly one "
                   "determination for each requested level and item (proved: no counterexample exists)")
    elif totality == "not_proved":
        out.append(f"  {maybe} totality not proved: no counterexample within the bounds, but "
                   f"{result.totality_not_proved_why}")
    for cid, proved, why in result.dead:
        out.append(f"  {bad if proved else maybe} {cid} is dead: {why}{' (proved)' if proved else ''}")
    for cid in result.intended_dead:
        out.append(f"  {info} {cid} is never met: it has no met rule (an exclusion), as declared")
    for cid, proved, why in result.irrelevant:
        if proved:
            out.append(f"  {bad} {cid} is irrelevant: holding it never changes a determination within the bounds (proved)")
        else:
            out.append(f"  {maybe} {cid} changed no determination within the bounds; not proved: {why}")
    relevant = sorted(result.relevant_witness)
    if relevant:
        out.append(f"  {ok} relevant, each with a witness: {', '.join(relevant)}")
    for cid, why in result.unchecked:
        out.append(f"  {info} {cid}: relevance not asked ({why})")
    if result.stopped:
        missing = result.unanswered
        out.append(f"  {maybe} {result.stopped}: not answered (not proved): {', '.join(missing) or 'the last questions'}")
    for r in result.refuted:
        out.append(click.style(r.text(), fg="red"))
    for p in result.problems:
        out.append(click.style(f"engine problem: {p}", fg="red"))
    if result.bounds is not None:
        out.append("bounds searched:")
        out += [f"  {line}" for line in result.bounds.describe()]
        out += _sampled(result)
    return "\n".join(out) + "\n"


def _sampled(result) -> list[str]:
    if not result.sampled:
        return []
    return [f"  and, outside the bounds, {result.sampled} cases no search chose (the examples, the goldens, a seeded "
            f"generated library), decided to confirm every proof: {len(result.refuted) or 'none'} refuting one"]


# ---------------------------------------------------------------------------
# necessity diff
# ---------------------------------------------------------------------------


def _subject_criteria(decision: Decision | None, subject: str) -> tuple[CriterionResult, ...]:
    if decision is None:
        return ()
    for lv in decision.levels:
        if lv.level == subject:
            return lv.criteria
    for it in decision.items:
        if (it.item if it.level is None else f"{it.item}@{it.level}") == subject:
            return it.criteria
    return ()


def _cell(c: CriterionResult) -> str:
    scope = "" if c.scope in ("case",) or "@" in c.scope or c.scope[:1] in "TLS" and len(c.scope) < 10 else f" ({c.scope})"
    if c.waived_by:  # as explain shows it: a waived criterion stands in nobody's way
        return f"{_WAIVED[0]} {c.id}{scope} waived by {c.waived_by}"
    return f"{_MARK[c.status][0]} {c.id}{scope} {c.status.replace('_', ' ')}"


_RELATION = {
    "equivalent": "equivalent",
    "narrower": "narrower: grants less than {a} on some cases, never more",
    "broader": "broader: grants more than {a} on some cases, never less",
    "incomparable": "incomparable: grants more on some cases and less (or otherwise) on others",
    "unknown": "not answered",
}


def _cause_line(w, a: str, b: str) -> str:
    higher, lower = (a, b) if w.question.direction == "a" else (b, a)
    parts = []
    if w.cause_met:
        parts.append(f"{higher} met {', '.join(w.cause_met)}")
    if w.blocked:  # explain's account under the policy that decided lower: what stands in the way
        parts.append(f"{lower} blocked by {', '.join(w.blocked)}")
    elif w.cause_refuted:
        parts.append(f"{lower} refuted {', '.join(w.cause_refuted)}")
    if not parts:
        parts.append(f"{lower} lacks documentation {higher} does not need")
    line = "; ".join(parts)
    figures = [f"{higher}: {'; '.join(_plain(f) for f in w.figures_higher)}"] if w.figures_higher else []
    figures += [f"{lower}: {'; '.join(_plain(f) for f in w.figures_lower)}"] if w.figures_lower else []
    if figures:
        line += f" [{' | '.join(figures)}]"
    return line


def _names(result) -> tuple[str, str]:
    """What the text calls the two policies: their ids, told apart when they are one policy at two
    revisions (``diff reference@HEAD~1 reference``)."""
    a, b = result.a, result.b
    if a != b:
        return a, b
    if result.a_version != result.b_version:
        return f"{a} {result.a_version}", f"{b} {result.b_version}"
    return f"{a} (A)", f"{b} (B)"


def diff_summary(result) -> list[str]:
    a, b = _names(result)
    out = [click.style(f"summary: {b} against {a}, per request", bold=True)]
    numbered = {id(w): n for n, w in enumerate(result.witnesses, start=1)}
    kinds = result.kinds()
    labels = {k: "an answer at all" if k[0] == "answers" else _kind_label(k) for k in kinds}
    width = max([len(label) for label in labels.values()] + [10]) + 2  # the longest label, and a gap
    for key in kinds:
        relation = result.relation(*key)
        text = _RELATION[relation].format(a=a)
        label = labels[key]
        if key[0] == "answers":
            text = {"equivalent": "both answer every case within the bounds",
                    "narrower": f"{b} has no answer for some case that {a} answers",
                    "broader": f"{a} has no answer for some case that {b} answers",
                    "incomparable": "each has no answer for some case the other answers",
                    "unknown": "not answered"}[relation]
        out.append(f"  {label.ljust(width)}{text}")
        for w in result.witnesses:
            if w.question.key != key or key[0] == "answers":
                continue
            more = {"a": f"{a} grants more", "b": f"{b} grants more", "kind": "of another kind"}[w.question.direction]
            out.append(f"      {more} (witness {numbered[id(w)]}): {_cause_line(w, a, b)}")
    for item, pid in result.unaddressed:
        out.append(f"  {item.ljust(width)}addressed by {pid} only (the other leaves it to manual review)")
    for pid, witness in result.several:
        if witness is not None:
            out.append(f"  {pid} gives some case several answers: {witness['case']} below")
    return out


def _kind_label(key: tuple[str, str, str]) -> str:
    kind, subject, request = key
    if kind == "level":
        return f"{subject} {'decompression and fusion' if request == 'both' else request}"
    return subject or "answers"


def _verdict(result) -> str:
    if result.differs:
        return ""
    if result.proved:
        return "no case within the bounds below makes them decide differently (proved)"
    reasons = [r for g in result.gaps for r in g.reasons()]
    if result.stopped and result.stopped != "--max":
        reasons.insert(0, f"the search {result.stopped} before every question was answered")
    if not result.gaps:
        reasons.append("the search's limits were not established before it stopped")
    return "no difference found within the bounds below, but not proved: " + "; ".join(reasons)


def diff_text(result) -> str:
    a, b = _names(result)
    out = [f"{click.style('diff', bold=True)} {result.a} {result.a_version}  ⟷  {result.b} {result.b_version}"
           + ("  (A and B below)" if a.endswith("(A)") else ""), ""]
    out += diff_summary(result)
    out.append("")
    verdict = _verdict(result)
    if verdict:
        out += [click.style(verdict, bold=True), ""]
    for n, w in enumerate(result.witnesses, start=1):
        out.append(click.style(f"witness {n}: {w.case['case']} ({w.facts} documented facts), "
                               f"{w.question.label()}", bold=True))
        for d in w.differences:
            if d.subject == "answers":
                out.append(f"  {a}: {w.error_a or 'an answer'}; {b}: {w.error_b or 'an answer'}")
                continue
            out.append(f"  {d.subject}: {a} {_det(d.a)}, {b} {_det(d.b)}")
            left = [_cell(c) for c in _subject_criteria(w.decision_a, d.subject)]
            right = [_cell(c) for c in _subject_criteria(w.decision_b, d.subject)]
            width = max([len(x) for x in left] + [len(a)]) + 2
            out.append(f"    {a.ljust(width)}│ {b}")
            for i in range(max(len(left), len(right))):
                lcell = left[i] if i < len(left) else ""
                rcell = right[i] if i < len(right) else ""
                out.append(f"    {lcell.ljust(width)}│ {rcell}")
        out.append("  the case:")
        out += _indented_yaml(w.case)
        out.append("")
    for pid, witness in result.several:
        if witness is not None:
            out.append(click.style(f"a case {pid} gives several answers:", bold=True))
            out += _indented_yaml(witness)
            out.append("")
    if result.bounds is not None:
        out.append("bounds searched:")
        out += [f"  {line}" for line in result.bounds.describe()]
        out += _sampled(result)
    if result.stopped == "--max":
        out.append(f"  (stopped at --max {len(result.witnesses)}: more witnesses, with other causes, may exist)")
    elif result.stopped:
        out.append(f"  ({result.stopped}: the questions not answered are not proved)")
    for r in result.refuted:
        out.append(click.style(r.text(), fg="red"))
    for p in result.problems:
        out.append(click.style(f"engine problem: {p}", fg="red"))
    return "\n".join(out).rstrip() + "\n"


def diff_json(result) -> dict[str, Any]:
    def witness(w) -> dict[str, Any]:
        return {
            "case": w.case,
            "question": {"kind": w.question.kind, "subject": w.question.subject, "request": w.question.request,
                         "direction": w.question.direction},
            "documented_facts": w.facts,
            "differences": [{"subject": d.subject, "a": d.a, "b": d.b} for d in w.differences],
            "cause": {"met": list(w.cause_met), "refuted": list(w.cause_refuted), "blocked": list(w.blocked),
                      "figures": list(w.figures)},
            "explain_a": to_json(w.decision_a) if w.decision_a is not None else {"error": w.error_a},
            "explain_b": to_json(w.decision_b) if w.decision_b is not None else {"error": w.error_b},
        }

    return {
        "a": {"id": result.a, "version": result.a_version},
        "b": {"id": result.b, "version": result.b_version},
        "proved": result.proved,
        "complete": result.complete,
        "stopped": result.stopped or None,
        "summary": [{"kind": k[0], "subject": k[1], "request": k[2] or None, "relation": result.relation(*k)}
                    for k in result.kinds()],
        "unaddressed_items": [{"item": item, "addressed_by": pid} for item, pid in result.unaddressed],
        "several_answers": [{"policy": pid, "case": w} for pid, w in result.several if w is not None],
        "not_proved": [r for g in result.gaps for r in g.reasons()],
        "witnesses": [witness(w) for w in result.witnesses],
        "bounds": result.bounds.describe() if result.bounds is not None else [],
        "problems": result.problems,
        "sampled": result.sampled,
        "refuted": [{"source": r.source, "claim": r.claim, "case": r.detail} for r in result.refuted],
    }


# ---------------------------------------------------------------------------
# necessity diff --cases
# ---------------------------------------------------------------------------

#: case ids shown per line of text before "and N more" (the JSON lists them all)
SHOWN_IDS = 8


def _ids(changes) -> str:
    ids = [_plain(c.case) for c in changes]
    more = f", and {len(ids) - SHOWN_IDS} more" if len(ids) > SHOWN_IDS else ""
    return ", ".join(ids[:SHOWN_IDS]) + more


def impact_text(result) -> str:
    a, b = result.a, result.b
    out = [f"{click.style('diff --cases', bold=True)} {a} {result.a_version}  ⟷  {b} {result.b_version}", ""]
    decided = result.cases - len(result.errors)
    out.append(click.style(f"{result.changed} of {decided} cases decided differently "
                           f"({result.cases} read, {len(result.errors)} unreadable)", bold=True))
    sections = (("outcomes", "outcome"), ("levels", "level determinations"), ("items", "items"),
                ("answers", "answers"))
    for what, title in sections:
        groups = result.transitions(what)
        if not groups:
            continue
        out.append(f"  {title}:")
        for key, changes in groups:
            label = f"{key[0]}: {key[1]} → {key[2]}" if what == "items" else f"{key[0]} → {key[1]}"
            out.append(f"    {label:<58} {len(changes):>6}  {_ids(changes)}")
    for source, message in result.errors[:SHOWN_IDS]:
        out.append(f"  unreadable: {_plain(message)}")
    if len(result.errors) > SHOWN_IDS:
        out.append(f"  … and {len(result.errors) - SHOWN_IDS} more unreadable records")
    return "\n".join(out) + "\n"


def impact_json(result) -> dict[str, Any]:
    def group(what: str) -> list[dict[str, Any]]:
        rows = []
        for key, changes in result.transitions(what):
            row: dict[str, Any] = {"item": key[0], "a": key[1], "b": key[2]} if what == "items" else \
                {"a": key[0], "b": key[1]}
            row["count"] = len(changes)
            row["cases"] = [c.case for c in changes]
            rows.append(row)
        return rows

    return {
        "a": {"id": result.a, "version": result.a_version},
        "b": {"id": result.b, "version": result.b_version},
        "cases": result.cases,
        "changed": result.changed,
        "unchanged": result.cases - result.changed - len(result.errors),
        "unreadable": len(result.errors),
        "stopped": "timeout" if result.timed_out else None,
        "outcomes": group("outcomes"),
        "levels": group("levels"),
        "items": group("items"),
        "answers": group("answers"),
        "changed_cases": [
            {
                "case": c.case,
                "source": c.source,
                "outcome": {"a": c.outcome[0], "b": c.outcome[1]} if c.outcome else None,
                "levels": [{"level": lv, "a": x, "b": y} for lv, x, y in c.levels],
                "items": [{"item": key, "a": x, "b": y} for key, x, y in c.items],
                "errors": {"a": c.errors[0] or None, "b": c.errors[1] or None} if any(c.errors) else None,
            }
            for c in result.changes
        ],
        "unreadable_cases": [{"source": s, "error": m} for s, m in result.errors],
    }
