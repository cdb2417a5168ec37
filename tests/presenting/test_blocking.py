""""Blocked by" names only what stands in the way.

The summary line, the letter's reasons and the review page listed every
failing criterion of a level as blocking it.  In examples/source-003.yaml
REF-F1 and REF-F4 are met at L4-L5, so fusion there has its basis and only
the conservative-care documentation (REF-D4a) is missing; the summary still
said "blocked by ? REF-D4a, ? REF-D4c, ? REF-F2, ? REF-F3, ? REF-F5", and a
reviewer would have asked for flexion-extension films that change nothing.
A criterion blocks when a what-if line needs it, or when it fails because
another determination does (``derived/1``: REF-S1 for the inpatient stay);
criteria judged at another level are named by that level.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import click

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


def test_every_criterion_a_what_if_line_needs_is_named():
    d = decision("source-003")
    for lv in d.levels:
        named = {(a.criterion, a.scope) for w in lv.would_change for a in (*w.requires, *w.one_of)}
        own = {(c.id, c.scope) for c in blocking(d, lv)}
        elsewhere = set(blocked_elsewhere(d, lv))
        for cid, scope in named:
            assert (cid, scope) in own or scope in elsewhere, f"{lv.level}: {cid} at {scope} needed but not named"
    assert blocked_elsewhere(d, d.level("S1-pelvis")) == ["L5-S1"]
    assert summary_line(to_text(d), "S1-pelvis").endswith("blocked by ? REF-D4a, ✗ REF-X1, criteria at L5-S1")


def test_a_derived_criterion_blocks_though_no_line_can_name_it():
    d = decision("source-000")
    stay = d.item("inpatient_setting")
    assert [c.id for c in blocking(d, stay)] == ["REF-S1"]
    assert blocked_elsewhere(d, stay) == ["L3-L4", "L4-L5", "L5-S1"]
    line = summary_line(to_text(d), "inpatient stay")
    assert line.endswith("blocked by ✗ REF-S1, criteria at L3-L4, L4-L5, L5-S1"), line


def test_an_items_own_level_is_not_called_another_level():
    d = decision("source-000")
    device = d.item("interbody_device", "L3-L4")
    line = summary_line(to_text(d), "interbody device at L3-L4")
    assert "at L3-L4," not in line.split("blocked by", 1)[1].replace("criteria at L3-L4", ""), line
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
