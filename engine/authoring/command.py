"""``necessity lint``, ``necessity test`` and ``necessity audit-examples``: a policy author's checks.

Each function does its command's work, prints through the ``Console`` it is
given, and returns the exit status (0 clean, 1 findings or failures, 2 when the
work stopped before the end); a ``UserError`` it raises is the user's (exit 2),
and so is the ``ChildError`` of work that failed in its child.
"""

from __future__ import annotations

from pathlib import Path

from engine.deciding import UserError
from engine.presenting.console import FINDINGS, OK, USAGE, Console


def policy_folders(refs: tuple[str, ...], policies_dir: str | None) -> list[Path]:
    """The folders of the policies named, or of every shipped policy when none is."""
    from engine.deciding import resolve, shipped_policies

    refs = refs or tuple(shipped_policies(policies_dir))
    if not refs:
        raise UserError("no policies found: give policy ids or folders, or --policies-dir")
    return [resolve(ref, policies_dir) for ref in refs]


def lint(console: Console, policies: tuple[str, ...], policies_dir: str | None) -> int:
    """Every finding of every policy, compiler-style; their count on standard error."""
    from engine.authoring.lint import lint as run_lint

    total = 0
    for folder in policy_folders(policies, policies_dir):
        findings = run_lint(folder)
        for finding in findings:
            console.out(str(finding), nl=True)
        total += len(findings)
    if total:
        console.err(f"{total} finding{'s' if total != 1 else ''}")
        return FINDINGS
    return OK


def test(console: Console, policies: tuple[str, ...], policies_dir: str | None, *, coverage: bool,
         min_coverage: float | None, timeout: float | None) -> int:
    """Each policy's goldens, run in a child within what is left of ``timeout``, and their coverage."""
    import time

    from engine.authoring.golden import discover
    from engine.authoring.lint import refuse_ungroundable
    from engine.authoring.testrun import finish, run_events
    from engine.deciding import Stopped, limited, load
    from engine.presenting.render import test_report

    bad = False
    deadline = None if timeout is None else time.monotonic() + timeout
    for folder in policy_folders(policies, policies_dir):
        policy = load(str(folder))
        remaining = None if deadline is None else max(0.1, deadline - time.monotonic())
        results, stopped = [], None

        def job(policy=policy):
            refuse_ungroundable(policy)  # one message, not one per golden
            yield from run_events(policy)

        for event in limited(job, timeout=remaining):
            if isinstance(event, Stopped):
                stopped = event
            else:
                results.append(event)
        run = finish(policy, results)
        if stopped is not None:
            if results:
                console.out(test_report(run, False))
            left = len(discover(policy.folder)) - len(results)
            why = f"stopped after --timeout {timeout:g}s" if stopped.reason == "time" else stopped.detail
            console.err(f"{policy.id}: {why}: {left} golden case{'s' * (left != 1)} not run")
            return USAGE
        console.out(test_report(run, coverage or min_coverage is not None))
        if run.failed or not run.results:
            bad = True
        if min_coverage is not None and run.coverage_pct + 1e-9 < min_coverage:
            console.err(f"{run.policy.id}: coverage {run.coverage_pct:.1f}% is below --min-coverage {min_coverage:g}%")
            bad = True
    return FINDINGS if bad else OK


def audit_examples(console: Console, examples: tuple[str, ...], policy_ref: str, policies_dir: str | None, *,
                   fmt: str, timeout: float | None) -> int:
    """The examples' recorded assessments against the policy's determinations, decided in a child."""
    from engine.authoring.audit import Audit, audit_events, example_files, to_json, to_text
    from engine.deciding import Stopped, limited, load
    from engine.presenting import dumps

    files = example_files(examples)
    policy = load(policy_ref, policies_dir)
    done, stopped = [], None
    for event in limited(lambda: audit_events(files, policy), timeout=timeout):
        if isinstance(event, Stopped):
            stopped = event
        else:
            done.append(event)
    result = Audit(tuple(done))
    if result.audited:
        console.out(dumps(to_json(result)) if fmt == "json" else to_text(result))
    if stopped is not None:
        left = [str(f) for f in files[len(done):]]
        console.err(f"{stopped.detail}: not audited: {', '.join(left)}")
        return USAGE
    return FINDINGS if result.differences else OK
