"""Where a command's words go: standard output, standard error, progress.

The command line makes one ``Console`` per command and hands it to the wing
function that does the command's work (``engine/<wing>/command.py``); that
function prints through it as it goes and returns the exit status.  So a
command's work can be read, and called, without the command line, and the
order of what it prints (standard output against standard error) is the order
it happens in.
"""

from __future__ import annotations

import sys
from typing import Any

import click

OK = 0
FINDINGS = 1  # something found: a difference, a failure, a changed case
USAGE = 2  # bad input, or nothing proved


class Console:
    """Standard output and error, and a progress display on standard error.

    ``progress``: None shows progress when standard error is a terminal; a
    status line is rewritten in place on a terminal only, and a progress
    ``line`` is printed whole whenever progress is shown.
    """

    def __init__(self, progress: bool | None = None):
        self.tty = sys.stderr.isatty()
        self.progress = self.tty if progress is None else progress
        self._pending = False

    def out(self, text: str, nl: bool = False) -> None:
        click.echo(text, nl=nl)

    def err(self, text: str, nl: bool = True) -> None:
        click.echo(text, err=True, nl=nl)

    def write(self, out_path: str, text: str) -> None:
        """``text`` to standard output (``-``), or to a file written whole or not at all."""
        if out_path == "-":
            self.out(text)
            return
        from engine.presenting.output import Replacement

        sink = Replacement(out_path, "--out")
        with sink as handle:
            handle.write(text)
            sink.commit()

    # progress ---------------------------------------------------------------

    def status(self, text: str) -> None:
        """A status line, rewritten in place (a terminal only)."""
        if self.progress and self.tty:
            click.echo(f"\r\033[K  {text}", err=True, nl=False)
            self._pending = True

    def line(self, text: str) -> None:
        """A line of progress that stays (a witness found)."""
        if self.progress:
            self.end()
            click.echo(f"  {text}", err=True)

    def end(self) -> None:
        """Clear the status line, if one is shown."""
        if self._pending:
            click.echo("\r\033[K", err=True, nl=False)
            self._pending = False

    def bar(self, total: int, label: str) -> Any:
        """A progress bar on standard error: a context whose ``update(n)`` counts ``n`` more done."""
        return click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True)
