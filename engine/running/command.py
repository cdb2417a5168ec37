"""``necessity explain`` and ``necessity batch``: one case, or a library of cases, decided and written.

Each function does its command's work, prints through the ``Console`` it is
given, and returns the exit status; a ``UserError`` it raises is the user's
(exit 2).  A reader and writer of PAS Bundles comes in as ``bundles``
(``engine/running/bundles.py``): the command line hands in ``exchange.PAS``.
"""

from __future__ import annotations

import os
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from engine.deciding import UserError
from engine.presenting.console import FINDINGS, OK, Console
from engine.running.bundles import Bundles


def requested_level(level: str, case: Any, source: str) -> str:
    """``--level``, spelled as the vocabulary spells it, and requested by the case."""
    from facts.terms import SPINAL_LEVELS

    canon = next((lv for lv in SPINAL_LEVELS if lv.lower() == level.strip().lower()), None)
    if canon is None:
        raise UserError(f"--level {level}: unknown spinal level: use one of {', '.join(SPINAL_LEVELS)}")
    if canon not in {lv.level for lv in case.request.levels}:
        requested = ", ".join(lv.level for lv in case.request.levels)
        raise UserError(f"--level {level}: {source} does not request {canon} (it requests {requested})")
    return canon


def explain(console: Console, case_file: str, *, policy_ref: str, policies_dir: str | None, fmt: str,
            level: str | None, verbose: bool, timeout: float | None, bundles: Bundles | None = None) -> int:
    """Decide one case file (or PAS request Bundle) in a child within ``timeout``, and print it in ``fmt``."""
    from engine.deciding import Stopped, decide, limited, load
    from engine.presenting.render import render
    from facts.load import case_format, parse_case, read_text

    text = read_text(case_file)
    request = None
    if case_format(case_file) == "json" and bundles is not None and bundles.looks_like_bundle(text):
        request = bundles.read(text, case_file)
        for warning in request.warnings:
            console.err(f"warning: {case_file}: {warning}")
        case = request.case
    else:
        case = parse_case(text, case_file, fmt=case_format(case_file))
    if level is not None:
        if fmt == "fhir":
            raise UserError("--level does not apply to --format fhir: a PAS response answers every item of the request")
        level = requested_level(level, case, case_file)
    policy = load(policy_ref, policies_dir)
    for event in limited(lambda: [decide(policy, case)], timeout=timeout):
        if isinstance(event, Stopped):
            raise UserError(f"{case_file}: {event.detail}: not decided")
        decision = event
    if request is not None:
        decision = bundles.noticed(decision, request)  # what the Bundle held beyond the case record is answered too
    if fmt == "fhir":
        if bundles is None:
            raise UserError("--format fhir needs the FHIR exchange (exchange/)")
        console.out(bundles.response(decision, request, case, policy))
    else:
        console.out(render(decision, fmt, level, verbose))
    return OK


def batch(console: Console, input_path: str, *, policy_ref: str, policies_dir: str | None, out_path: str,
          jobs: int, would_change: bool, timeout: float | None, fmt: str, report_path: str | None,
          bundles: Bundles | None = None) -> int:
    """Decide every case of INPUT into ``out_path`` (``-``: standard output); the summary on standard error.

    1 when a case failed or the timeout ran out; 128 + the signal when SIGINT
    or SIGTERM stopped the run (the records written stay, whole).
    """
    import signal
    import time

    from engine.authoring import refuse_ungroundable_within
    from engine.deciding import load
    from engine.presenting import Replacement, refuse_inputs
    from engine.presenting.render import batch_summary
    from engine.running.batch import read_inputs, run

    policy = load(policy_ref, policies_dir)  # a bad policy is reported before any case is read
    to_file = out_path != "-"
    if to_file:  # before anything is opened for writing
        refuse_inputs(out_path, "--out", [(input_path, "input"), (policy.folder, "policy")])
    if report_path is not None:
        check_report(report_path, input_path, out_path, policy.folder)
    started = time.monotonic()
    refuse_ungroundable_within(policy, timeout)
    remaining = None if timeout is None else max(0.1, timeout - (time.monotonic() - started))
    bar = None
    if sys.stderr.isatty():  # only a progress bar needs to know the count beforehand
        items, total = read_inputs(input_path, count=True)
        bar = console.bar(total, "deciding")
    else:
        items, total = read_inputs(input_path)
    jobs = jobs or (os.cpu_count() or 1)
    sink = Replacement(out_path, "--out") if to_file else None
    kept = None
    try:
        with sink or nullcontext(sys.stdout) as out, bar or nullcontext():
            summary = run(items, out, policy_ref=policy_ref, policies_dir=policies_dir, would_change=would_change,
                          jobs=jobs, timeout=remaining, progress=bar.update if bar else None, fmt=fmt,
                          briefs=report_path is not None, bundles=bundles)
            if sink is not None and summary.stopped is None:
                sink.commit()
            elif sink is not None:
                kept = sink.set_aside()
    except OSError as exc:
        raise UserError(f"--out {out_path}: cannot write ({exc.strerror or exc}): check the path") from None
    if summary.stopped is not None:
        of = f" of {total}" if total is not None else ""
        where = (f"{out_path} is unchanged; the {summary.cases} records written are in {kept}" if kept is not None
                 else f"the {summary.cases} records written are whole")
        console.err(f"necessity batch: stopped by {signal.Signals(summary.stopped).name} after {summary.cases}{of} "
                    f"cases; {where}")
        return 128 + summary.stopped
    console.err(batch_summary(summary, jobs, out_path, timeout, total), nl=False)
    if report_path is not None:
        write_report(report_path, summary, policy, input_path, out_path, would_change, timeout, total)
        console.err(f"  report          {report_path}")
    return FINDINGS if summary.errors or summary.timed_out else OK


def check_report(report_path: str, input_path: str, out_path: str, policy_folder: Path) -> None:
    """Refuse a --report that would overwrite what the run reads or writes, before any case is decided."""
    from engine.presenting import refuse_inputs

    refuse_inputs(report_path, "--report", [(input_path, "input"), (policy_folder, "policy")], "the report")
    target = Path(os.path.realpath(report_path))
    if out_path != "-" and target == Path(os.path.realpath(out_path)):
        raise UserError(f"--report {report_path}: this is the --out file: write the report to another file")
    if not target.parent.is_dir():
        raise UserError(f"--report {report_path}: the folder {target.parent} does not exist: create it or "
                        "give another path")


def write_report(report_path: str, summary: Any, policy: Any, input_path: str, out_path: str, would_change: bool,
                 timeout: float | None, total: int | None) -> None:
    """The --report page of a run, written whole or not at all, as --out."""
    from engine.presenting import Replacement
    from engine.presenting.report import policy_ref, to_html

    stopped = ""
    if summary.timed_out:
        of = f" of {total}" if total is not None else ""
        stopped = (f"the run stopped after --timeout {timeout:g}s with {summary.cases}{of} cases decided: "
                   "this report covers those")
    page = to_html(summary.briefs or [], policy_ref(policy), input_path, None if out_path == "-" else out_path,
                   would_change, stopped)
    replacement = Replacement(report_path, "--report")
    try:
        with replacement as handle:
            handle.write(page)
            replacement.commit()
    except OSError as exc:
        raise UserError(f"--report {report_path}: cannot write ({exc.strerror or exc}): check the path") from None
