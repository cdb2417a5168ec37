"""What the commands share: their common options, and known errors turned into a message and exit 2."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import click

EXIT_USAGE = 2


def _fail(message: str) -> None:
    click.echo(message.rstrip(), err=True)
    sys.exit(EXIT_USAGE)


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn known errors into a message and exit 2, never a traceback; a nonzero status the command
    returns becomes the exit status."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from engine.deciding.errors import UserError
        from engine.deciding.limits import ChildError
        from facts.load import CaseFileError

        try:
            status = fn(*args, **kwargs)
        except CaseFileError as exc:
            _fail(f"error: {exc.render()}")
        except UserError as exc:
            _fail(f"error: {exc}")
        except ChildError as exc:  # the work failed in its child: the child wrote the message
            _fail(str(exc))
        except BrokenPipeError:
            sys.stderr.close()
            sys.exit(0)
        if status:
            sys.exit(status)

    return wrapper


policy_option = click.option(
    "--policy", "policy_ref", default="reference", show_default=True, metavar="ID|DIR",
    help="Policy id from the policies folder, or a policy folder.",
)
policies_dir_option = click.option(
    "--policies-dir", type=click.Path(file_okay=False), default=None, metavar="DIR",
    help="Folder of policies to look ids up in (default: the repository's policies/, or $NECESSITY_POLICIES).",
)
out_option = click.option("--out", "out_path", default="-", show_default=True, metavar="FILE",
                          help="Where to write it (- for standard output).")


def timeout_option(help_text: str, default: float | None = None) -> Callable[..., Any]:
    return click.option("--timeout", type=click.FloatRange(min=0.1), default=default, show_default=default is not None,
                        metavar="SECONDS", help=help_text)


progress_option = click.option(
    "--progress/--no-progress", default=None,
    help="Report progress on stderr (default: when stderr is a terminal).",
)


def level_option(default_help: str) -> Callable[..., Any]:
    return click.option("--level", "levels", multiple=True, metavar="LEVEL",
                        help=f"A level the searched cases may request (repeatable; default {default_help}).")


def console(progress: bool | None = None) -> Any:
    """The ``Console`` a command's work prints through (engine/presenting/console.py)."""
    from engine.presenting.console import Console

    return Console(progress)
