"""Decisions as JSON (the contract in docs/json.md), a terminal tree, or a letter.

Rendering reads a ``Decision`` and nothing else: every status, every piece of
evidence and every what-if set comes from the solver.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable
from typing import Any

import click

from engine.decision import CriterionResult, Decision, ItemDecision, LevelDecision, WouldChange

# ---------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------


def _criterion_json(c: CriterionResult) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": c.id,
        "title": c.title,
        "citation": c.citation,
        "scope": c.scope,
        "status": c.status,
        "evidence": [{"fact": e.atom, "text": e.text} for e in c.evidence],
    }
    if c.noted:
        out["noted"] = [{"fact": e.atom, "text": e.text} for e in c.noted]
    if c.documentation:
        out["documentation"] = c.documentation
    return out


def _change_json(w: WouldChange) -> dict[str, Any]:
    return {
        "determination": w.determination,
        "requires": list(dict.fromkeys(w.criterion_ids)),
        "requires_at": [{"id": a.criterion, "scope": a.scope} for a in w.requires],
    }


def _explained(out: dict[str, Any], subject: LevelDecision | ItemDecision, decision: Decision) -> dict[str, Any]:
    if decision.explained:
        out["criteria"] = [_criterion_json(c) for c in subject.criteria]
    if decision.would_change_computed:
        out["would_change"] = [_change_json(w) for w in subject.would_change]
    return out


def to_json(decision: Decision, level: str | None = None) -> dict[str, Any]:
    levels = [lv for lv in decision.levels if level is None or lv.level == level]
    items = [it for it in decision.items if level is None or it.level == level]
    return {
        "case": decision.case,
        "policy": {"id": decision.policy.id, "version": decision.policy.version, "effective": decision.policy.effective},
        "outcome": decision.outcome,
        "levels": [
            _explained({"level": lv.level, "requested": list(lv.requested), "determination": lv.determination}, lv, decision)
            for lv in levels
        ],
        "items": [
            _explained(
                {"item": it.item, **({"level": it.level} if it.level else {}), "determination": it.determination},
                it,
                decision,
            )
            for it in items
        ],
    }


def dumps(obj: Any) -> str:
    """Stable JSON text: same input, same bytes."""
    return json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


# ---------------------------------------------------------------------------
# Text: a tree for a reviewer at a terminal
# ---------------------------------------------------------------------------

_MARK = {"met": ("✓", "green"), "not_met": ("✗", "red"), "not_documented": ("?", "yellow")}
_DET_COLOUR = {
    "fusion": "green", "decompression_only": "cyan", "none": "red",
    "medically_necessary": "green", "not_medically_necessary": "red", "not_addressed": "yellow",
    "approved": "green", "partially_approved": "yellow", "denied": "red",
}


def _plain(text: str) -> str:
    """Text from a case, shown on one line: control characters (newlines,
    terminal escapes) and bidirectional overrides are written as escapes, so a
    case id or description cannot forge report lines or restyle the terminal."""
    return "".join(ch.encode("unicode_escape").decode("ascii") if _hidden(ch) else ch for ch in text)


def _hidden(ch: str) -> bool:
    return unicodedata.category(ch) == "Cc" or "\u202a" <= ch <= "\u202e" or "\u2066" <= ch <= "\u2069"


def _det(value: str) -> str:
    return click.style(value, fg=_DET_COLOUR.get(value), bold=True)


def _scope_suffix(c: CriterionResult, subject: str) -> str:
    return "" if c.scope in ("case", subject) or "@" in c.scope or c.scope == subject else f" at {c.scope}"


def _criterion_lines(c: CriterionResult, subject: str, indent: str) -> list[str]:
    mark, colour = _MARK[c.status]
    status = c.status.replace("_", " ")
    head = f"{indent}{click.style(mark, fg=colour)} {click.style(c.id, bold=True)}{_scope_suffix(c, subject)} {status}: {c.title}"
    lines = [head, f"{indent}    {click.style('[' + c.citation + ']', dim=True)}"]
    for e in c.evidence:
        lines.append(f"{indent}    - {_plain(e.text)}")
    if c.status == "not_documented" and c.documentation:
        lines.append(f"{indent}    - the record does not document {c.documentation}")
    for e in c.noted:
        lines.append(f"{indent}    - noted, does not count: {_plain(e.text)}")
    return lines


def _changes_lines(changes: tuple[WouldChange, ...], subject: str, indent: str) -> list[str]:
    if not changes:
        return []
    lines = [f"{indent}{click.style('what would change it', underline=True)}:"]
    for w in changes:
        parts = [a.criterion + ("" if a.scope in ("case", subject) or "@" in a.scope or a.scope == subject.split("@")[0] else f" at {a.scope}")
                 for a in w.requires]
        lines.append(f"{indent}  → {_det(w.determination)} if met: {' + '.join(parts)}")
    return lines


def to_text(decision: Decision, level: str | None = None) -> str:
    p = decision.policy
    out = [
        f"{click.style(_plain(decision.case), bold=True)} under {p.id} {p.version} (effective {p.effective}): {_det(decision.outcome)}",
        "",
    ]
    levels = [lv for lv in decision.levels if level is None or lv.level == level]
    items = [it for it in decision.items if level is None or it.level == level]
    width = max([len(lv.level) for lv in levels] + [9])
    for lv in levels:
        out.append(f"{click.style(lv.level.ljust(width), bold=True)}  requested {' + '.join(lv.requested):<25} → {_det(lv.determination)}")
        for c in lv.criteria:
            out.extend(_criterion_lines(c, lv.level, "  "))
        out.extend(_changes_lines(lv.would_change, lv.level, "  "))
        out.append("")
    for it in items:
        name = it.item + (f" at {it.level}" if it.level else "")
        out.append(f"{click.style(name, bold=True)}  → {_det(it.determination)}")
        subject = it.item if it.level is None else f"{it.item}@{it.level}"
        for c in it.criteria:
            out.extend(_criterion_lines(c, subject, "  "))
        if it.determination == "not_addressed":
            out.append("  ? the policy has no criterion for this item: refer for manual review")
        out.extend(_changes_lines(it.would_change, subject, "  "))
        out.append("")
    return "\n".join(out).rstrip() + "\n"


# ---------------------------------------------------------------------------
# Markdown: a determination letter
# ---------------------------------------------------------------------------


def _md(text: str) -> str:
    """Escape text from a case so it cannot change the letter's structure."""
    out = []
    for ch in text.replace("\r", " ").replace("\n", " "):
        out.append("\\" + ch if ch in "\\`*_[]<>|" else ch)
    return "".join(out)


def _is_own_scope(scope: str, subject: str) -> bool:
    """A criterion scoped to the subject itself (or case-wide) needs no "at"."""
    return scope in ("case", subject) or scope.split("@")[0] == subject.split(" at ")[0].replace(" ", "_")


def to_markdown(decision: Decision, level: str | None = None) -> str:
    p = decision.policy
    levels = [lv for lv in decision.levels if level is None or lv.level == level]
    items = [it for it in decision.items if level is None or it.level == level]
    lines = [
        f"# Medical necessity determination: {_md(decision.case)}",
        "",
        f"**Policy:** {_md(p.title or p.id)} ({_md(p.id)} version {_md(p.version)}, effective {_md(p.effective)})  ",
        f"**Outcome:** {decision.outcome.replace('_', ' ')}",
        "",
        "## Request and decision",
        "",
        "| Level | Requested | Determination |",
        "|---|---|---|",
    ]
    lines += [f"| {lv.level} | {', '.join(lv.requested)} | {lv.determination.replace('_', ' ')} |" for lv in levels]
    if items:
        lines += ["", "| Item | Level | Determination |", "|---|---|---|"]
        lines += [f"| {it.item.replace('_', ' ')} | {it.level or 'case'} | {it.determination.replace('_', ' ')} |" for it in items]

    cited: dict[str, str] = {}

    def section(title: str, subjects: list[tuple[str, tuple[CriterionResult, ...], tuple[WouldChange, ...]]]) -> None:
        lines.extend(["", f"## {title}"])
        for name, criteria, changes in subjects:
            lines.extend(["", f"### {_md(name)}", ""])
            met = [c for c in criteria if c.status == "met"]
            failed = [c for c in criteria if c.status != "met"]
            for label, group in (("Criteria met", met), ("Criteria not met", failed)):
                if not group:
                    continue
                lines.append(f"**{label}:**")
                lines.append("")
                for c in group:
                    cited[c.id] = c.citation
                    why = "; ".join(_md(e.text) for e in c.evidence)
                    if c.status == "not_documented":
                        why = "not documented" + (f": {_md(c.documentation)}" if c.documentation else "")
                    scope = "" if _is_own_scope(c.scope, name) else f" ({_md(c.scope)})"
                    lines.append(f"- {c.id}{scope}, {_md(c.title)}: {why}")
                lines.append("")
            if changes:
                lines.append("**Documentation that would change this decision:**")
                lines.append("")
                for w in changes:
                    need = ", ".join(a.criterion + ("" if _is_own_scope(a.scope, name) else f" at {_md(a.scope)}")
                                     for a in w.requires)
                    lines.append(f"- {need} would give {w.determination.replace('_', ' ')}")
                lines.append("")

    section("Levels", [(lv.level, lv.criteria, lv.would_change) for lv in levels])
    if items:
        section("Items", [(it.item.replace("_", " ") + (f" at {it.level}" if it.level else ""), it.criteria, it.would_change) for it in items])
    if cited:
        lines.extend(["## Citations", ""])
        lines += [f"- {cid}: {_md(cite)}" for cid, cite in cited.items()]
    return "\n".join(lines).rstrip() + "\n"


RENDERERS: dict[str, Callable[[Decision, str | None], str]] = {
    "text": to_text,
    "json": lambda d, level=None: dumps(to_json(d, level)),
    "markdown": to_markdown,
}


# ---------------------------------------------------------------------------
# necessity test
# ---------------------------------------------------------------------------


def test_report(run, show_coverage: bool) -> str:
    """The result of one policy's goldens, failures as trees."""
    lines = []
    passed = len(run.results) - len(run.failed)
    verdict = click.style("ok", fg="green") if not run.failed and run.results else click.style("FAILED", fg="red", bold=True)
    lines.append(f"{click.style(run.policy.id, bold=True)}: {passed}/{len(run.results)} golden cases passed {verdict}")
    if not run.results:
        lines.append(f"  no golden cases in {run.policy.folder}/tests: add some (docs/authoring.md)")
    for result in run.failed:
        g = result.golden
        lines.append(f"  {click.style('✗', fg='red')} {g.path.name}" + (f": {g.description}" if g.description else ""))
        if result.error:
            lines.append(f"      {result.error}")
            continue
        decision = result.decision
        for m in result.mismatches:
            lines.append(f"      {m.what}: expected {click.style(m.expected, bold=True)}, got {click.style(m.actual, bold=True)}")
            for cid in m.criteria:
                for subject in list(decision.levels) + list(decision.items):
                    for c in subject.criteria:
                        if c.id == cid and (c.scope in m.what or c.scope == "case" or m.what.startswith("criterion")):
                            mark = _MARK[c.status][0]
                            lines.append(f"        {mark} {c.id} at {c.scope} {c.status.replace('_', ' ')}: {c.title}")
                            for e in c.evidence:
                                lines.append(f"            - {e.text}")
                            break
                    else:
                        continue
                    break
    if show_coverage:
        covered = sum(c.covered for c in run.coverage)
        lines.append(f"  criterion coverage: {covered}/{len(run.coverage)} ({run.coverage_pct:.1f}%)")
        for c in run.coverage:
            mark = click.style("✓", fg="green") if c.covered else click.style("✗", fg="red")
            met = f"met {c.counts['met']}" if c.needs_met else "met n/a (no met rule)"
            failed = (f"not_met {c.counts['not_met']} not_documented {c.counts['not_documented']}"
                      if c.needs_not_met else "not met n/a (provision)")
            lines.append(f"    {mark} {c.id:<10} {met:<24} {failed}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# necessity diff
# ---------------------------------------------------------------------------


def _subject_criteria(decision: Decision, subject: str) -> tuple[CriterionResult, ...]:
    for lv in decision.levels:
        if lv.level == subject:
            return lv.criteria
    for it in decision.items:
        if (it.item if it.level is None else f"{it.item}@{it.level}") == subject:
            return it.criteria
    return ()


def _cell(c: CriterionResult) -> str:
    mark = _MARK[c.status][0]
    scope = "" if c.scope in ("case",) or "@" in c.scope or c.scope[:1] in "TLS" and len(c.scope) < 10 else f" ({c.scope})"
    return f"{mark} {c.id}{scope} {c.status.replace('_', ' ')}"


def diff_witness_case_yaml(witness) -> str:
    import yaml

    return yaml.safe_dump(witness.case, sort_keys=False, allow_unicode=True)


def diff_text(result) -> str:
    a, b = result.a, result.b
    out = [f"{click.style('diff', bold=True)} {a.id} {a.version}  ⟷  {b.id} {b.version}", ""]
    if result.unaddressed:
        out.append("items only one policy addresses (the other leaves them to manual review):")
        for item, pid in result.unaddressed:
            out.append(f"  {item}: {pid}")
        out.append("")
    if not result.witnesses:
        verdict = "no case within the bounds below makes them decide differently"
        if not result.complete:
            verdict = "no witness found before the search stopped (time limit): the bounds were not exhausted"
        out.append(click.style(verdict, bold=True))
    for n, w in enumerate(result.witnesses, start=1):
        out.append(click.style(f"witness {n}: {w.case['case']} ({w.facts} documented facts)", bold=True))
        for d in w.differences:
            out.append(f"  {d.subject}: {a.id} {_det(d.a)}, {b.id} {_det(d.b)}")
            left = [_cell(c) for c in _subject_criteria(w.decision_a, d.subject)]
            right = [_cell(c) for c in _subject_criteria(w.decision_b, d.subject)]
            width = max([len(x) for x in left] + [len(a.id)]) + 2
            out.append(f"    {a.id.ljust(width)}│ {b.id}")
            for i in range(max(len(left), len(right))):
                lcell = left[i] if i < len(left) else ""
                rcell = right[i] if i < len(right) else ""
                out.append(f"    {lcell.ljust(width)}│ {rcell}")
        out.append("  the case:")
        out.extend("    " + line for line in diff_witness_case_yaml(w).rstrip().splitlines())
        out.append("")
    out.append("bounds searched:")
    out.extend("  " + line for line in result.bounds.describe())
    if not result.complete and result.witnesses:
        out.append("  (stopped at --max or the time limit: more witnesses may exist)")
    for p in result.problems:
        out.append(click.style(f"engine problem: {p}", fg="red"))
    return "\n".join(out).rstrip() + "\n"


def diff_json(result) -> dict[str, Any]:
    return {
        "a": {"id": result.a.id, "version": result.a.version},
        "b": {"id": result.b.id, "version": result.b.version},
        "complete": result.complete,
        "unaddressed_items": [{"item": item, "addressed_by": pid} for item, pid in result.unaddressed],
        "witnesses": [
            {
                "case": w.case,
                "documented_facts": w.facts,
                "differences": [{"subject": d.subject, "a": d.a, "b": d.b} for d in w.differences],
                "explain_a": to_json(w.decision_a),
                "explain_b": to_json(w.decision_b),
            }
            for w in result.witnesses
        ],
        "bounds": result.bounds.describe(),
        "problems": result.problems,
    }


# ---------------------------------------------------------------------------
# batch summary
# ---------------------------------------------------------------------------

_OUTCOMES = ("approved", "partially_approved", "denied")


def _counts(counter, order) -> str:
    return " · ".join(f"{name} {counter[name]}" for name in order) if counter else "none"


def batch_summary(summary, jobs: int, out_path: str, timeout: float | None, total: int | None = None) -> str:
    """What a batch did, for stderr."""
    from engine.decision import DETERMINATIONS, ITEM_DETERMINATIONS

    rate = summary.cases / summary.seconds if summary.seconds > 0 else 0.0
    lines = [
        f"{summary.cases} cases in {summary.seconds:.2f} s ({rate:.0f} cases/s, "
        f"{jobs} job{'s' if jobs != 1 else ''})",
        f"  outcomes        {_counts(summary.outcomes, _OUTCOMES)}",
        f"  levels          {_counts(summary.levels, tuple(reversed(DETERMINATIONS)))}",
        f"  items           {_counts(summary.items, ITEM_DETERMINATIONS)}",
        f"  errors          {summary.errors}" + (f" (records with an \"error\" key in {out_path})" if summary.errors else ""),
    ]
    if summary.timed_out:
        of = f" of {total}" if total is not None else ""
        lines.append(f"stopped after --timeout {timeout:g}s: {summary.cases}{of} cases written; "
                     "run again with a longer --timeout or more --jobs for the rest")
    return "\n".join(lines) + "\n"
