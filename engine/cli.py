"""The ``necessity`` command line.

Library errors become user errors only here: each is printed with where it
happened and how to fix it, and the exit status is 2.  Heavy modules (clingo,
pydantic models) are imported inside the commands so that ``--help`` and cold
starts stay fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
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
        from engine.errors import UserError
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
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True,
              help="text: a tree for a terminal; json: the documented contract; markdown: a determination letter.")
@click.option("--level", default=None, metavar="LEVEL", help="Show only this level (and items at it), e.g. L4-L5.")
@user_errors
def explain(case_file: str, policy_ref: str, policies_dir: str | None, fmt: str, level: str | None) -> None:
    """Decide CASE under a policy and explain every determination.

    For every requested level: fusion, decompression_only or none; for every
    requested item: medically_necessary, not_medically_necessary or
    not_addressed; with the criteria met, those not met or not documented, and
    the smallest sets of criteria whose documentation would change the answer.

    \b
    Examples:
      necessity explain examples/source-003.yaml
      necessity explain examples/source-002.yaml --format json
      necessity explain examples/source-000.yaml --level L4-L5 --format markdown
    """
    from engine.errors import UserError
    from engine.policy import load
    from engine.render import RENDERERS
    from engine.solver import decide
    from facts import load_case
    from facts.terms import SPINAL_LEVELS

    case = load_case(case_file)
    if level is not None:
        canon = next((lv for lv in SPINAL_LEVELS if lv.lower() == level.strip().lower()), None)
        if canon is None:
            raise UserError(f"--level {level}: unknown spinal level: use one of {', '.join(SPINAL_LEVELS)}")
        if canon not in {lv.level for lv in case.request.levels}:
            requested = ", ".join(lv.level for lv in case.request.levels)
            raise UserError(f"--level {level}: {case_file} does not request {canon} (it requests {requested})")
        level = canon
    policy = load(policy_ref, policies_dir)
    decision = decide(policy, case)
    click.echo(RENDERERS[fmt](decision, level), nl=False)


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
    from engine.render import dumps
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


def run() -> None:  # pragma: no cover - console entry for `python -m engine.cli`
    main(prog_name=os.environ.get("NECESSITY_PROG", "necessity"))


if __name__ == "__main__":  # pragma: no cover
    run()
