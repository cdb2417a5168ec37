"""The ``necessity`` command line: each command parses its options, calls one function of a wing, and
exits with the status that function returns.

The work is in the wings (docs/engine.md): ``engine/running/command.py``
(explain, batch), ``engine/authoring/command.py`` (lint, test, audit-examples),
``engine/analysing/command.py`` (diff, check), ``engine/presenting/command.py``
(vocab) and ``exchange/command.py`` (fhir, its commands in ``engine/cli/fhir.py``).  They print through the ``Console``
given them.  Library errors become user errors only here
(``engine/cli/options.py::user_errors``): each is printed with where it
happened and how to fix it, and the exit status is 2.  Heavy modules (clingo,
pydantic models) are imported inside the commands so that ``--help`` and cold
starts stay fast.
"""

from __future__ import annotations

import os

import click

from engine.cli.fhir import fhir_group
from engine.cli.options import (console, level_option, policies_dir_option, policy_option, progress_option,
                                timeout_option, user_errors)


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
            verbose: bool, timeout: float | None) -> int:
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
    from engine.running.command import explain as run
    from exchange import PAS

    return run(console(), case_file, policy_ref=policy_ref, policies_dir=policies_dir, fmt=fmt, level=level,
               verbose=verbose, timeout=timeout, bundles=PAS)


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
          would_change: bool, timeout: float | None, fmt: str, report_path: str | None) -> int:
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
    from engine.running.command import batch as run
    from exchange import PAS

    return run(console(), input_path, policy_ref=policy_ref, policies_dir=policies_dir, out_path=out_path, jobs=jobs,
               would_change=would_change, timeout=timeout, fmt=fmt, report_path=report_path, bundles=PAS)


@main.command()
@click.argument("policies", nargs=-1, metavar="[POLICY]...")
@policies_dir_option
@user_errors
def lint(policies: tuple[str, ...], policies_dir: str | None) -> int:
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
    from engine.authoring.command import lint as run

    return run(console(), policies, policies_dir)


@main.command(name="test")
@click.argument("policies", nargs=-1, metavar="[POLICY]...")
@policies_dir_option
@click.option("--coverage", is_flag=True, help="List, per criterion, whether the goldens made it met and not met.")
@click.option("--min-coverage", type=click.FloatRange(0, 100), default=None, metavar="PCT",
              help="Fail (exit 1) when criterion coverage is below PCT percent.")
@timeout_option("Stop after this long in all, grounding and solving alike; goldens not run then are reported (exit 2).")
@user_errors
def test_command(policies: tuple[str, ...], policies_dir: str | None, coverage: bool, min_coverage: float | None,
                 timeout: float | None) -> int:
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
    from engine.authoring.command import test

    return test(console(), policies, policies_dir, coverage=coverage, min_coverage=min_coverage, timeout=timeout)


@main.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--fields", is_flag=True, help="List the case file's fields and the predicates each becomes.")
@user_errors
def vocab(fmt: str, fields: bool) -> int:
    """Print every predicate a case file becomes, with its arguments and meaning.

    Generated from the case model's declarations, so it always matches what the
    engine emits.

    \b
    Examples:
      necessity vocab
      necessity vocab --fields
      necessity vocab --format json
    """
    from engine.presenting.command import vocab as run

    return run(console(), fmt=fmt, fields=fields)


@main.command(name="diff")
@click.argument("policy_a", metavar="POLICY_A")
@click.argument("policy_b", metavar="POLICY_B")
@policies_dir_option
@click.option("--max", "max_witnesses", type=click.IntRange(1, 500), default=20, show_default=True,
              help="Stop after this many witnesses.")
@level_option("L4-L5")
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
                 timeout: float | None, progress: bool | None, fmt: str) -> int:
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
    from engine.analysing.command import diff

    return diff(console(progress), policy_a, policy_b, policies_dir=policies_dir, max_witnesses=max_witnesses,
                levels=levels, emit_dir=emit_dir, cases_path=cases_path, jobs=jobs, timeout=timeout, fmt=fmt)


@main.command(name="audit-examples")
@click.argument("examples", nargs=-1, metavar="[EXAMPLE]...")
@policy_option
@policies_dir_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: one block per example; json: the structure documented in docs/case-format.md.")
@timeout_option("Stop after this long, grounding and solving alike; examples not audited then are named (exit 2).")
@user_errors
def audit_examples(examples: tuple[str, ...], policy_ref: str, policies_dir: str | None, fmt: str,
                   timeout: float | None) -> int:
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
    from engine.authoring.command import audit_examples as run

    return run(console(), examples, policy_ref, policies_dir, fmt=fmt, timeout=timeout)


@main.command(name="check")
@click.argument("policy_ref", metavar="POLICY")
@policies_dir_option
@level_option("T12-L1, L4-L5, L5-S1, S1-pelvis")
@timeout_option("Time allowed for the whole check, grounding and solving alike; questions not answered by then "
                "are reported as not proved.", default=300.0)
@click.option("--emit", "emit_dir", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Write the witness cases (totality counterexample, relevance witnesses) here.")
@progress_option
@user_errors
def check_command(policy_ref: str, policies_dir: str | None, levels: tuple[str, ...], timeout: float,
                  emit_dir: str | None, progress: bool | None) -> int:
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
    from engine.analysing.command import check

    return check(console(progress), policy_ref, policies_dir=policies_dir, levels=levels, timeout=timeout,
                 emit_dir=emit_dir)


main.add_command(fhir_group)


def run() -> None:  # pragma: no cover - console entry for `python -m engine.cli`
    main(prog_name=os.environ.get("NECESSITY_PROG", "necessity"))
