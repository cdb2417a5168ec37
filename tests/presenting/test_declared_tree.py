"""The rule's shape and the what-if's groups read the policy's declared tree (issue 24).

A small policy says what justifies decompression at a level: stenosis at the
level (a level criterion) and at least two of three case-level findings
(``n_of(2, ...)``).  The shape derived from the reported criteria would put
the three findings in the case-level gate, all of them needed, and the
what-if would say "T-RAD and one of T-SENS, T-REFL" beside "T-SENS and
T-REFL".  The declared tree says "at least 2 of", and so must the page, the
text under --verbose, the letter and the JSON.

A fusion tree with an ``any`` nested in an ``all`` (stenosis with
instability, or a pseudarthrosis alone) is drawn as declared, where the derived
shape would put stenosis beside one flat group of fusion criteria.  A level
a raw ``justified/2`` rule decides too keeps the derived shape (the
fallback).
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

from engine.cli import main
from engine.deciding.policy import load
from engine.deciding.solver import Engine
from facts.load import load_case
from markup import parse
from small_policy import header


HEADER = header("declared-tree", "a declared tree the derived shape would misdraw", "tests/presenting/test_declared_tree.py")

BODY = """
criterion("T-STEN", "Stenosis at the level", "test §1").
scope("T-STEN", level).
bears_on("T-STEN", decompression_only).
documentation("T-STEN", "stenosis on imaging").
formula("T-STEN", imaging(stenosis_grade)).
study_answer(at(stenosis_grade, L), St, yes, stenosis(L, Z, S, G, St)) :- stenosis(L, Z, S, G, St), G = severe.
study_answer(at(stenosis_grade, L), St, no, stenosis(L, Z, S, G, St)) :- stenosis(L, Z, S, G, St), G = mild.

criterion("T-RAD", "Radiculopathy", "test §2a").
scope("T-RAD", case).
bears_on("T-RAD", decompression_only).
documentation("T-RAD", "radiculopathy").
formula("T-RAD", finding(radiculopathy)).
criterion("T-SENS", "Sensory deficit", "test §2b").
scope("T-SENS", case).
bears_on("T-SENS", decompression_only).
documentation("T-SENS", "a sensory deficit").
formula("T-SENS", finding(sensory_deficit)).
criterion("T-REFL", "Reflex change", "test §2c").
scope("T-REFL", case).
bears_on("T-REFL", decompression_only).
documentation("T-REFL", "a reflex change").
formula("T-REFL", finding(reflex_change)).

criterion("T-INST", "Spondylolisthesis at the level", "test §3").
scope("T-INST", level).
bears_on("T-INST", fusion).
formula("T-INST", imaging(spondylolisthesis)).
study_answer(at(spondylolisthesis, L), St, A, level_finding(L, spondylolisthesis, A, St)) :-
    level_finding(L, spondylolisthesis, A, St).
criterion("T-DEF", "Pseudarthrosis at the level", "test §4").
scope("T-DEF", level).
bears_on("T-DEF", fusion).
formula("T-DEF", imaging(pseudarthrosis)).
study_answer(at(pseudarthrosis, L), St, A, level_finding(L, pseudarthrosis, A, St)) :-
    level_finding(L, pseudarthrosis, A, St).

justifies(decompression_only, all(criterion("T-STEN"),
    n_of(2, criterion("T-RAD"), criterion("T-SENS"), criterion("T-REFL")))).
justifies(fusion, all(requested(fusion),
    n_of(2, criterion("T-RAD"), criterion("T-SENS"), criterion("T-REFL")),
    any(all(criterion("T-STEN"), criterion("T-INST")), criterion("T-DEF")))).
"""


def _case(tmp_path: Path, fusion: bool) -> Path:
    level = {"level": "L4-L5", "decompression": "laminectomy"}
    if fusion:
        level["fusion"] = "posterolateral"
    record = {
        "case": "declared-tree",
        "request": {"date": "2026-01-10", "levels": [level]},
        "imaging": [{"study": "mri", "date": "2026-01-02",
                     "levels": [{"level": "L4-L5", "stenosis": [{"zone": "central", "grade": "severe"}]}]}],
    }
    path = tmp_path / ("fusion.yaml" if fusion else "decompression.yaml")
    path.write_text(yaml.safe_dump(record), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("declared") / "declared-tree"
    folder.mkdir()
    (folder / "policy.lp").write_text(HEADER + BODY, encoding="utf-8")
    return folder


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def outputs(case: Path, folder: Path) -> dict:
    base = ("explain", str(case), "--policy", str(folder))
    return {
        "text": click.unstyle(run(*base, "--verbose")),
        "markdown": run(*base, "--format", "markdown"),
        "page": parse(run(*base, "--format", "html")),
        "json": json.loads(run(*base, "--format", "json")),
    }


def _shape(page, key: str):
    return page.one("div", where=lambda e: e.get("data-shape-of") == key).one("ul", cls="shape-tree").kids("li")[0]


def test_the_shape_is_the_declared_tree_at_least_two_of(folder, tmp_path):
    out = outputs(_case(tmp_path, fusion=False), folder)
    root = _shape(out["page"], "L4-L5")
    top = root.kids("ul")[0].kids("li")
    # the declared tree: the level's stenosis, then at least 2 of the three findings (no gate needing all three)
    assert [li["data-shape"] for li in top] == ["criterion", "n_of"], [li["data-shape"] for li in top]
    assert top[0]["data-ref"] == "T-STEN" and top[0]["data-status"] == "met"
    two = top[1]
    assert "at least 2 of" in two.one(cls="shape-head").text()
    assert [li["data-ref"] for li in two.kids("ul")[0].kids("li")] == ["T-RAD", "T-SENS", "T-REFL"]
    assert two["data-status"] == "not_documented"
    # the text under --verbose: the same tree
    shape = out["text"].split("the rule's shape, per level and item")[1]
    assert "? at least 2 of" in shape and "the case-level criteria" not in shape
    assert shape.index("✓ T-STEN met") < shape.index("? at least 2 of") < shape.index("? T-RAD not documented")


def test_the_what_if_asks_for_any_two_of_the_declared_group(folder, tmp_path):
    out = outputs(_case(tmp_path, fusion=False), folder)
    (line,) = out["json"]["levels"][0]["would_change"]
    assert line["determination"] == "decompression_only" and line["requires_at"] == []
    assert [r["id"] for r in line["one_of"]] == ["T-RAD", "T-SENS", "T-REFL"] and line["choose"] == 2
    assert "decompression only: any 2 of T-RAD, T-SENS, T-REFL" in out["text"]
    assert "any 2 of T-RAD (Radiculopathy), T-SENS (Sensory deficit), T-REFL (Reflex change)" in out["markdown"]
    page_line = out["page"].one("span", cls="one-of")
    assert page_line["data-choose"] == "2" and page_line.text().startswith("any 2 of")


def test_every_set_a_choose_line_stands_for_reaches_the_determination(folder, tmp_path):
    case = load_case(_case(tmp_path, fusion=False))
    engine = Engine(load(str(folder)))
    (line,) = engine.decide(case).levels[0].would_change
    assert line.choose == 2 and len(line.alternatives) == 3
    for chosen in line.alternatives:
        levels, _ = engine.assuming(case, chosen)
        assert levels["L4-L5"] == "decompression_only", chosen


def test_a_nested_any_is_drawn_as_declared(folder, tmp_path):
    out = outputs(_case(tmp_path, fusion=True), folder)
    root = _shape(out["page"], "L4-L5")
    top = root.kids("ul")[0].kids("li")
    assert [li["data-shape"] for li in top] == ["n_of", "one_of"]
    either = top[1].kids("ul")[0].kids("li")
    assert [li["data-shape"] for li in either] == ["all", "criterion"]
    assert [li["data-ref"] for li in either[0].kids("ul")[0].kids("li")] == ["T-STEN", "T-INST"]
    assert either[1]["data-ref"] == "T-DEF"


def test_the_decision_carries_the_tree_and_batch_reads_it_alike(folder, tmp_path):
    cases = [load_case(_case(tmp_path, fusion=f)) for f in (False, True)]
    engine = Engine(load(str(folder)))
    alone = [engine.decide(c) for c in cases]
    assert alone[0].levels[0].tree is not None and alone[0].levels[0].tree.children[1].kind == "n_of"
    assert engine.decide_many(cases, would_change=True) == alone


def test_a_level_a_raw_rule_decides_too_keeps_the_derived_shape(tmp_path):
    """Beside the declared fusion tree, a raw justified/2 rule reads a criterion the tree does not
    name: the tree alone does not decide the level, so its shape is derived (the fallback)."""
    folder = tmp_path / "raw-beside"
    folder.mkdir()
    raw = """
criterion("T-X", "A raw path to fusion", "test §6").
scope("T-X", level).
bears_on("T-X", fusion).
formula("T-X", imaging(disc_herniation)).
study_answer(at(disc_herniation, L), St, A, level_finding(L, disc_herniation, A, St)) :-
    level_finding(L, disc_herniation, A, St).
justified(L, fusion) :- requested(L, fusion), holds("T-X", L).
"""
    (folder / "policy.lp").write_text(HEADER.replace("declared-tree", "raw-beside") + BODY + raw, encoding="utf-8")
    case = _case(tmp_path, fusion=True)
    decision = Engine(load(str(folder))).decide(load_case(case), would_change=False)
    assert decision.levels[0].tree is None
    decompression = Engine(load(str(folder))).decide(load_case(_case(tmp_path, fusion=False)), would_change=False)
    assert decompression.levels[0].tree is not None  # no raw rule for decompression only: its tree stands
    shape = outputs(case, folder)["text"].split("the rule's shape, per level and item")[1]
    assert "T-X not documented" in shape and "at least 2 of" not in shape and "fusion: one of" in shape


def test_a_criterion_made_of_criteria_is_drawn_by_its_own_formula(tmp_path):
    """``formula(C, n_of(2, criterion(..), ...))``: beneath C, the tree its formula declares."""
    folder = tmp_path / "made-of"
    folder.mkdir()
    body = BODY.split("justifies(")[0] + """
criterion("T-SIGNS", "Two neural signs", "test §5").
scope("T-SIGNS", case).
bears_on("T-SIGNS", decompression_only).
formula("T-SIGNS", n_of(2, criterion("T-RAD"), criterion("T-SENS"), criterion("T-REFL"))).
justifies(decompression_only, all(criterion("T-SIGNS"), criterion("T-STEN"))).
"""
    (folder / "policy.lp").write_text(HEADER.replace("declared-tree", "made-of") + body, encoding="utf-8")
    out = outputs(_case(tmp_path, fusion=False), folder)
    top = _shape(out["page"], "L4-L5").kids("ul")[0].kids("li")
    assert [li["data-shape"] for li in top] == ["gate", "criterion"] and top[1]["data-ref"] == "T-STEN"
    (signs,) = top[0].kids("ul")[0].kids("li")
    assert signs["data-ref"] == "T-SIGNS"
    (two,) = signs.kids("ul")[0].kids("li")
    assert two["data-shape"] == "n_of"
    assert [li["data-ref"] for li in two.kids("ul")[0].kids("li")] == ["T-RAD", "T-SENS", "T-REFL"]


def test_a_condition_of_findings_in_the_tree_is_drawn_in_words_with_its_value(tmp_path):
    """``any(criterion(C), lacks(finding(x)))``: C, or the record does not establish x; the condition is
    drawn with the value the core gives it (tree_condition/3), and the tree still decides the level."""
    folder = tmp_path / "condition"
    folder.mkdir()
    body = BODY.split("justifies(")[0] + """
justifies(decompression_only, all(criterion("T-STEN"),
    any(criterion("T-RAD"), lacks(any(finding(sensory_deficit), imaging(spondylolisthesis)))))).
"""
    (folder / "policy.lp").write_text(HEADER.replace("declared-tree", "condition") + body, encoding="utf-8")
    case = _case(tmp_path, fusion=False)
    engine = Engine(load(str(folder)))
    decision = engine.decide(load_case(case))
    level = decision.levels[0]
    assert level.determination == "decompression_only" and level.tree is not None
    assert engine.decide_many([load_case(case)], would_change=True) == [decision]  # the batch reads it alike
    out = outputs(case, folder)
    top = _shape(out["page"], "L4-L5").kids("ul")[0].kids("li")
    either = top[1].kids("ul")[0].kids("li")
    assert [li["data-shape"] for li in either] == ["criterion", "condition"]
    assert either[1]["data-status"] == "met"
    words = "the record does not establish sensory deficit or spondylolisthesis on imaging"
    assert words in either[1].text()
    assert f"✓ condition met: {words}" in out["text"]
