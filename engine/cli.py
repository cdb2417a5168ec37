"""The ``necessity`` command line.

Library errors become user errors only here: each is printed with where it
happened and how to fix it, and the exit status is 2.  Heavy modules (clingo,
pydantic models) are imported inside the commands so that ``--help`` and cold
starts stay fast.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from collections.abc import Callable
from contextlib import nullcontext
from functools import wraps
from typing import Any

import click

EXIT_FINDINGS = 1
EXIT_USAGE = 2


def _fail(message: str) -> None:
    click.echo(message.rstrip(), err=True)
    sys.exit(EXIT_USAGE)


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn known errors into a message and exit 2, never a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from engine.deciding.errors import UserError
        from facts.load import CaseFileError

        try:
            return fn(*args, **kwargs)
        except CaseFileError as exc:
            _fail(f"error: {exc.render()}")
        except UserError as exc:
            _fail(f"error: {exc}")
        except BrokenPipeError:
            sys.stderr.close()
            sys.exit(0)

    return wrapper


policy_option = click.option(
    "--policy", "policy_ref", default="reference", show_default=True, metavar="ID|DIR",
    help="Policy id from the policies folder, or a policy folder.",
)
policies_dir_option = click.option(
    "--policies-dir", type=click.Path(file_okay=False), default=None, metavar="DIR",
    help="Folder of policies to look ids up in (default: the repository's policies/, or $NECESSITY_POLICIES).",
)


def timeout_option(help_text: str, default: float | None = None):
    return click.option("--timeout", type=click.FloatRange(min=0.1), default=default, show_default=default is not None,
                        metavar="SECONDS", help=help_text)


progress_option = click.option(
    "--progress/--no-progress", default=None,
    help="Report progress on stderr (default: when stderr is a terminal).",
)


def _refuse_ungroundable(policy: Any, timeout: float | None) -> None:
    """``lint.refuse_ungroundable`` within --timeout and the memory limit: the check grounds the
    policy, and a policy that never stops grounding must not hold this process."""
    from engine.deciding.errors import UserError
    from engine.deciding.limits import Stopped
    from engine.authoring.lint import refuse_ungroundable

    def job() -> tuple:
        refuse_ungroundable(policy)
        return ()

    for event in _worker(job, timeout):
        if isinstance(event, Stopped):
            raise UserError(f"{policy.id}: {event.detail} while grounding the policy: no case was decided")


def _worker(job: Callable[[], Any], timeout: float | None) -> Any:
    """The events of ``job``, run in a child process within --timeout and the memory limit (engine/deciding/limits.py)."""
    from engine.deciding.limits import ChildError, limited

    try:
        yield from limited(job, timeout=timeout)
    except ChildError as exc:
        _fail(str(exc))


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="necessity")
def main() -> None:
    """Medical-necessity criteria for lumbar spine surgery, decided by clingo.

    \b
    Example:
      necessity explain examples/source-003.yaml
    """


@main.command()
@click.argument("case_file", metavar="CASE", type=click.Path(dir_okay=False))
@policy_option
@policies_dir_option
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown", "html", "fhir"]), default="text",
              show_default=True,
              help="text: a tree for a terminal; json: the documented contract; markdown: a determination letter; "
                   "html: one self-contained page to review in a browser (docs/html.md); "
                   "fhir: a Da Vinci PAS response Bundle (docs/fhir.md).")
@click.option("--level", default=None, metavar="LEVEL", help="Show only this level (and items at it), e.g. L4-L5.")
@click.option("--verbose", "-v", is_flag=True,
              help="Text: also list every other criterion the policy evaluated, with its status.")
@timeout_option("Stop after this long, grounding and solving alike (exit 2, nothing decided).")
@user_errors
def explain(case_file: str, policy_ref: str, policies_dir: str | None, fmt: str, level: str | None,
            verbose: bool, timeout: float | None) -> None:
    """Decide CASE under a policy and explain every determination.

    For every requested level: fusion, decompression_only, none, or
    not_addressed (the policy has no criterion for it: manual review); for
    every requested item: medically_necessary, not_medically_necessary or
    not_addressed.  The text starts with the answer: one line per level and
    item with the criteria that stand in its way, then what would change it
    (documentation to obtain, apart from findings the record contradicts),
    then the case-level criteria once and each level's and item's own.
    CASE is a case file (YAML or JSON) or a Da Vinci PAS request Bundle (JSON
    with "resourceType": "Bundle"); what a Bundle holds that no mapping row
    reads is reported on stderr as a warning and, in every format, as a
    notice of the decision (a Claim item not decided: manual review).

    \b
    Examples:
      necessity explain examples/source-003.yaml
      necessity explain examples/source-002.yaml --format json
      necessity explain examples/source-000.yaml --level L4-L5 --format markdown
      necessity explain examples/source-003.yaml --format html > source-003.html
      necessity explain examples/source-003.yaml --verbose
      necessity explain tests/data/pas-request-multilevel-fusion.json --format fhir
      necessity explain my-case.yaml --policy policies/draft --timeout 30
    """
    from engine.deciding.errors import UserError
    from engine.deciding.policy import load
    from engine.presenting.render import RENDERERS
    from engine.deciding.solver import decide
    from facts.load import case_format, parse_case, read_text
    from facts.terms import SPINAL_LEVELS

    text = read_text(case_file)
    request = None
    if case_format(case_file) == "json" and _is_fhir(text):
        from exchange.request import read_text as read_bundle

        request = read_bundle(text, case_file)
        for warning in request.warnings:
            click.echo(f"warning: {case_file}: {warning}", err=True)
        case = request.case
    else:
        case = parse_case(text, case_file, fmt=case_format(case_file))
    if level is not None:
        if fmt == "fhir":
            raise UserError("--level does not apply to --format fhir: a PAS response answers every item of the request")
        canon = next((lv for lv in SPINAL_LEVELS if lv.lower() == level.strip().lower()), None)
        if canon is None:
            raise UserError(f"--level {level}: unknown spinal level: use one of {', '.join(SPINAL_LEVELS)}")
        if canon not in {lv.level for lv in case.request.levels}:
            requested = ", ".join(lv.level for lv in case.request.levels)
            raise UserError(f"--level {level}: {case_file} does not request {canon} (it requests {requested})")
        level = canon
    from engine.deciding.limits import Stopped

    policy = load(policy_ref, policies_dir)
    for event in _worker(lambda: [decide(policy, case)], timeout):
        if isinstance(event, Stopped):
            raise UserError(f"{case_file}: {event.detail}: not decided")
        decision = event
    if request is not None:
        from exchange.request import noticed

        decision = noticed(decision, request)  # what the Bundle held beyond the case record is part of the answer
    if fmt == "fhir":
        from exchange import response_text
        from exchange.request import for_case

        click.echo(response_text(decision, request or for_case(case), policy), nl=False)
    elif fmt == "text":
        from engine.presenting.terminal import to_text

        click.echo(to_text(decision, level, verbose=verbose), nl=False)
    else:
        click.echo(RENDERERS[fmt](decision, level), nl=False)


def _is_fhir(text: str) -> bool:
    from exchange import looks_like_bundle

    return looks_like_bundle(text)


@main.command()
@click.argument("input_path", metavar="INPUT", type=click.Path())
@policy_option
@policies_dir_option
@click.option("--out", "out_path", default="-", show_default=True, metavar="FILE",
              help="JSON Lines file for the decision records (- for standard output).")
@click.option("--jobs", "-j", type=click.IntRange(min=0), default=1, show_default=True, metavar="N",
              help="Worker processes (0: one per core). The output is the same for every N.")
@click.option("--would-change", is_flag=True, help="Also compute what would change each decision (slower).")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=None, metavar="SECONDS",
              help="Stop after this long, keeping the records already written.")
@click.option("--format", "fmt", type=click.Choice(["json", "fhir"]), default="json", show_default=True,
              help="json: explain's JSON records; fhir: NDJSON of PAS response Bundles (docs/fhir.md).")
@click.option("--report", "report_path", default=None, type=click.Path(dir_okay=False), metavar="FILE",
              help="Also write an HTML page of the run: outcomes, determinations by level, the criteria that "
                   "most often block, every case (docs/html.md).")
@user_errors
def batch(input_path: str, policy_ref: str, policies_dir: str | None, out_path: str, jobs: int,
          would_change: bool, timeout: float | None, fmt: str, report_path: str | None) -> None:
    """Decide every case in INPUT: a folder of case files, or a JSON Lines file.

    Writes one JSON record per case, in input order: the same record as
    `explain --format json` (why and why not; what would change only with
    --would-change), or {"source": ..., "error": ...} for a case that cannot
    be read or decided; the batch goes on.  A JSON record or file that names
    a resourceType is read as a Da Vinci PAS request Bundle, so NDJSON of
    request Bundles (the FHIR bulk format) is read like JSON Lines of cases.
    With --format fhir each record is a PAS response Bundle (what would change
    each decision included), and an input that cannot be read an
    OperationOutcome.  With --report, an HTML page of the whole run as well,
    written once the run ends.  A summary goes to stderr, with a progress bar
    when stderr is a terminal.  Exit 1 if any case failed or the --timeout ran
    out, 2 for a bad INPUT or policy.

    \b
    Examples:
      necessity batch examples/ --out decisions.jsonl
      necessity batch cases.jsonl --policy aetna-cpb-0743 --jobs 0 --out -
      necessity batch library/ --would-change --timeout 600 --out review.jsonl
      necessity batch requests.ndjson --format fhir --out responses.ndjson
      necessity batch examples/ --out decisions.jsonl --report report.html
    """
    import signal
    import time

    from engine.running.batch import read_inputs, run
    from engine.deciding.errors import UserError
    from engine.presenting.output import Replacement, refuse_inputs
    from engine.deciding.policy import load

    policy = load(policy_ref, policies_dir)  # a bad policy is reported before any case is read
    to_file = out_path != "-"
    if to_file:  # before anything is opened for writing
        refuse_inputs(out_path, "--out", [(input_path, "input"), (policy.folder, "policy")])
    if report_path is not None:
        _check_report(report_path, input_path, out_path, policy.folder)
    started = time.monotonic()
    _refuse_ungroundable(policy, timeout)
    remaining = None if timeout is None else max(0.1, timeout - (time.monotonic() - started))
    bar = None
    if sys.stderr.isatty():  # only a progress bar needs to know the count beforehand
        items, total = read_inputs(input_path, count=True)
        bar = click.progressbar(length=total, label="deciding", file=sys.stderr, show_pos=True)
    else:
        items, total = read_inputs(input_path)
    jobs = jobs or (os.cpu_count() or 1)
    sink = Replacement(out_path, "--out") if to_file else None
    kept = None
    try:
        with sink or nullcontext(sys.stdout) as out, bar or nullcontext():
            summary = run(items, out, policy_ref=policy_ref, policies_dir=policies_dir, would_change=would_change,
                          jobs=jobs, timeout=remaining, progress=bar.update if bar else None, fmt=fmt,
                          briefs=report_path is not None)
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
        click.echo(f"necessity batch: stopped by {signal.Signals(summary.stopped).name} after {summary.cases}{of} "
                   f"cases; {where}", err=True)
        sys.exit(128 + summary.stopped)
    from engine.presenting.render import batch_summary

    click.echo(batch_summary(summary, jobs, out_path, timeout, total), err=True, nl=False)
    if report_path is not None:
        _write_report(report_path, summary, policy, input_path, out_path, would_change, timeout, total)
    if summary.errors or summary.timed_out:
        sys.exit(EXIT_FINDINGS)


@main.group(name="fhir")
def fhir_group() -> None:
    """FHIR prior authorization: a DTR questionnaire from a policy, a PAS request Bundle from a case.

    \b
    Examples:
      necessity fhir questionnaire --policy reference
      necessity fhir bundle examples/source-002.yaml --out request.json
    """


def _write(out_path: str, text: str) -> None:
    """Standard output, or a file written whole or not at all (engine/presenting/output.py)."""
    if out_path == "-":
        click.echo(text, nl=False)
        return
    from engine.presenting.output import Replacement

    sink = Replacement(out_path, "--out")
    with sink as out:
        out.write(text)
        sink.commit()


@fhir_group.command(name="questionnaire")
@policy_option
@policies_dir_option
@click.option("--all-fields", is_flag=True, help="Every field of the case record, whatever the policy reads "
              "(the questionnaire `fhir bundle` answers).")
@click.option("--out", "out_path", default="-", show_default=True, metavar="FILE", help="Where to write it (- for standard output).")
@user_errors
def fhir_questionnaire(policy_ref: str, policies_dir: str | None, all_fields: bool, out_path: str) -> None:
    """Write the DTR Questionnaire of the documentation a policy reads.

    One item per case field the policy's rules read (derived from the policy
    and the case vocabulary), its linkId the field's path, its answers the
    vocabulary's values, enableWhen for fields that depend on another, and a
    help item naming the criteria (id, title, citation) that read it.  The
    request itself (date, setting, services, items) is the Claim's, not asked.
    A QuestionnaireResponse to it is a case record's documentation: answered is
    documented, false or no entries documented absent, unanswered not documented.

    \b
    Examples:
      necessity fhir questionnaire --policy reference
      necessity fhir questionnaire --policy cigna-cmm-609 --out cigna-dtr.json
    """
    from engine.presenting.output import refuse_inputs
    from engine.deciding.policy import load
    from exchange.bundle import dumps, validate
    from exchange.documents import full_questionnaire, questionnaire

    policy = None if all_fields else load(policy_ref, policies_dir)
    if out_path != "-" and policy is not None:
        refuse_inputs(out_path, "--out", [(policy.folder, "policy")], written="the questionnaire")
    resource = full_questionnaire() if policy is None else questionnaire(policy)
    _write(out_path, dumps(validate(resource, "questionnaire", "Questionnaire")))


@fhir_group.command(name="bundle")
@click.argument("case_file", metavar="CASE", type=click.Path(dir_okay=False))
@click.option("--out", "out_path", default="-", show_default=True, metavar="FILE", help="Where to write it (- for standard output).")
@user_errors
def fhir_bundle(case_file: str, out_path: str) -> None:
    """Write a Da Vinci PAS request Bundle for a case file.

    The Claim (use preauthorization) requests each service and item by its
    code (exchange/data/procedures.csv) at its level (body site); the
    QuestionnaireResponse documents the rest of the record; HbA1c, cotinine,
    DEXA and BMI go as LOINC Observations.  `necessity explain` on the Bundle
    decides exactly as on the case file.

    \b
    Examples:
      necessity fhir bundle examples/source-002.yaml
      necessity fhir bundle examples/source-000.yaml --out source-000.request.json
    """
    from engine.presenting.output import refuse_inputs
    from exchange.bundle import dumps, validate
    from exchange.request import to_bundle
    from facts import load_case

    if out_path != "-":
        refuse_inputs(out_path, "--out", [(case_file, "case file")], written="the Bundle")
    case = load_case(case_file)
    _write(out_path, dumps(validate(to_bundle(case), case_file)))


def _check_report(report_path: str, input_path: str, out_path: str, policy_folder: Path) -> None:
    """Refuse a --report that would overwrite what the run reads or writes, before any case is decided."""
    from engine.deciding.errors import UserError
    from engine.presenting.output import refuse_inputs

    refuse_inputs(report_path, "--report", [(input_path, "input"), (policy_folder, "policy")], "the report")
    target = Path(os.path.realpath(report_path))
    if out_path != "-" and target == Path(os.path.realpath(out_path)):
        raise UserError(f"--report {report_path}: this is the --out file: write the report to another file")
    if not target.parent.is_dir():
        raise UserError(f"--report {report_path}: the folder {target.parent} does not exist: create it or "
                        "give another path")


def _write_report(report_path: str, summary, policy, input_path: str, out_path: str, would_change: bool,
                  timeout: float | None, total: int | None) -> None:
    from engine.deciding.errors import UserError
    from engine.presenting.output import Replacement
    from engine.presenting.report import policy_ref, to_html

    stopped = ""
    if summary.timed_out:
        of = f" of {total}" if total is not None else ""
        stopped = (f"the run stopped after --timeout {timeout:g}s with {summary.cases}{of} cases decided: "
                   "this report covers those")
    page = to_html(summary.briefs or [], policy_ref(policy), input_path, None if out_path == "-" else out_path,
                   would_change, stopped)
    replacement = Replacement(report_path, "--report")  # whole or not at all, as --out
    try:
        with replacement as handle:
            handle.write(page)
            replacement.commit()
    except OSError as exc:
        raise UserError(f"--report {report_path}: cannot write ({exc.strerror or exc}): check the path") from None
    click.echo(f"  report          {report_path}", err=True)


def _policy_folders(refs: tuple[str, ...], policies_dir: str | None) -> list:
    from engine.deciding.errors import UserError
    from engine.deciding.policy import resolve, shipped_policies

    refs = refs or tuple(shipped_policies(policies_dir))
    if not refs:
        raise UserError("no policies found: give policy ids or folders, or --policies-dir")
    return [resolve(ref, policies_dir) for ref in refs]


@main.command()
@click.argument("policies", nargs=-1, metavar="[POLICY]...")
@policies_dir_option
@user_errors
def lint(policies: tuple[str, ...], policies_dir: str | None) -> None:
    """Check policies for errors, like a compiler: file:line:col CODE message.

    Finds syntax errors and unsafe variables, predicates that are neither case
    facts nor defined (with the closest known name), criteria without id,
    title or citation or declared twice, and directives that would run code
    or read files (#script, #include outside the policy folder).  Every code
    is explained in docs/authoring.md.  With no POLICY, checks every shipped
    policy.  Exit 1 when anything is found, 0 when clean.

    \b
    Examples:
      necessity lint
      necessity lint reference policies/aetna-cpb-0743
    """
    from engine.authoring.lint import lint as run_lint

    total = 0
    for folder in _policy_folders(policies, policies_dir):
        findings = run_lint(folder)
        for finding in findings:
            click.echo(str(finding))
        total += len(findings)
    if total:
        click.echo(f"{total} finding{'s' if total != 1 else ''}", err=True)
        sys.exit(EXIT_FINDINGS)


@main.command(name="test")
@click.argument("policies", nargs=-1, metavar="[POLICY]...")
@policies_dir_option
@click.option("--coverage", is_flag=True, help="List, per criterion, whether the goldens made it met and not met.")
@click.option("--min-coverage", type=click.FloatRange(0, 100), default=None, metavar="PCT",
              help="Fail (exit 1) when criterion coverage is below PCT percent.")
@timeout_option("Stop after this long in all, grounding and solving alike; goldens not run then are reported (exit 2).")
@user_errors
def test_command(policies: tuple[str, ...], policies_dir: str | None, coverage: bool, min_coverage: float | None,
                 timeout: float | None) -> None:
    """Run each policy's golden cases (policies/<id>/tests/*.yaml).

    A failure shows the case, the level or item, expected and actual, and the
    criteria involved.  Exit 1 on a failure or coverage below --min-coverage.

    \b
    Examples:
      necessity test
      necessity test reference --coverage
      necessity test --min-coverage 100
      necessity test policies/draft --timeout 60
    """
    import time

    from engine.deciding.limits import Stopped
    from engine.authoring.lint import refuse_ungroundable
    from engine.deciding.policy import load
    from engine.presenting.render import test_report
    from engine.authoring.golden import discover
    from engine.authoring.testrun import finish, run_events

    bad = False
    deadline = None if timeout is None else time.monotonic() + timeout
    for folder in _policy_folders(policies, policies_dir):
        policy = load(str(folder))
        remaining = None if deadline is None else max(0.1, deadline - time.monotonic())
        results, stopped = [], None

        def job(policy=policy):
            refuse_ungroundable(policy)  # one message, not one per golden
            yield from run_events(policy)

        for event in _worker(job, remaining):
            if isinstance(event, Stopped):
                stopped = event
            else:
                results.append(event)
        run = finish(policy, results)
        if stopped is not None:
            if results:
                click.echo(test_report(run, False), nl=False)
            left = len(discover(policy.folder)) - len(results)
            why = f"stopped after --timeout {timeout:g}s" if stopped.reason == "time" else stopped.detail
            click.echo(f"{policy.id}: {why}: {left} golden case{'s' * (left != 1)} not run", err=True)
            sys.exit(EXIT_USAGE)
        click.echo(test_report(run, coverage or min_coverage is not None), nl=False)
        if run.failed or not run.results:
            bad = True
        if min_coverage is not None and run.coverage_pct + 1e-9 < min_coverage:
            click.echo(f"{run.policy.id}: coverage {run.coverage_pct:.1f}% is below --min-coverage {min_coverage:g}%", err=True)
            bad = True
    if bad:
        sys.exit(EXIT_FINDINGS)


@main.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--fields", is_flag=True, help="List the case file's fields and the predicates each becomes.")
@user_errors
def vocab(fmt: str, fields: bool) -> None:
    """Print every predicate a case file becomes, with its arguments and meaning.

    Generated from the case model's declarations, so it always matches what the
    engine emits.

    \b
    Examples:
      necessity vocab
      necessity vocab --fields
      necessity vocab --format json
    """
    from engine.presenting.render import dumps
    from facts.schema import field_table, vocabulary_table

    if fields:
        rows = field_table()
        if fmt == "json":
            click.echo(dumps([{"field": f, "type": t, "predicates": p} for f, t, p in rows]), nl=False)
        else:
            width = max(len(f) for f, _, _ in rows)
            for f, t, p in rows:
                click.echo(f"{f.ljust(width)}  {t:<28} {', '.join(p) or '(not emitted: free text)'}")
        return
    table = vocabulary_table()
    if fmt == "json":
        click.echo(dumps(table), nl=False)
        return
    group = None
    for entry in table["predicates"]:
        if entry["group"] != group:
            group = entry["group"]
            click.echo(f"\n{click.style(group, bold=True)}")
        args = ", ".join(f"{a['name']}" for a in entry["args"])
        click.echo(f"  {entry['name']}({args})")
        click.echo(f"      {entry['meaning']}")
        for a in entry["args"]:
            click.echo(f"      {a['name']}: {a['kind']}")
    click.echo(f"\n{click.style('argument kinds', bold=True)}")
    for kind, meaning in table["kinds"].items():
        click.echo(f"  {kind:<9} {meaning}")


class _Progress:
    """Progress on stderr: a line rewritten in place on a terminal, whole lines otherwise."""

    def __init__(self, enabled: bool | None):
        self.tty = sys.stderr.isatty()
        self.enabled = self.tty if enabled is None else enabled
        self.pending = False

    def status(self, text: str) -> None:
        if self.enabled and self.tty:
            click.echo(f"\r\033[K  {text}", err=True, nl=False)
            self.pending = True

    def line(self, text: str) -> None:
        if self.enabled:
            self.end()
            click.echo(f"  {text}", err=True)

    def end(self) -> None:
        if self.pending:
            click.echo("\r\033[K", err=True, nl=False)
            self.pending = False


def _case_files(cases: list[tuple[dict, list[str]]]) -> dict[str, str]:
    """Witness case files for ``_emit``, by case id: each case as YAML under its header comment lines."""
    import yaml

    return {case["case"]: "".join(f"# {line}\n" for line in header)
            + yaml.safe_dump(case, sort_keys=False, allow_unicode=True) for case, header in cases}


@main.command(name="diff")
@click.argument("policy_a", metavar="POLICY_A")
@click.argument("policy_b", metavar="POLICY_B")
@policies_dir_option
@click.option("--max", "max_witnesses", type=click.IntRange(1, 500), default=20, show_default=True,
              help="Stop after this many witnesses.")
@click.option("--level", "levels", multiple=True, metavar="LEVEL",
              help="A level the searched cases may request (repeatable; default L4-L5).")
@click.option("--emit", "emit_dir", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Write each witness as a case file that `necessity explain` runs as is.")
@click.option("--cases", "cases_path", type=click.Path(), default=None, metavar="LIBRARY",
              help="Instead of searching, decide a case library (a folder of case files or JSON Lines) "
                   "under both policies and report the cases whose decision changes.")
@click.option("--jobs", "-j", type=click.IntRange(min=0), default=0, show_default=True, metavar="N",
              help="With --cases: worker processes (0: one per core). The report is the same for every N.")
@timeout_option("Stop after this long, grounding and solving alike; what was not answered is reported "
                "as not proved (exit 2 when nothing differs).")
@progress_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@user_errors
def diff_command(policy_a: str, policy_b: str, policies_dir: str | None, max_witnesses: int,
                 levels: tuple[str, ...], emit_dir: str | None, cases_path: str | None, jobs: int,
                 timeout: float | None, progress: bool | None, fmt: str) -> None:
    """Find case records on which two policies decide differently.

    The solver searches a bounded space of case records derived from what the
    two policies read (every value they tell apart, one value on each side of
    every figure they compare, the three documentation states).  It asks, per
    request kind (a level requested for decompression, fusion or both; each
    item), whether some case gets more from one policy than from the other,
    or an answer from one and none from the other.  The summary on top says
    whether POLICY_B is equivalent to POLICY_A, narrower, broader or
    incomparable, and which criteria and figures cause it; each witness below
    is re-decided by both policies through `explain`.  docs/diff.md states
    what the bounds cover.  POLICY may be an id, a folder, or ID@REV for a
    policy as committed at a git revision.

    With --cases, no search: every case of a library is decided under both
    policies and the report counts the cases that change, by outcome, level
    determination and item, with their ids.

    Exit 1 when the policies differ, 0 when no case within the bounds (or in
    the library) is decided differently, 2 on bad input, or when the search
    stopped (--timeout, memory) with nothing found and nothing proved.

    \b
    Examples:
      necessity diff reference aetna-cpb-0743
      necessity diff reference aetna-cpb-0743 --max 5 --emit witnesses/
      necessity diff reference@HEAD~1 reference --format json
      necessity diff reference@HEAD~1 reference --cases library.jsonl
    """
    import tempfile

    from engine.analysing.diff import DiffResult, diff_events, policy_at_revision, questions
    from engine.deciding.errors import UserError
    from engine.analysing.findings import diff_json, diff_text
    from engine.deciding.limits import Stopped
    from engine.presenting.output import prepare_folder
    from engine.deciding.policy import load
    from engine.presenting.render import dumps
    from facts.terms import SPINAL_LEVELS

    for level in levels:
        if level not in SPINAL_LEVELS:
            raise UserError(f"--level {level}: unknown spinal level: use one of {', '.join(SPINAL_LEVELS)}")
    with tempfile.TemporaryDirectory(prefix="necessity-diff-") as work:
        def resolve(ref: str) -> str:
            if "@" in ref and not Path(ref).is_dir():  # a folder named with an '@' is that folder
                return str(policy_at_revision(ref, Path(work)))
            return ref

        ref_a, ref_b = resolve(policy_a), resolve(policy_b)
        a, b = load(ref_a, policies_dir), load(ref_b, policies_dir)
        if cases_path is not None:
            _impact(cases_path, ref_a, ref_b, policies_dir, jobs, timeout, progress, fmt)
            return
        target = prepare_folder(emit_dir, "--emit", [(a.folder, "policy"), (b.folder, "policy")]) if emit_dir else None
        shown = _Progress(progress)
        result = DiffResult(a.id, b.id, a.version, b.version)
        asked = total = 0
        job = lambda: diff_events(a, b, levels=levels or ("L4-L5",), max_witnesses=max_witnesses)  # noqa: E731
        for event in _worker(job, timeout):
            if isinstance(event, Stopped):
                result.stopped = event.detail
                break
            result.add(event)
            if event[0] == "bounds":
                total = len(questions(event[1], {i for i, _ in event[2]}))
            elif event[0] == "question":
                asked += 1
            elif event[0] == "witness":
                w = event[1]
                changes = ", ".join(f"{d.subject}: {a.id} {d.a}, {b.id} {d.b}" for d in w.differences[:2])
                shown.line(f"witness {len(result.witnesses)}: {w.question.label()} ({changes})")
            shown.status(f"{asked}/{total} questions answered · {len(result.witnesses)} witnesses")
        shown.end()
    click.echo(dumps(diff_json(result)) if fmt == "json" else diff_text(result), nl=False)
    if target is not None:
        _emit(target, _case_files([
            (w.case, [f"A case on which {a.id} {a.version} and {b.id} {b.version} decide differently,",
                      "found by `necessity diff` and re-decided by both policies:"]
             + [f"  {d.subject}: {a.id} {d.a}, {b.id} {d.b}" for d in w.differences])
            for w in result.witnesses] + [
            (w, [f"A case {pid} gives several answers, found by `necessity diff`"]) for pid, w in result.several if w]),
            printed=fmt == "json")
    if result.problems:
        raise UserError("the engine could not confirm some witnesses (see 'engine problem' above): please report it")
    if result.differs:
        sys.exit(EXIT_FINDINGS)
    if not result.proved:
        click.echo("nothing found, and not proved: see the reasons above", err=True)
        sys.exit(EXIT_USAGE)


def _impact(cases_path: str, ref_a: str, ref_b: str, policies_dir: str | None, jobs: int, timeout: float | None,
            progress: bool | None, fmt: str) -> None:
    from engine.running.batch import read_inputs
    from engine.analysing.findings import impact_json, impact_text
    from engine.analysing.impact import impact
    from engine.presenting.render import dumps

    shown = _Progress(progress)
    items, total = read_inputs(cases_path, count=bool(shown.enabled and shown.tty))
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        shown.status(f"{done}{f'/{total}' if total else ''} cases decided under both policies")

    result = impact(items, ref_a, ref_b, policies_dir=policies_dir, jobs=jobs or (os.cpu_count() or 1),
                    timeout=timeout, progress=tick)
    shown.end()
    click.echo(dumps(impact_json(result)) if fmt == "json" else impact_text(result), nl=False)
    if result.timed_out:
        click.echo(f"stopped after --timeout {timeout:g}s: {result.cases} cases compared", err=True)
        sys.exit(EXIT_USAGE)
    if result.changed or result.errors:
        sys.exit(EXIT_FINDINGS)


@main.command(name="audit-examples")
@click.argument("examples", nargs=-1, metavar="[EXAMPLE]...")
@policy_option
@policies_dir_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: one block per example; json: the structure documented in docs/case-format.md.")
@timeout_option("Stop after this long, grounding and solving alike; examples not audited then are named (exit 2).")
@user_errors
def audit_examples(examples: tuple[str, ...], policy_ref: str, policies_dir: str | None, fmt: str,
                   timeout: float | None) -> None:
    """Compare each example's recorded assessment with the policy's determination.

    For every EXAMPLE whose file records `assessment:` (the original
    assessment's verdict), decide it under the policy and compare each level,
    item and the outcome. A difference lists the criteria that cause it: where
    the engine grants less, those not met or not documented and the sets whose
    documentation would reach the assessment's verdict; where it grants more,
    those met. An EXAMPLE may be a case file or a folder; with none, every file
    in the repository's examples/. Files without `assessment:` are skipped
    with a note. Exit 1 when any difference is found, 0 when all agree, 2 on
    bad input.

    \b
    Examples:
      necessity audit-examples
      necessity audit-examples examples/source-000.yaml --format json
      necessity audit-examples examples/ --policy policies/reference
      necessity audit-examples --policy policies/draft --timeout 60
    """
    from engine.authoring.audit import Audit, audit_events, example_files, to_json, to_text
    from engine.deciding.limits import Stopped
    from engine.deciding.policy import load
    from engine.presenting.render import dumps

    files = example_files(examples)
    policy = load(policy_ref, policies_dir)
    done, stopped = [], None
    for event in _worker(lambda: audit_events(files, policy), timeout):
        if isinstance(event, Stopped):
            stopped = event
        else:
            done.append(event)
    result = Audit(tuple(done))
    if result.audited:
        click.echo(dumps(to_json(result)) if fmt == "json" else to_text(result), nl=False)
    if stopped is not None:
        left = [str(f) for f in files[len(done):]]
        click.echo(f"{stopped.detail}: not audited: {', '.join(left)}", err=True)
        sys.exit(EXIT_USAGE)
    if result.differences:
        sys.exit(EXIT_FINDINGS)


@main.command(name="check")
@click.argument("policy_ref", metavar="POLICY")
@policies_dir_option
@click.option("--level", "levels", multiple=True, metavar="LEVEL",
              help="A level the searched cases may request (repeatable; default T12-L1, L4-L5, L5-S1, S1-pelvis).")
@timeout_option("Time allowed for the whole check, grounding and solving alike; questions not answered by then "
                "are reported as not proved.", default=300.0)
@click.option("--emit", "emit_dir", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Write the witness cases (totality counterexample, relevance witnesses) here.")
@progress_option
@user_errors
def check_command(policy_ref: str, policies_dir: str | None, levels: tuple[str, ...], timeout: float,
                  emit_dir: str | None, progress: bool | None) -> None:
    """Prove properties of one policy over a bounded case space.

    The space is derived from what the policy reads (docs/diff.md).
    Totality: on every case the policy has exactly one answer, with one
    determination for every requested level and item (a case with no answer,
    or several, is a counterexample).  Dead criteria: criteria no case can
    meet (an exclusion with no met rule is reported as intended).  Irrelevant
    criteria: criteria whose holding never changes a determination.  Each
    finding comes with a witness or a proof; what the search cannot vouch for
    is named and never printed as proved.  Exit 1 on findings; 2 when nothing
    was found but something is not proved (a limit, or a gap named above).

    \b
    Examples:
      necessity check reference
      necessity check policies/cigna-cmm-609 --level L3-L4 --level L4-L5
      necessity check policies/draft --timeout 60 --emit witnesses/
    """
    from engine.analysing.check import CHECK_LEVELS, CheckResult, check_events
    from engine.deciding.errors import UserError
    from engine.analysing.findings import check_text
    from engine.deciding.limits import Stopped
    from engine.presenting.output import prepare_folder
    from engine.deciding.policy import load
    from facts.terms import SPINAL_LEVELS

    for level in levels:
        if level not in SPINAL_LEVELS:
            raise UserError(f"--level {level}: unknown spinal level: use one of {', '.join(SPINAL_LEVELS)}")
    policy = load(policy_ref, policies_dir)
    target = prepare_folder(emit_dir, "--emit", [(policy.folder, "policy")]) if emit_dir else None
    result = CheckResult(policy.id, policy.version, tuple(c.id for c in policy.criteria))
    shown = _Progress(progress)
    total = 1 + len(result.criteria)
    for event in _worker(lambda: check_events(policy, levels=levels or CHECK_LEVELS), timeout):
        if isinstance(event, Stopped):
            result.stopped = event.detail
            break
        result.add(event)
        shown.status(f"{total - len(result.unanswered)}/{total} questions answered")
    shown.end()
    click.echo(check_text(result), nl=False)
    if target is not None:
        cases = list(result.relevant_witness.values())
        if result.totality_witness is not None:
            cases.append(result.totality_witness)
        _emit(target, _case_files([(case, []) for case in cases]))
    if result.problems:
        raise UserError("the engine could not confirm some witnesses (see 'engine problem' above): please report it")
    if result.findings:
        sys.exit(EXIT_FINDINGS)
    if not result.complete:
        click.echo("not everything was proved: see the lines marked ? above", err=True)
        sys.exit(EXIT_USAGE)


database_option = click.option(
    "--database", default=None, metavar="URL",
    help="The decision log: a SQLite file (default: necessity-log.sqlite in the current folder) or a postgresql:// URL.",
)


@main.command()
@policy_option
@policies_dir_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; beyond loopback only with --tokens, and TLS or --insecure-listen.")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@database_option
@click.option("--tokens", "tokens_path", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Bearer tokens, one a line: the token or sha256:HEX, then its scopes (docs/serve.md).")
@click.option("--tls-cert", type=click.Path(dir_okay=False), default=None, metavar="PEM", help="TLS certificate chain.")
@click.option("--tls-key", type=click.Path(dir_okay=False), default=None, metavar="PEM", help="TLS private key.")
@click.option("--insecure-listen", is_flag=True, help="Listen beyond loopback without TLS (a TLS proxy in front).")
@timeout_option("Stop a decision after this long (answered 503 and logged).", default=30.0)
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True, metavar="N",
              help="Decisions at once, each in its own process (0: two per core).")
@user_errors
def serve(policy_ref: str, policies_dir: str | None, host: str, port: int, database: str | None,
          tokens_path: str | None, tls_cert: str | None, tls_key: str | None, insecure_listen: bool,
          timeout: float, workers: int) -> None:
    """Answer Da Vinci PAS prior-authorization requests over HTTP (docs/serve.md).

    POST /Claim/$submit answers a PAS request Bundle exactly as `explain
    --format fhir` does; POST /Claim/$inquire finds the current answer;
    GET /metadata, /ClaimResponse/{id}, /Questionnaire/{policy}.  Every request
    and its answer is committed to the decision log before the answer is sent.

    \b
    Examples:
      necessity serve --policy reference
      necessity serve --database postgresql://necessity@db/necessity --tokens tokens.txt \\
          --host 0.0.0.0 --tls-cert cert.pem --tls-key key.pem
    """
    from exchange.serve.app import Settings
    from exchange.serve.run import serve as run_server

    run_server(Settings(policy_ref=policy_ref, policies_dir=policies_dir, database=database, tokens=tokens_path,
                        host=host, port=port, timeout=timeout, workers=workers, tls_cert=tls_cert, tls_key=tls_key,
                        insecure_listen=insecure_listen))


@main.group(name="log")
def log_group() -> None:
    """Read the decision log of `necessity serve`.

    \b
    Examples:
      necessity log show 8d9f13c7a66042fc9178b715e6f881e4
      necessity log export --since 2026-12-01 > library.jsonl
      necessity diff reference@HEAD~1 reference --cases library.jsonl
    """


@log_group.command(name="show")
@click.argument("record_id", metavar="ID")
@database_option
@user_errors
def log_show(record_id: str, database: str | None) -> None:
    """Print one record of the log as JSON: who asked, when, under which policy, the request and the answer."""
    from exchange.serve.library import show

    click.echo(show(record_id, database), nl=False)


@log_group.command(name="export")
@database_option
@click.option("--since", default=None, metavar="DATE", help="Only requests received on or after this date or time (UTC).")
@user_errors
def log_export(database: str | None, since: str | None) -> None:
    """Write the answered submissions as a case library (JSON Lines, one case record a line) on standard output.

    `necessity batch` and `necessity diff A B --cases` read it; each case's id is its record's id.
    """
    from exchange.serve.library import export

    count = export(database, since, sys.stdout)
    click.echo(f"{count} case{'s' if count != 1 else ''} exported", err=True)


def _emit(folder: Path, files: dict[str, str], printed: bool = False) -> None:
    """Write each witness case file (name: text) whole into ``folder``.

    When that fails the witnesses are not lost: each case file is printed
    (unless ``printed``, when the output already holds them) and the exit is 2.
    """
    import re

    from engine.presenting import output
    from engine.deciding.errors import UserError

    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            # a case id comes from policy ids, which a header may spell with a '/': never a path
            safe = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".") or "witness"
            output.write_whole(folder / f"{safe}.yaml", text)
    except (OSError, UserError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        if not printed:
            click.echo(f"# witness cases not written to {folder}: each YAML document below is one case file")
            for text in files.values():
                click.echo("---")
                click.echo(text, nl=False)
        raise UserError(f"--emit {folder}: cannot write ({reason}): the witnesses are printed above; "
                        "give a folder that can be written") from None


def run() -> None:  # pragma: no cover - console entry for `python -m engine.cli`
    main(prog_name=os.environ.get("NECESSITY_PROG", "necessity"))


if __name__ == "__main__":  # pragma: no cover
    run()
