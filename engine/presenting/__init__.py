"""Presenting a decision: text for a terminal, JSON (docs/json.md), a letter, a page, a batch report; and
where a command's words and files go.

In: a ``Decision`` (or a batch's briefs).  Out: text, written to the
``Console`` or to a file whole or not at all (``output``).  Imports only
engine.deciding and facts/.  Start reading at ``render.py``.
"""

from __future__ import annotations

from engine.exports import lazy

_PUBLIC = {
    "RENDERERS": "engine.presenting.render",
    "dumps": "engine.presenting.render",
    "to_json": "engine.presenting.render",
    "to_text": "engine.presenting.terminal",
    "Console": "engine.presenting.console",
    "Replacement": "engine.presenting.output",
    "prepare_folder": "engine.presenting.output",
    "refuse_inputs": "engine.presenting.output",
    "write_whole": "engine.presenting.output",
}
__all__ = sorted(_PUBLIC)

__getattr__ = lazy(__name__, _PUBLIC)
