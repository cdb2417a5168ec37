"""Decisions as JSON (the contract in docs/json.md), a terminal tree, a letter, or a page.

Rendering reads a ``Decision`` and nothing else: every status, every piece of
evidence and every what-if set comes from the solver.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from engine.deciding.decision import CriterionResult, Decision, ItemDecision, LevelDecision, WouldChange
from engine.presenting.actions import action_of, request_action
from engine.presenting.letter import to_markdown
from engine.presenting.page import to_html
from engine.presenting.terminal import MARK, blocking, to_text

# ---------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------


def criterion_json(c: CriterionResult) -> dict[str, Any]:
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
    if c.superseded:
        out["superseded"] = [{"fact": e.atom, "text": e.text} for e in c.superseded]
    if c.unsettled:
        out["unsettled"] = [{"fact": e.atom, "text": e.text} for e in c.unsettled]
    if c.waived_by:
        out["waived_by"] = c.waived_by
    if c.documentation:
        out["documentation"] = c.documentation
    if c.lacking:
        out["lacking"] = [{"term": e.atom, "text": e.text} for e in c.lacking]
    return out


def _requirement_json(a) -> dict[str, Any]:
    return {"id": a.criterion, "scope": a.scope, "status": a.status}


def change_json(w: WouldChange) -> dict[str, Any]:
    out: dict[str, Any] = {
        "determination": w.determination,
        "kind": w.kind,
        "requires_at": [_requirement_json(a) for a in w.requires],
    }
    if w.one_of:
        out["one_of"] = [_requirement_json(a) for a in w.one_of]
    if w.choose > 1:
        out["choose"] = w.choose
    return out


def _explained(out: dict[str, Any], subject: LevelDecision | ItemDecision, decision: Decision) -> dict[str, Any]:
    action = action_of(decision, subject)
    out["action"] = action.code
    if action.to_request:
        out["to_request"] = [{"id": r.id, "scope": r.scope, "documentation": r.documentation} for r in action.to_request]
    blockers = blocking(decision, subject) if action.code != "certify" else []
    if blockers:  # the summary's "blocked by": what the requested service needs and the record lacks
        out["blocked_by"] = [{"id": c.id, "scope": c.scope, "status": c.status} for c in blockers]
    if decision.explained:
        out["criteria"] = [criterion_json(c) for c in subject.criteria]
    if decision.would_change_computed:
        out["would_change"] = [change_json(w) for w in subject.would_change]
    return out


def to_json(decision: Decision, level: str | None = None) -> dict[str, Any]:
    levels = [lv for lv in decision.levels if level is None or lv.level == level]
    items = [it for it in decision.items if level is None or it.level == level]
    return {
        "case": decision.case,
        "policy": {"id": decision.policy.id, "version": decision.policy.version, "effective": decision.policy.effective},
        "notices": [{"code": n.code, "text": n.text} for n in decision.notices],
        "outcome": decision.outcome,
        "action": request_action(decision),
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


#: Each format, called as ``RENDERERS[fmt](decision, level, context=..., policy=...)``: ``context``
#: (engine/presenting/context.py) and ``policy`` are optional, and the JSON reads neither.
RENDERERS: dict[str, Callable[..., str]] = {
    "text": lambda d, level=None, context=None, policy=None, verbose=False: to_text(d, level, verbose, context, policy),
    "json": lambda d, level=None, context=None, policy=None, verbose=False: dumps(to_json(d, level)),
    "markdown": lambda d, level=None, context=None, policy=None, verbose=False: to_markdown(d, level, context),
    "html": lambda d, level=None, context=None, policy=None, verbose=False: to_html(d, level, context, policy),
}


def render(decision: Decision, fmt: str, level: str | None = None, verbose: bool = False,
           context=None, policy=None) -> str:
    """``explain``'s output in ``fmt`` (text, json, markdown or html); ``verbose`` adds the rule's shape and
    every criterion (text); ``context`` (engine/presenting/context.py) and ``policy`` are optional."""
    return RENDERERS[fmt](decision, level, context=context, policy=policy, verbose=verbose)


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
                            mark = MARK[c.status][0]
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
# batch summary
# ---------------------------------------------------------------------------

_OUTCOMES = ("approved", "partially_approved", "denied")


def _counts(counter, order) -> str:
    return " · ".join(f"{name} {counter[name]}" for name in order) if counter else "none"


def batch_summary(summary, jobs: int, out_path: str, timeout: float | None, total: int | None = None) -> str:
    """What a batch did, for stderr."""
    from engine.deciding.decision import DETERMINATIONS, ITEM_DETERMINATIONS, NOT_ADDRESSED

    rate = summary.cases / summary.seconds if summary.seconds > 0 else 0.0
    lines = [
        f"{summary.cases} cases in {summary.seconds:.2f} s ({rate:.0f} cases/s, "
        f"{jobs} job{'s' if jobs != 1 else ''})",
        f"  outcomes        {_counts(summary.outcomes, _OUTCOMES)}",
        f"  levels          {_counts(summary.levels, (*reversed(DETERMINATIONS), NOT_ADDRESSED))}",
        f"  items           {_counts(summary.items, ITEM_DETERMINATIONS)}",
        f"  errors          {summary.errors}" + (f" (records with an \"error\" key in {out_path})" if summary.errors else ""),
    ]
    if summary.timed_out:
        of = f" of {total}" if total is not None else ""
        lines.append(f"stopped after --timeout {timeout:g}s: {summary.cases}{of} cases written; "
                     "run again with a longer --timeout or more --jobs for the rest")
    return "\n".join(lines) + "\n"
