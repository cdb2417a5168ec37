""""Blocked by" names only what stands in the way.

The summary line, the letter's reasons and the review page listed every
failing criterion of a level as blocking it.  In examples/source-003.yaml
REF-F1 and REF-F4 are met at L4-L5, so fusion there has its basis and only
the conservative-care documentation (REF-D4a) is missing; the summary still
said "blocked by ? REF-D4a, ? REF-D4c, ? REF-F2, ? REF-F3, ? REF-F5", and a
reviewer would have asked for flexion-extension films that change nothing.
A criterion blocks when a what-if line giving what was asked needs it (a line to
decompression only does not, for a request for fusion alone), or when it fails because
another determination does (``derived/1``: REF-S1 for the inpatient stay);
criteria judged at another level are named by that level.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import click

from engine.deciding.decision import requirements
from engine.presenting.letter import to_markdown
from engine.presenting.page import row
from engine.deciding.policy import load
from engine.deciding.solver import Engine
from engine.presenting.terminal import blocked_elsewhere, blocking, to_text
from facts import load_case

ROOT = Path(__file__).resolve().parents[2]


@lru_cache(maxsize=None)
def decision(name: str, would_change: bool = True):
    return Engine(load("reference")).decide(load_case(ROOT / "examples" / f"{name}.yaml"), would_change=would_change)


def summary_line(text: str, subject: str) -> str:
    return next(line for line in click.unstyle(text).splitlines() if line.strip().startswith(subject))


def test_a_met_alternative_leaves_the_others_out_of_the_way():
    d = decision("source-003")
    l45 = d.level("L4-L5")
    assert {c.id for c in l45.criteria if c.status == "met"} >= {"REF-F1", "REF-F4"}
    assert [c.id for c in blocking(d, l45)] == ["REF-D4a"]
    line = summary_line(to_text(d), "L4-L5")
    assert line.endswith("blocked by ? REF-D4a"), line
    assert [b.id for b in row(d, l45).blockers] == ["REF-D4a"]


def test_every_criterion_a_what_if_line_to_what_was_asked_needs_is_named():
    d = decision("source-003")
    for lv in d.levels:
        named = {(a.criterion, a.scope) for w in requirements(lv) for a in (*w.requires, *w.one_of)}
        own = {(c.id, c.scope) for c in blocking(d, lv)}
        elsewhere = set(blocked_elsewhere(d, lv))
        for cid, scope in named:
            assert (cid, scope) in own or scope in elsewhere, f"{lv.level}: {cid} at {scope} needed but not named"
    assert blocked_elsewhere(d, d.level("S1-pelvis")) == ["L5-S1"]
    assert summary_line(to_text(d), "S1-pelvis").endswith("blocked by ? REF-D4a, ✗ REF-X1, criteria judged at L5-S1")


def test_a_derived_criterion_blocks_though_no_line_can_name_it():
    d = decision("source-000")
    stay = d.item("inpatient_setting")
    assert [c.id for c in blocking(d, stay)] == ["REF-S1"]
    assert blocked_elsewhere(d, stay) == ["L3-L4", "L4-L5", "L5-S1"]
    line = summary_line(to_text(d), "inpatient stay")
    assert line.endswith("blocked by ✗ REF-S1, criteria judged at L3-L4, L4-L5, L5-S1"), line


def test_an_items_own_level_is_not_called_another_level():
    d = decision("source-000")
    device = d.item("interbody_device", "L3-L4")
    line = summary_line(to_text(d), "interbody device at L3-L4")
    assert "at L3-L4," not in line.split("blocked by", 1)[1].replace("criteria judged at L3-L4", ""), line
    assert [c.id for c in blocking(d, device)] == ["REF-A4"]


def test_the_letter_gives_only_blocking_criteria_as_reasons():
    letter = to_markdown(decision("source-003"), "L4-L5")
    reasons = letter.split("What would change", 1)[0]
    assert "REF-D4a" in reasons
    for cid in ("REF-F2", "REF-F3", "REF-F5"):
        assert f"({cid})" not in reasons, f"{cid} given as a reason for L4-L5:\n{reasons}"


def test_without_the_what_if_every_failing_criterion_is_listed_and_the_report_says_so():
    d = decision("source-003", would_change=False)
    assert {c.id for c in blocking(d, d.level("L4-L5"))} == {"REF-D4a", "REF-D4c", "REF-F2", "REF-F3", "REF-F5"}
    assert blocked_elsewhere(d, d.level("S1-pelvis")) == []


def test_a_fusion_only_request_is_blocked_only_by_what_fusion_needs():
    """Issue 20, point 3.  examples/source-001.yaml asks for fusion alone at L5-S1.  Under reference
    decompression there needs REF-D1 (moderate stenosis, refuted by the record) and fusion does not:
    its what-if lines for fusion name REF-D4a, REF-D4b and REF-F5 only.  The summary said "blocked by
    ✗ REF-D4a, ? REF-D4b, ✗ REF-D1, ? REF-F5": a reviewer chased a decompression criterion for a
    service nobody asked for.  The line for decompression only stays among the what-if lines."""
    d = decision("source-001")
    l5s1 = d.level("L5-S1")
    assert l5s1.requested == ("fusion",) and l5s1.determination == "none"
    assert "REF-D1" in {a.criterion for w in l5s1.would_change if w.determination == "decompression_only"
                        for a in (*w.requires, *w.one_of)}
    assert "REF-D1" not in {a.criterion for w in l5s1.would_change if w.determination == "fusion"
                            for a in (*w.requires, *w.one_of)}
    assert [c.id for c in blocking(d, l5s1)] == ["REF-D4a", "REF-D4b", "REF-F5"]
    line = summary_line(to_text(d), "L5-S1")
    assert line.endswith("blocked by ✗ REF-D4a, ? REF-D4b, ? REF-F5"), line
    assert [b.id for b in row(d, l5s1).blockers] == ["REF-D4a", "REF-D4b", "REF-F5"]
    reasons = to_markdown(d, "L5-S1").split("What would change", 1)[0]
    assert "(REF-D1)" not in reasons, reasons
    from engine.presenting.render import to_json

    [level] = to_json(d, "L5-S1")["levels"]
    assert [(b["id"], b["status"]) for b in level["blocked_by"]] == [
        ("REF-D4a", "not_met"), ("REF-D4b", "not_documented"), ("REF-F5", "not_documented")]
