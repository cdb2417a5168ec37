"""The determination letter (``--format markdown``): one a provider's office can act on.

Issue 11, defect 7: the letter listed a not-documented criterion under
"Criteria not met", showed "Level: case", printed `rhbmp2` raw and said
"REF-A5 would give medically necessary".
"""

from __future__ import annotations

import re
from pathlib import Path

from casebuilder import baseline, decide, merge
from engine.presenting.letter import md, to_markdown
from engine.deciding.policy import load
from engine.deciding.solver import Engine
from facts import load_case

ROOT = Path(__file__).resolve().parents[2]


def letter(name: str, policy: str = "reference") -> str:
    return to_markdown(Engine(load(policy)).decide(load_case(ROOT / "examples" / f"{name}.yaml")))


def test_not_met_and_not_documented_are_kept_apart():
    text = letter("source-003")
    not_met = text.split("*Not met on a documented finding:*")[1].split("*", 1)[0] if "*Not met" in text else ""
    silent = text.split("*Not documented (the record is silent):*")[1].split("\n\n*", 1)[0]
    assert "REF-D4a" in silent and "REF-D4a" not in not_met
    # REF-D4a is of raw rules: what it needs, never a claim about the record (issue 20, point 5)
    assert "needs duration of formal, supervised, in-person physical therapy" in silent


def test_documentation_to_submit_comes_before_contradicted_findings_and_says_what_to_send():
    text = letter("source-003")
    docs = text.index("## Documentation to submit")
    contradicted = text.index("## Findings the record contradicts")
    assert docs < contradicted
    assert ("| REF-D4a (Supervised in-person physical therapy for at least 6 weeks) "
            "| duration of formal, supervised, in-person physical therapy |") in text
    assert ("- L5-S1, fusion: REF-D4a (Supervised in-person physical therapy for at least 6 weeks) and any one of "
            "REF-F1 (Spondylolisthesis at the level), REF-F2 (") in text
    assert ("- L5-S1, fusion: would need REF-D4a (Supervised in-person physical therapy for at least 6 weeks), "
            "not documented now and REF-F4 (Revision: prior decompression and recurrent stenosis at the level, "
            "revision decompression requested), not met now") in text[contradicted:]


def test_plain_words_for_services_and_no_engine_names():
    text = letter("source-002")
    assert "Level: case" not in text and "| case |" not in text
    assert "rhbmp2" not in text and "bone_marrow_aspirate" not in text
    assert "would give medically necessary" not in text
    assert "| bone marrow aspirate | bone marrow aspirate | not approved | refer to a physician reviewer |" in text
    assert "| item |" not in text
    assert re.search(r"\| L5-S1 \| [a-z ]+ \| approved as requested \|", text)


def test_a_decompression_only_level_says_what_is_approved():
    text = letter("source-000")
    assert "| L3-L4 | decompression and fusion | decompression approved; fusion not approved " in text


def test_every_criterion_is_cited():
    decision = Engine(load("reference")).decide(load_case(ROOT / "examples" / "source-003.yaml"))
    text = to_markdown(decision)
    citations = text.split("## Citations")[1]
    for s in (*decision.levels, *decision.items):
        for c in s.criteria:
            assert f"- {c.id} ({c.title}): " in citations


def test_terminal_escapes_and_bidi_overrides_from_a_case_are_inert():
    # a bidi override is text a case may hold; the letter writes it as a visible escape
    data = merge(baseline(), {"case": "evil\u202etxt"})
    text = to_markdown(decide(data))
    assert "\u202e" not in text and "evil\\\\u202etxt" in text
    # no case can hold a terminal escape (the model refuses it); the letter escapes one anyway
    assert md("red\x1b[31m") == "red\\\\x1b\\[31m"
