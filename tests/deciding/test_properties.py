"""Properties the reference policy must keep on any valid case.

* every requested level gets exactly one determination, every requested item
  exactly one item determination, and the request one outcome;
* more documented evidence never lowers a level's determination (more weeks
  of supervised PT, a spondylolisthesis documented at a level, a larger
  translation on flexion-extension films);
* the same case gives the same bytes, in one process and across processes
  with different hash seeds.

The case records come from tests/strategies.py.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

import strategies as cases_st
from casebuilder import baseline, case_from, decide
from casebuilder import engine as reference_engine
from thorough import THOROUGH
from engine.deciding.decision import DETERMINATIONS, ITEM_DETERMINATIONS, OUTCOMES, Decision
from engine.deciding.policy import load
from engine.presenting.render import dumps, to_json
from engine.deciding.solver import Engine, _Grounded
from facts import anatomy, case_atoms, load_case

ROOT = Path(__file__).resolve().parents[2]
NECESSITY = ROOT / ".venv" / "bin" / "necessity"

# Each decide takes 10-40 ms: keep the example counts modest.
PROPERTY = settings(max_examples=120 if THOROUGH else 20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
COVERAGE = settings(max_examples=600, deadline=None, database=None, derandomize=True, phases=[Phase.generate],
                    suppress_health_check=[HealthCheck.too_slow])

RANK = {d: i for i, d in enumerate(DETERMINATIONS)}


def _requested_items(data: dict[str, Any]) -> list[tuple[str, str | None]]:
    items = [(i["item"], i.get("level")) for i in data["request"].get("items", [])]
    if data["request"].get("setting") == "inpatient":
        items.append(("inpatient_setting", None))  # the engine's core rules add the stay as an item
    return items


def _criteria_at(decision: Decision, level: str) -> str:
    lv = decision.level(level)
    return ", ".join(f"{c.id}@{c.scope}={c.status}" for c in lv.criteria) or "(none reported)"


# --------------------------------------------------------------------------
# One determination per requested level and item
# --------------------------------------------------------------------------


@PROPERTY
@given(cases_st.cases())
def test_every_requested_level_and_item_gets_exactly_one_determination(data):
    # The solver's own model, before Python folds its atoms into dicts (where
    # a second determination for a level would silently replace the first).
    case = case_from(data)
    models = _Grounded.case(reference_engine().policy, anatomy() + list(case_atoms(case))).solve()
    assert len(models) == 1, f"{len(models)} answer sets for one case\ncase: {json.dumps(data)}"
    shown = models[0]
    per_level = Counter(s.arguments[0].string for s in shown if s.name == "determination")
    per_item = Counter(
        (s.arguments[0].name, None if s.arguments[1].type.name == "Function" else s.arguments[1].string)
        for s in shown if s.name == "item_determination"
    )
    outcomes = [s.arguments[0].name for s in shown if s.name == "outcome"]
    requested = [lv["level"] for lv in data["request"]["levels"]]
    items = _requested_items(data)
    assert per_level == Counter(requested), f"determination atoms per level {dict(per_level)}\ncase: {json.dumps(data)}"
    assert per_item == Counter(items), f"item_determination atoms {dict(per_item)}, requested {items}\ncase: {json.dumps(data)}"
    assert len(outcomes) == 1 and outcomes[0] in OUTCOMES, f"outcome atoms {outcomes}\ncase: {json.dumps(data)}"

    # And the decision the renderers read says the same.
    decision = decide(data, would_change=False)
    assert sorted(lv.level for lv in decision.levels) == sorted(requested)
    assert all(lv.determination in DETERMINATIONS for lv in decision.levels)
    assert sorted((it.item, it.level or "") for it in decision.items) == sorted((i, w or "") for i, w in items)
    assert all(it.determination in ITEM_DETERMINATIONS for it in decision.items)
    assert decision.outcome == outcomes[0]
    rendered = to_json(decision)
    assert [lv["level"] for lv in rendered["levels"]] == [lv.level for lv in decision.levels]


# --------------------------------------------------------------------------
# Monotonicity: more documented evidence never lowers a determination
# --------------------------------------------------------------------------


def _determinations(data: dict[str, Any]) -> dict[str, str]:
    decision = decide(data, explain=False, would_change=False)
    return {lv.level: lv.determination for lv in decision.levels}


def _assert_never_lower(lo: dict[str, Any], hi: dict[str, Any], added: str) -> None:
    before, after = _determinations(lo), _determinations(hi)
    lowered = [lv for lv in before if RANK[after[lv]] < RANK[before[lv]]]
    if lowered:
        lo_decision, hi_decision = decide(lo), decide(hi)
        lines = [f"{added} lowered a determination"]
        for lv in lowered:
            lines.append(f"  {lv}: expected at least {before[lv]}, got {after[lv]}")
            lines.append(f"    before: {_criteria_at(lo_decision, lv)}")
            lines.append(f"    after:  {_criteria_at(hi_decision, lv)}")
        lines.append(f"case before: {json.dumps(lo)}")
        lines.append(f"case after:  {json.dumps(hi)}")
        raise AssertionError("\n".join(lines))


@PROPERTY
@given(cases_st.more_supervised_pt_weeks())
def test_more_supervised_pt_weeks_never_lower_a_determination(pair):
    lo, hi = pair
    _assert_never_lower(lo, hi, "documenting more weeks of supervised in-person PT")


@PROPERTY
@given(cases_st.with_spondylolisthesis())
def test_documented_spondylolisthesis_never_lowers_a_determination(triple):
    lo, hi, level = triple
    _assert_never_lower(lo, hi, f"documenting spondylolisthesis (present) at {level}")


@PROPERTY
@given(cases_st.larger_translation())
def test_larger_flexion_extension_translation_never_lowers_a_determination(triple):
    lo, hi, level = triple
    _assert_never_lower(lo, hi, f"a larger translation on flexion-extension films at {level}")


# The properties above would hold vacuously if the generated records never
# reached the determinations they compare, or if the evidence the pairs add
# were evidence the policy never reads; these show neither is so.


def test_generated_cases_reach_every_determination():
    for determination in DETERMINATIONS:
        data = find(cases_st.cases(), lambda d: determination in _determinations(d).values(), settings=COVERAGE)
        assert determination in _determinations(data).values()


def _short_of_fusion(pt_weeks: float) -> dict[str, Any]:
    """The baseline (moderate stenosis at L4-L5, decompression and fusion
    requested, nothing that justifies fusion) with ``pt_weeks`` of PT."""
    data = baseline()
    data["conservative_care"]["episodes"][0] = {
        "modality": "physical_therapy", "delivery": "supervised_in_person", "weeks": pt_weeks,
        "end": "2025-08-01", "outcome": "failed",
    }
    return data


@pytest.mark.parametrize("pairs,base,expected", [
    (cases_st.more_supervised_pt_weeks, _short_of_fusion(2.0), ("none", "decompression_only")),
    (cases_st.with_spondylolisthesis, _short_of_fusion(8.0), ("decompression_only", "fusion")),
    (cases_st.larger_translation, _short_of_fusion(8.0), ("decompression_only", "fusion")),
], ids=["pt-weeks", "spondylolisthesis", "translation"])
def test_added_evidence_is_evidence_the_policy_reads(pairs, base, expected):
    assert _determinations(base)["L4-L5"] == expected[0]

    def raises(pair) -> bool:
        return _determinations(pair[0])["L4-L5"] == expected[0] and _determinations(pair[1])["L4-L5"] == expected[1]

    pair = find(pairs(st.just(base)), raises, settings=COVERAGE)
    assert raises(pair)


# --------------------------------------------------------------------------
# Determinism
# --------------------------------------------------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases_st.cases())
def test_same_case_same_json_bytes(data):
    first = dumps(to_json(decide(data)))
    second = dumps(to_json(decide(data)))
    fresh = dumps(to_json(Engine(load("reference")).decide(case_from(data))))
    assert first == second, f"two decides differ\ncase: {json.dumps(data)}"
    assert first == fresh, f"a fresh engine differs from a reused one\ncase: {json.dumps(data)}"


def _explain_json(example: Path, seed: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    return subprocess.run(
        [str(NECESSITY), "explain", str(example), "--format", "json"],
        capture_output=True, env=env, cwd=ROOT, timeout=60, check=False,
    )


def test_cli_json_is_identical_across_hash_seeds():
    # source-000 has the most levels and items, so the most sets and dicts to iterate
    example = ROOT / "examples" / "source-000.yaml"
    runs = [_explain_json(example, seed) for seed in ("0", "1", "4242")]
    for run in runs:
        assert run.returncode == 0, run.stderr.decode()
    assert runs[0].stdout == runs[1].stdout == runs[2].stdout
    in_process = dumps(to_json(reference_engine().decide(load_case(example)))).encode("utf-8")
    assert runs[0].stdout == in_process
    assert json.loads(runs[0].stdout)["case"] == "source-000"

