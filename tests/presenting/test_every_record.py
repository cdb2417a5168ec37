"""Claims held over every decision the project ships (tests/shipped.py): every example under every
policy, and every policy's goldens under it.

* "Blocked by" names what the requested service needs (issue 20, point 3): each criterion in a
  subject's "blocked by" is one a what-if line giving what was asked requires, or one that fails
  because other determinations do (``derived/1``, which no what-if line can name); the levels
  named as "criteria judged at" are those such lines reach.
* No atom reaches a reader (issue 20, point 4): the text, the JSON (its ``fact`` fields aside, which
  are the atoms for machines), the letter and the page hold no ``name(`` of a fact.  cigna-cmm-609
  cited a care episode's bare fact when it had no length, outcome or start, and the reviewer of
  examples/source-004.yaml read ``care_episode(4,physical_therapy)``.
"""

from __future__ import annotations

import pytest

from engine.deciding.decision import DETERMINATIONS, ItemDecision
from engine.presenting.terminal import blocked_elsewhere, blocking, subject_name
from shipped import FORMATS, atoms_shown, decisions


def _asked(subject) -> str:
    if isinstance(subject, ItemDecision):
        return "medically_necessary"
    return "fusion" if "fusion" in subject.requested else "decompression_only"


def _needed(subject) -> set[tuple[str, str]]:
    """What the what-if finds the requested service needs: every (criterion, scope) of every
    alternative set reaching the requested determination (or, for a level, a higher one)."""
    wanted = _asked(subject)
    tiers = DETERMINATIONS[DETERMINATIONS.index(wanted):] if wanted in DETERMINATIONS else (wanted,)
    return {(a.criterion, a.scope) for w in subject.would_change if w.determination in tiers
            for alternative in w.alternatives for a in alternative}


def test_blocked_by_names_only_what_the_requested_service_needs():
    checked = 0
    wrong = []
    for policy, record, d in decisions():
        for s in (*d.levels, *d.items):
            needed = _needed(s)
            for c in blocking(d, s):
                checked += 1
                if not c.derived and (c.id, c.scope) not in needed:
                    wrong.append(f"{record} under {policy}: {subject_name(s)} blocked by {c.id} at {c.scope}, "
                                 f"which no what-if line to {_asked(s)} needs")
            for where in blocked_elsewhere(d, s):
                if not any(scope == where for _, scope in needed):
                    wrong.append(f"{record} under {policy}: criteria judged at {where} named, none needed")
    assert checked > 100, "the shipped decisions block on too little to hold the claim"
    assert not wrong, "\n".join(wrong[:20])


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_output_holds_an_atom(fmt):
    shown = [f"{record} under {policy}: ...{text}..." for policy, record, d in decisions()
             for text in atoms_shown(d, fmt)]
    assert not shown, "\n".join(dict.fromkeys(shown))
