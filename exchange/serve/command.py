"""``necessity serve`` and ``necessity log show|export``: the work of each command, printed through its ``Console``."""

from __future__ import annotations

from typing import Any

from exchange.serve.app import Settings


def serve(console: Any, settings: Settings) -> int:
    """Run the server until it is stopped (exchange/serve/run.py); 0 when it stopped cleanly."""
    from exchange.serve.run import serve as run

    run(settings)
    return 0


def show(console: Any, record_id: str, database: str | None) -> int:
    """One record of the decision log, as JSON, on standard output."""
    from exchange.serve.library import show as record

    console.out(record(record_id, database))
    return 0


def export(console: Any, database: str | None, since: str | None) -> int:
    """The answered submissions as a case library (JSON Lines) on standard output; the count on standard error.
    1 when some records were left out (each said on standard error)."""
    import sys

    from exchange.serve.library import export as library

    count, left_out = library(database, since, sys.stdout)
    for why in left_out:
        console.err(f"warning: left out: {why}")
    console.err(f"{count} case{'s' if count != 1 else ''} exported"
                + (f"; {len(left_out)} record{'s' if len(left_out) != 1 else ''} left out" if left_out else ""))
    return 1 if left_out else 0
