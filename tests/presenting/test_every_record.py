"""Claims held over every decision the project ships (tests/shipped.py): every example under every
policy, and every policy's goldens under it.

* "Blocked by" names what the requested service needs (issue 20, point 3): each criterion in a
  subject's "blocked by" is one a what-if line giving what was asked requires, or one that fails
  because other determinations do (``derived/1``, which no what-if line can name); the levels
  named as "criteria judged at" are those such lines reach.
* No atom reaches a reader (issue 20, point 4): the text, the JSON (its ``fact`` and ``term`` fields
  aside, which are the atoms and formula leaves for machines), the letter and the page hold no
  ``name(`` of a fact.  cigna-cmm-609 cited a care episode's bare fact when it had no length,
  outcome or start, and the reviewer of examples/source-004.yaml read
  ``care_episode(4,physical_therapy)``.
* "Does not document" is said only of what the record does not document (issue 20, point 5): every
  such sentence in the text, the letter and the page is built from a criterion's ``lacking`` (the
  leaves of its formula the record is silent on, never the policy's fixed ``documentation/2``), and
  each leaf of a finding, a measurement, a category or the concordant levels has no atom in the
  record (an imaging question is answered by the policy's own rules: core.lp holds that leaf).
"""

from __future__ import annotations

import html
import re
from functools import lru_cache

import click
import clingo
import pytest

from engine.authoring.golden import golden_case, load_golden
from engine.deciding.blocks import FIGURES, measures
from engine.deciding.decision import DETERMINATIONS, ItemDecision
from engine.presenting.render import render
from engine.presenting.terminal import blocked_elsewhere, blocking, subject_name
from facts import case_atoms, load_case
from shipped import FORMATS, ROOT, atoms_shown, decisions


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


@lru_cache(maxsize=None)
def _record_atoms(record: str) -> frozenset[clingo.Symbol]:
    path = ROOT / record
    case = load_case(path) if record.startswith("examples/") else golden_case(load_golden(path))
    return frozenset(case_atoms(case))


def _documents(atoms, leaf: clingo.Symbol, scope: str) -> str | None:
    """The atom of the record that documents what ``leaf`` reads, if any (None: the record is silent);
    ``"?"`` for a leaf the policy's own rules answer (an imaging question)."""
    names: set[str] = set()
    if leaf.name == "finding":
        return next((str(a) for a in atoms if a.name == "finding" and a.arguments[0] == leaf.arguments[0]), None)
    if leaf.name in FIGURES:
        read = measures()["measured"].get(leaf.arguments[0].name, ()) or measures()["counted"].get(
            leaf.arguments[0].name, ())  # a count of a list: limited_activities counts limited_activity/1
        names = {sig.rpartition("/")[0] for sig, _ in read}
        if leaf.arguments[0].name in ("care_days", "care_span"):  # silent only where no care is recorded
            return next((str(a) for a in atoms if a.name in ("care_episode", "conservative_care_total_days")
                         or str(a) == "documented(care_episodes)"), None)
    elif leaf.name == "is":
        names = {sig.rpartition("/")[0] for sig, _ in measures()["category"].get(leaf.arguments[0].name, ())}
        # an arthropathy only suspected is neither confirmed nor excluded (core.lp's category rules)
        atoms = [a for a in atoms if not (a.name == "inflammatory_arthropathy" and str(a.arguments[1]) == "suspected")]
    elif leaf.name == "concordant":
        return next((str(a) for a in atoms if (a.name == "concordant_level" and a.arguments[0].string == scope)
                     or str(a) == "documented(concordant_levels)"), None)
    else:
        return "?"
    assert names, f"no case predicate behind {leaf}"
    return next((str(a) for a in atoms if a.name in names), None)


def _visible(fmt: str, out: str) -> str:
    if fmt == "html":
        out = html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style)\b.*?</\1>", " ", out, flags=re.S)))
    return re.sub(r"\s+", " ", click.unstyle(out.replace("\\", "")))


def test_does_not_document_is_said_only_of_what_the_record_lacks():
    checked = said = 0
    wrong = []
    for policy, record, d in decisions():
        lacking = [c for s in (*d.levels, *d.items) for c in s.criteria if c.lacking]
        atoms = _record_atoms(record)
        for c in lacking:
            for e in c.lacking:
                found = _documents(atoms, clingo.parse_term(e.atom), c.scope)
                checked += found != "?"
                if found not in (None, "?"):
                    wrong.append(f"{record} under {policy}: {c.id} at {c.scope} lacks {e.atom}, "
                                 f"which the record documents ({found})")
        heads = tuple(dict.fromkeys("; ".join(e.text for e in c.lacking) for c in lacking))
        for fmt in ("text", "markdown", "html"):
            text = _visible(fmt, render(d, fmt))
            for m in re.finditer(r"does not document ", text):
                said += 1
                if not (heads and text.startswith(heads, m.end())):
                    wrong.append(f"{record} under {policy} ({fmt}): ...{text[m.start():m.end() + 80]}... "
                                 "is not built from what the record lacks")
    assert checked > 100 and said > 100, "the shipped decisions lack too little to hold the claim"
    assert not wrong, "\n".join(dict.fromkeys(wrong[:20]))
