"""Analysing policies: what a policy reads, the bounded case space, check, diff and the impact of an edit on
a case library.

In: one or two loaded policies (and a case library for ``diff --cases``).
Out: results with witnesses and what was not proved; ``findings`` words them.
Imports engine.deciding, engine.presenting, engine.authoring and facts/.
``command`` holds what ``necessity diff`` and ``check`` run.  Start reading at
``command.py``, then ``diff.diff_events`` and ``check.check_events``.
"""

from __future__ import annotations

from engine.exports import lazy

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

__getattr__ = lazy(__name__, _PUBLIC)
