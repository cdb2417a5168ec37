"""Authoring a policy: lint, golden cases and their coverage, the audit of the examples.

In: a policy folder, its goldens (policies/<id>/tests/), the examples.  Out:
findings, test runs, audits.  Imports engine.deciding, engine.presenting and
facts/.  ``command`` holds what ``necessity lint``, ``test`` and
``audit-examples`` run.  Start reading at ``command.py``.
"""

from __future__ import annotations

from engine.exports import lazy

_PUBLIC = {
    "Finding": "engine.authoring.lint",
    "refuse_ungroundable": "engine.authoring.lint",
    "refuse_ungroundable_within": "engine.authoring.lint",
    "Golden": "engine.authoring.golden",
    "discover": "engine.authoring.golden",
    "load_golden": "engine.authoring.golden",
    "PolicyRun": "engine.authoring.testrun",
    "run_policy": "engine.authoring.testrun",
    "Audit": "engine.authoring.audit",
    "audit_events": "engine.authoring.audit",
}
__all__ = sorted(_PUBLIC)

__getattr__ = lazy(__name__, _PUBLIC)
