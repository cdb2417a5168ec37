"""Running cases: one case explained, a case library decided into records (``necessity explain``, ``batch``).

In: case files, JSON Lines, and (handed in by the command line, see
``bundles``) a reader and writer of PAS Bundles.  Out: records in input
order, a summary, a report.  Imports the wings below it and facts/, never
exchange/.  Start reading at ``command.py``, then ``batch.run``.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_PUBLIC = {
    "Summary": "engine.running.batch",
    "run": "engine.running.batch",
    "Bundles": "engine.running.bundles",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:  # the names above, imported on first use: a cold start stays fast
    if name in _PUBLIC:
        return getattr(import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
