"""What would change a decision: only what really would, documentation to obtain
kept apart from findings the record contradicts (reference.md 1.1, Documentation).

Issue 11, defect 1: `explain source-000` offered REF-F1 (the MRI documents no
spondylolisthesis) and REF-F4 (no prior surgery) as if documentation could
meet them; a met REF-D4a was offered again when REF-D4c failed; source-003
listed five near-identical lines where one says it.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest

from casebuilder import ONLY_DECOMPRESSION_WITHIN_REACH, baseline, case_from, decide, merge
from engine.authoring.golden import discover, golden_case, load_golden
from engine.deciding.policy import DEFAULT_POLICIES_DIR, load, shipped_policies
from engine.presenting.render import dumps, to_json
from engine.deciding.solver import Engine
from engine.presenting.terminal import to_text
from facts import load_case

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


def sets(subject) -> set[tuple[str, str, tuple[tuple[str, str, str], ...]]]:
    """Every set of criteria a subject's what-if lines stand for: (kind, determination, ((id, scope, status), ...))."""
    return {
        (w.kind, w.determination, tuple(sorted((a.criterion, a.scope, a.status) for a in members)))
        for w in subject.would_change for members in w.alternatives
    }


def test_source_000_offers_refuted_fusion_criteria_only_as_contradicted_findings():
    decision = Engine(load("reference")).decide(load_case(ROOT / "examples" / "source-000.yaml"))
    level = decision.level("L3-L4")
    assert sets(level) == {
        ("documentation", "fusion", (("REF-F2", "L3-L4", "not_documented"),)),
        ("documentation", "fusion", (("REF-F3", "L3-L4", "not_documented"),)),
        ("documentation", "fusion", (("REF-F5", "L3-L4", "not_documented"),)),
        ("contradicted", "fusion", (("REF-F1", "L3-L4", "not_met"),)),  # the MRI documents no spondylolisthesis
        ("contradicted", "fusion", (("REF-F4", "L3-L4", "not_met"),)),  # the surgical history documents none
    }
    text = click.unstyle(to_text(decision, "L3-L4"))
    docs, contradicted = text.split("findings the record contradicts (only")
    assert "documentation to obtain:" in docs and "REF-F1" not in docs.split("documentation to obtain:")[1]
    assert "→ fusion: one of ✗ REF-F1, ✗ REF-F4" in contradicted


def test_a_met_criterion_is_never_offered_again():
    # 8 weeks of supervised PT meet REF-D4a; the course has no end date, so REF-D4c is not
    # documented.  The PT notes that would date it are what is missing, not REF-D4a.
    data = merge(baseline(), {"conservative_care": {"episodes": [
        {"modality": "physical_therapy", "delivery": "supervised_in_person", "weeks": 8, "outcome": "failed"},
        {"modality": "nsaids", "start": "2025-05-01", "end": "2025-09-01", "outcome": "failed"},
    ]}})
    decision = decide(data)
    assert decision.status_of("REF-D4a") == "met" and decision.status_of("REF-D4c") == "not_documented"
    level = decision.level("L4-L5")
    assert level.determination == "none"
    found = sets(level)
    assert ("documentation", "decompression_only", (("REF-D4c", "case", "not_documented"),)) in found
    assert not any(cid == "REF-D4a" for _, _, members in found for cid, _, _ in members)


def test_source_003_groups_interchangeable_criteria_in_one_line():
    decision = Engine(load("reference")).decide(load_case(ROOT / "examples" / "source-003.yaml"))
    level = decision.level("L5-S1")
    fusion_docs = [w for w in level.would_change if w.kind == "documentation" and w.determination == "fusion"]
    assert len(fusion_docs) == 1
    w = fusion_docs[0]
    assert [a.criterion for a in w.requires] == ["REF-D4a"]
    assert [a.criterion for a in w.one_of] == ["REF-F1", "REF-F2", "REF-F3", "REF-F5"]
    text = click.unstyle(to_text(decision))
    assert "→ fusion: REF-D4a and one of REF-F1, REF-F2, REF-F3, REF-F5" in text
    data = json.loads(dumps(to_json(decision, "L5-S1")))["levels"][0]["would_change"]
    grouped = next(x for x in data if x["kind"] == "documentation" and x["determination"] == "fusion")
    assert grouped["requires_at"] == [{"id": "REF-D4a", "scope": "case", "status": "not_documented"}]
    assert [x["id"] for x in grouped["one_of"]] == ["REF-F1", "REF-F2", "REF-F3", "REF-F5"]
    # REF-F4 is refuted at L5-S1 (no prior decompression there): reported apart, with REF-D4a it needs too
    assert ("contradicted_and_documentation", "fusion",
            (("REF-D4a", "case", "not_documented"), ("REF-F4", "L5-S1", "not_met"))) in sets(level)


def subjects():
    for pid in shipped_policies():
        yield from ((pid, path) for path in EXAMPLES)
        yield from ((pid, path) for path in discover(DEFAULT_POLICIES_DIR / pid))


_ENGINES: dict[str, Engine] = {}


@pytest.mark.parametrize("pid,path", list(subjects()), ids=lambda v: v if isinstance(v, str) else v.name)
def test_no_what_if_lists_a_met_criterion_and_each_carries_its_status(pid, path):
    engine = _ENGINES.setdefault(pid, Engine(load(pid)))
    case = load_case(path) if path.parent.name == "examples" else golden_case(load_golden(path))
    decision = engine.decide(case)
    name = f"{pid}:{path.name}"
    status = {(cid, scope): st for cid, scope, st in decision.statuses}
    data = json.loads(dumps(to_json(decision)))
    judged = {(c.id, c.scope): c for s in (*decision.levels, *decision.items) for c in s.criteria}
    for subject, got in zip([*decision.levels, *decision.items], [*data["levels"], *data["items"]]):
        for w, w_json in zip(subject.would_change, got["would_change"], strict=True):
            for a, a_json in zip((*w.requires, *w.one_of), (*w_json["requires_at"], *w_json.get("one_of", [])), strict=True):
                assert status.get((a.criterion, a.scope)) != "met", f"{name}: {a.criterion} at {a.scope} is met"
                assert a_json["status"] == a.status and a.status in ("not_documented", "not_met"), f"{name}: {a_json}"
            if w.kind == "documentation":
                assert all(a.status == "not_documented" for a in (*w.requires, *w.one_of)), f"{name}: {w}"
                for a in (*w.requires, *w.one_of):  # each says what to obtain, where the policy words it
                    c = judged.get((a.criterion, a.scope))
                    if c is not None and a.criterion in engine._documentation:
                        assert c.documentation == engine._documentation[a.criterion], \
                            f"{name}: {a.criterion} at {a.scope} ({c.status}) is documentation to obtain, but not what"
            elif w.kind == "contradicted":  # never a criterion that is merely not documented (issue 20, 5)
                assert all(a.status == "not_met" for a in (*w.requires, *w.one_of)), f"{name}: {w}"
            else:
                assert w.kind == "contradicted_and_documentation", f"{name}: {w}"
                for members in w.alternatives:
                    assert {a.status for a in members} == {"not_met", "not_documented"}, f"{name}: {w}"


def test_findings_the_record_contradicts_name_only_refuted_criteria():
    """Issue 20, 5: "findings the record contradicts" listed "? REF-D4a and one of ✗ REF-F1, ...": a criterion
    merely not documented among the contradicted ones, which the README says are never mixed."""
    data = merge(baseline(), ONLY_DECOMPRESSION_WITHIN_REACH)
    decision = decide(data)
    text = click.unstyle(to_text(decision))
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("findings the record contradicts (only")), None)
    if start is not None:
        section = []
        for line in lines[start + 1:]:
            if not line.startswith("  "):
                break
            section.append(line)
        assert not any("?" in line for line in section), section
    assert "→ fusion: ? REF-D4a and one of ✗ REF-F1, ✗ REF-F2, ✗ REF-F3, ✗ REF-F4, ✗ REF-F5" in text
    both = text.split("findings the record contradicts, and documentation to obtain")[1]
    assert "→ fusion: ? REF-D4a and one of ✗ REF-F1" in both.splitlines()[1]
    assert [w.kind for w in decision.level("L4-L5").would_change] == ["documentation", "contradicted_and_documentation"]


def test_sets_taking_two_of_a_declared_n_of_are_one_line_only_when_every_choice_was_found():
    """engine/deciding/alternatives.py: "any 2 of A, B, C" stands for exactly the three sets found; with
    one missing (a search stopped at its cap), the sets are said as before, each still a set found."""
    from engine.deciding.alternatives import grouped
    from engine.deciding.decision import Assumption, WouldChange

    a, b, c, d = (Assumption(x, "case") for x in "ABCD")
    order = {x: i for i, x in enumerate("ABCD")}
    key = lambda s: (order[s.criterion], s.scope)  # noqa: E731
    pool = [(2, frozenset((x, "case") for x in "ABC"))]
    every = [WouldChange("fusion", (d, *pair)) for pair in ((a, b), (a, c), (b, c))]
    (line,) = grouped(every, key, pool)
    assert line.requires == (d,) and line.one_of == (a, b, c) and line.choose == 2
    assert set(map(frozenset, line.alternatives)) == {frozenset(w.requires) for w in every}
    some = grouped(every[:2], key, pool)
    assert all(w.choose == 1 for w in some)
    assert {frozenset(s) for w in some for s in w.alternatives} == {frozenset(w.requires) for w in every[:2]}
    assert grouped(every, key) == grouped(every, key, ())  # no declared n_of: the one-of merge alone


def test_a_blocked_set_holds_only_in_the_solves_that_switch_its_guard_on():
    """``_Grounded.block`` (the search for contradicted findings rules out sets already found): a guard
    switched on forbids its sets in that solve only; a later solve without it, or with another guard,
    is as if it never was.  The sets are kept by a propagator rather than added as rules (issue 25,
    throughput: each rule added after grounding made clasp prepare the program again)."""
    from clingo import Function, Number, String, ast

    from engine.deciding.grounding import _Grounded

    statements: list = []
    ast.parse_string("#external whatif. { assumed(1,s); assumed(2,s); assumed(3,s) }. "
                     ":- whatif, not assumed(1,s), not assumed(2,s), not assumed(3,s). "
                     ":- not whatif, assumed(_,s). #minimize { 1,X : assumed(X,s) }. #show assumed/2.",
                     statements.append)
    grounded = _Grounded(statements, [])
    on = [(Function("whatif"), True)]
    atom = {n: Function("assumed", [Number(n), Function("s")]) for n in (1, 2, 3)}

    def chosen(*switched) -> list[int]:
        return sorted(s.arguments[0].number for model in grounded.solve(on + [(g, True) for g in switched])
                      for s in model)

    assert chosen() == [1, 2, 3]
    first = grounded.block([[atom[1]], [atom[2], Function("assumed", [Number(9), String("absent")])]])
    assert chosen(first) == [2, 3]  # a set with an atom the program lacks can never be assumed: no constraint
    assert chosen() == [1, 2, 3]
    second = grounded.block([[atom[1]], [atom[2]]])
    assert chosen(second) == [3]
    assert chosen(first) == [2, 3] and chosen() == [1, 2, 3]
    assert grounded.solve([(Function("whatif"), False)]) == [()]
