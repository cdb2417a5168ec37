"""Analysing policies: what a policy reads, the bounded case space, check, diff and the impact of an edit on
a case library.

In: one or two loaded policies (and a case library for ``diff --cases``).
Out: results with witnesses and what was not proved; ``findings`` words them.
Imports engine.deciding, engine.presenting, engine.authoring and facts/.
``command`` holds what ``necessity diff`` and ``check`` run.  Start reading at
``command.py``, then ``diff.diff_events`` and ``check.check_events``.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_PUBLIC = {
    "case_reads": "engine.analysing.reads",
    "DiffResult": "engine.analysing.diff",
    "diff_events": "engine.analysing.diff",
    "policy_at_revision": "engine.analysing.diff",
    "CHECK_LEVELS": "engine.analysing.check",
    "CheckResult": "engine.analysing.check",
    "check_events": "engine.analysing.check",
    "Impact": "engine.analysing.impact",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:  # the names above, imported on first use: a cold start stays fast
    if name in _PUBLIC:
        return getattr(import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
