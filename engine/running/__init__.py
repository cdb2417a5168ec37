"""Running cases: one case explained, a case library decided into records (``necessity explain``, ``batch``).

In: case files, JSON Lines, and (handed in by the command line, see
``bundles``) a reader and writer of PAS Bundles.  Out: records in input
order, a summary, a report.  Imports the wings below it and facts/, never
exchange/.  Start reading at ``command.py``, then ``batch.run``.
"""

from __future__ import annotations

from engine.exports import lazy

_PUBLIC = {
    "Summary": "engine.running.batch",
    "run": "engine.running.batch",
    "Bundles": "engine.running.bundles",
}
__all__ = sorted(_PUBLIC)

__getattr__ = lazy(__name__, _PUBLIC)
