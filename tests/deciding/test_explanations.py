"""Explanations traced from rule firings.

What an explanation says must be what the solver did:

1. a criterion reported met carries evidence, and every case fact it cites is
   literally one of the atoms the case was emitted as (the engine's own forms,
   determination/absent/part/parts/exclusion, are checked against the decision
   itself);
2. a criterion reported not met or not documented is really false in the
   model (checked against an independent solve of the same program), a plain
   re-solve gives the same determinations, and assuming a failed leaf met never
   lowers a determination;
3. every ``would_change`` set is sound (assumed met, it gives exactly the
   stated determination) and minimal (drop any one criterion and the subject
   stays below it; all sets for one target have the same size);
4. the text, JSON and markdown renderings show every criterion reported, and
   rendering one level shows that level only;
5. hostile text in a case changes no determination and round-trips in JSON.

Checked on the five source examples and on Hypothesis-generated variations of
``casebuilder.baseline()``.
"""

from __future__ import annotations

import copy
import json
import re
import unicodedata
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

import click
import clingo
import pytest
from clingo import Function, String, Symbol
from clingo import ast
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casebuilder import baseline, case_from, engine, merge
from engine.deciding.decision import LEVEL_DETERMINATIONS, DETERMINATIONS, ITEM_DETERMINATIONS, STATUSES, Assumption, Decision
from engine.presenting import labels
from engine.presenting.render import RENDERERS, dumps, to_json, to_markdown, to_text
from engine.deciding.core import CORE
from engine.deciding.solver import Engine
from facts import Case, anatomy, case_atoms, load_case
from facts.terms import SPINAL_LEVELS, StenosisGrade
from facts.vocabulary import BY_NAME
from thorough import THOROUGH

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("source-00*.yaml"))
TIER = {d: i for i, d in enumerate(DETERMINATIONS)}
#: Evidence the engine and policy build themselves rather than read from the case.
ENGINE_FORMS = frozenset({"determination", "absent", "part", "parts", "exclusion"})

GENERATED = settings(
    max_examples=60 if THOROUGH else 10,  # each example solves the case again for every criterion
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# ---------------------------------------------------------------------------
# Helpers: the policy's structure and an independent solve
# ---------------------------------------------------------------------------


def _ground_program(atoms: list[Symbol]) -> clingo.Control:
    """Core rules + reference policy + atoms, grounded here (not through the Engine)."""
    ctl = clingo.Control(["--models=0"], logger=lambda _code, _msg: None)
    with ast.ProgramBuilder(ctl) as builder:
        ast.parse_string(CORE.read_text(encoding="utf-8"), builder.add)
        for stm in engine().policy.statements:
            builder.add(stm)
    with ctl.backend() as backend:
        for sym in atoms:
            backend.add_rule([backend.add_atom(sym)])
    ctl.ground([("base", [])])
    return ctl


def _all_atoms(ctl: clingo.Control) -> set[Symbol]:
    found: list[set[Symbol]] = []
    ctl.assign_external(Function("whatif"), False)
    ctl.solve(on_model=lambda m: found.append(set(m.symbols(atoms=True))))
    assert len(found) == 1, f"the plain program has {len(found)} answers, not one"
    return found[0]


@lru_cache(maxsize=1)
def structure() -> tuple[frozenset[str], dict[str, frozenset[str]], frozenset[str]]:
    """(leaf criteria, composite -> its parts, every criterion id), read from the policy's facts."""
    syms = _all_atoms(_ground_program([]))
    leaves = frozenset(s.arguments[0].string for s in syms if s.name == "leaf" and len(s.arguments) == 1)
    parts: dict[str, set[str]] = defaultdict(set)
    for s in syms:
        if s.name == "part_of" and len(s.arguments) == 2:
            parts[s.arguments[1].string].add(s.arguments[0].string)
    ids = frozenset(s.arguments[0].string for s in syms if s.name == "criterion" and len(s.arguments) == 3)
    return leaves, {k: frozenset(v) for k, v in parts.items()}, ids


def _scope_symbol(scope: str) -> Symbol:
    """The scope of a reported criterion as the solver writes it (kept apart from the solver's own mapping)."""
    if scope == "case":
        return Function("case")
    if scope in SPINAL_LEVELS:
        return String(scope)
    item, sep, where = scope.partition("@")
    return Function("item", [Function(item), String(where) if sep else Function("case")])


def emitted(case: Case) -> set[str]:
    return {str(a) for a in anatomy() + list(case_atoms(case))}


def subjects(decision: Decision):
    """(name, subject) for every level and item, names as the solver scopes them."""
    for lv in decision.levels:
        yield lv.level, lv
    for it in decision.items:
        yield (it.item if it.level is None else f"{it.item}@{it.level}"), it


def reported(decision: Decision):
    for name, subject in subjects(decision):
        for c in subject.criteria:
            yield name, c


def item_key(it) -> tuple[str, str | None]:
    return (it.item, it.level)


def requested_tier(lv) -> int:
    return TIER["fusion" if "fusion" in lv.requested else "decompression_only"]


class Assuming:
    """``Engine.assuming`` for one case, memoised by the set assumed."""

    def __init__(self, eng: Engine, case: Case):
        self.eng, self.case = eng, case
        self.cache: dict[frozenset, tuple[dict, dict]] = {}

    def __call__(self, assumptions) -> tuple[dict[str, str], dict[tuple[str, str | None], str]]:
        key = frozenset(assumptions)
        if key not in self.cache:
            self.cache[key] = self.eng.assuming(self.case, sorted(key, key=lambda a: (a.criterion, a.scope)))
        return self.cache[key]


# ---------------------------------------------------------------------------
# The checks, shared by the examples and the generated cases
# ---------------------------------------------------------------------------


def check_evidence(case: Case, decision: Decision) -> None:
    """(1) Met criteria have evidence; case facts cited are emitted atoms; engine forms agree."""
    atoms = emitted(case)
    _, parts, _ = structure()
    levels = {lv.level: lv.determination for lv in decision.levels}
    status = {(cid, scope): st for cid, scope, st in decision.statuses}
    assert not (ENGINE_FORMS & set(BY_NAME)), "an engine evidence form collides with a case predicate"
    for subject, c in reported(decision):
        where = f"{c.id} at {c.scope} (reported for {subject})"
        if c.status == "met":
            assert c.evidence, f"{where} is met with no evidence"
        elif c.status == "not_met":
            assert c.evidence, f"{where} is not met with no evidence of what refutes it"
        else:
            assert c.evidence == (), f"{where} is not documented yet cites {c.evidence}"
        for e in c.evidence + c.noted:
            assert e.text, f"{where}: evidence {e.atom} has no reading"
            term = clingo.parse_term(e.atom)
            assert str(term) == e.atom
            name, args = term.name, term.arguments
            if name in BY_NAME:
                assert len(args) == len(BY_NAME[name].args), f"{where}: {e.atom} has the wrong arity"
                assert e.atom in atoms, f"{where} cites {e.atom}, which the case does not emit"
                continue
            assert name in ENGINE_FORMS, f"{where} cites {e.atom}: neither a case fact nor an engine form"
            if name == "determination":
                level, det = args[0].string, args[1].name
                assert level in levels, f"{where} cites {e.atom} for a level not requested"
                assert levels[level] == det, f"{where} cites {e.atom} but the decision says {levels[level]}"
            elif name == "absent":
                (inner,) = args
                if inner.name in BY_NAME and len(inner.arguments) == len(BY_NAME[inner.name].args):
                    assert str(inner) not in atoms, f"{where} says {inner} is absent, but the case emits it"
            elif name == "parts":
                assert c.status == "met" and c.id in parts, f"{where}: 'parts' for a criterion that is not a met composite"
                for p in parts[c.id]:
                    assert status.get((p, c.scope)) == "met", f"{where} met by its parts, but {p} is {status.get((p, c.scope))}"
            elif name == "part":
                part = args[0].string
                assert c.status == "not_met" and part in parts.get(c.id, ()), f"{where}: part({part}) is not a part of it"
                assert status.get((part, c.scope)) == "not_met", f"{where} cites part {part}, which is {status.get((part, c.scope))}"
            elif name == "exclusion":
                assert c.status == "not_met", f"{where}: an exclusion cited for a criterion that is {c.status}"


def check_statuses(case: Case, decision: Decision) -> None:
    """(2) Statuses are consistent, agree with the model, and the plain re-solve agrees."""
    pairs = [(cid, scope) for cid, scope, _ in decision.statuses]
    assert len(pairs) == len(set(pairs)), "a criterion is listed twice at one scope"
    assert all(st in STATUSES for _, _, st in decision.statuses)
    status = {(cid, scope): st for cid, scope, st in decision.statuses}
    _, parts, ids = structure()

    seen: dict[tuple[str, str], object] = {}
    for subject, c in reported(decision):
        assert c.id in ids, f"{c.id} is not a criterion of the policy"
        assert status.get((c.id, c.scope)) == c.status, (
            f"{c.id} at {c.scope} reported {c.status} for {subject}, statuses say {status.get((c.id, c.scope))}"
        )
        if (c.id, c.scope) in seen:
            assert seen[(c.id, c.scope)] == c, f"{c.id} at {c.scope} is explained differently for different subjects"
        seen[(c.id, c.scope)] = c

    # a composite holds exactly when every one of its parts does
    for (cid, scope), st in status.items():
        if cid in parts:
            part_states = [status.get((p, scope)) for p in parts[cid]]
            assert (st == "met") == all(s == "met" for s in part_states), f"{cid} at {scope} is {st}, parts {part_states}"
            if any(s == "not_met" for s in part_states):
                assert st == "not_met", f"{cid} at {scope}: a part is refuted, yet it is {st}"

    # the statuses are what the model holds, read independently of the Engine
    model = _all_atoms(_ground_program(anatomy() + list(case_atoms(case))))
    for (cid, scope), st in status.items():
        c, s = String(cid), _scope_symbol(scope)
        met = Function("met", [c, s]) in model
        holds = Function("holds", [c, s]) in model
        refuted = Function("refuted", [c, s]) in model
        assert Function("evaluated", [c, s]) in model, f"{cid} at {scope} has a status but is not evaluated"
        assert met == (st == "met"), f"{cid} at {scope} is reported {st}, but met/2 is {met} in the model"
        assert holds == met, f"{cid} at {scope}: holds/2 is {holds} without any assumption, met/2 is {met}"
        # refuted and met together is possible (met wins, the engine's core rule); refuted alone is not_met
        assert refuted == (st == "not_met") or (met and st == "met"), f"{cid} at {scope} is reported {st}, refuted/2 is {refuted}"
    model_levels = {s.arguments[0].string: s.arguments[1].name for s in model if s.name == "determination"}
    assert model_levels == {lv.level: lv.determination for lv in decision.levels}

    # nothing assumed: the what-if program reaches the same determinations
    levels, items = Assuming(engine(), case)([])
    assert levels == {lv.level: lv.determination for lv in decision.levels}
    assert items == {item_key(it): it.determination for it in decision.items}

    # a level short of its request says why: some criterion reported is not met;
    # a level granted as requested reports only criteria that hold
    for lv in decision.levels:
        assert lv.determination in LEVEL_DETERMINATIONS
        if lv.determination == "not_addressed":
            assert not lv.criteria and not lv.would_change, f"{lv.level} is not addressed, yet explained"
            continue
        # a criterion a waiver stands in for is reported beside its waiver, never as failing
        failing = [c for c in lv.criteria if c.status != "met" and not c.waived_by]
        if TIER[lv.determination] < requested_tier(lv):
            assert failing, f"{lv.level} is {lv.determination}, short of {lv.requested}, and no criterion is reported failing"
        else:
            assert not failing, f"{lv.level} is granted as requested, yet reports failing {[c.id for c in failing]}"
    for it in decision.items:
        assert it.determination in ITEM_DETERMINATIONS
        if it.determination == "not_medically_necessary":
            assert any(c.status != "met" for c in it.criteria), f"{it.item} denied with every criterion met"
        elif it.determination == "medically_necessary":
            assert it.criteria and all(c.status == "met" for c in it.criteria)


def _no_lower(base: Decision, levels: dict, items: dict, why: str) -> None:
    for lv in base.levels:
        assert TIER[levels[lv.level]] >= TIER[lv.determination], (
            f"{why} lowers {lv.level} from {lv.determination} to {levels[lv.level]}"
        )
    for it in base.items:
        after = items[item_key(it)]
        if it.determination == "medically_necessary":
            assert after == "medically_necessary", f"{why} makes {it.item}@{it.level} {after}"
        if it.determination == "not_addressed":
            assert after == "not_addressed", f"{why} makes an unaddressed item {after}"


def check_monotone(case: Case, decision: Decision) -> None:
    """(2) Forcing any failed leaf criterion met never lowers a determination."""
    leaves, _, _ = structure()
    assume = Assuming(engine(), case)
    done = set()
    for _, c in reported(decision):
        if c.status == "met" or c.id not in leaves or (c.id, c.scope) in done:
            continue
        done.add((c.id, c.scope))
        levels, items = assume([Assumption(c.id, c.scope)])
        _no_lower(decision, levels, items, f"assuming {c.id} at {c.scope} met")


def _rank(determination: str) -> int:
    """Level order none < decompression_only < fusion; an item is either necessary (1) or not (0)."""
    if determination in TIER:
        return TIER[determination]
    return 1 if determination == "medically_necessary" else 0


def check_would_change(case: Case, decision: Decision) -> None:
    """(3) Every set a would_change line stands for is sound and minimal; none holds a met criterion;
    documentation to obtain needs only criteria the record is silent on, and its sets for a target
    are all the same size; a contradicted set needs some criterion a documented finding refutes."""
    leaves, _, _ = structure()
    status = {(cid, scope): st for cid, scope, st in decision.statuses}
    assume = Assuming(engine(), case)

    def check_set(subject: str, w, members, reach) -> None:
        """``reach(levels, items)`` reads the subject's determination from a what-if solve."""
        ids = [a.criterion for a in members]
        assert members, f"{subject}: an empty would_change set"
        assert len(set(members)) == len(members), f"{subject}: {ids} repeats a criterion"
        for a in members:
            assert a.criterion in leaves, f"{subject}: {a.criterion} is not a leaf criterion, it cannot be assumed"
            assert (a.criterion, a.scope) in status, f"{subject}: {a.criterion} at {a.scope} is not evaluated"
            assert status[(a.criterion, a.scope)] != "met", f"{subject}: {a.criterion} at {a.scope} is met already"
            assert a.status in ("not_documented", "not_met"), f"{subject}: {a.criterion} carries status {a.status}"
        if w.kind == "documentation":
            assert all(a.status == "not_documented" for a in members), (
                f"{subject}: documentation to obtain {ids} needs a refuted criterion")
        else:
            assert any(a.status == "not_met" for a in members), (
                f"{subject}: contradicted set {ids} needs no refuted criterion: it is documentation to obtain")
        levels, items = assume(members)
        assert reach(levels, items) == w.determination, (
            f"{subject}: assuming {ids} gives {reach(levels, items)}, not {w.determination}"
        )
        _no_lower(decision, levels, items, f"assuming {ids}")
        for drop in members:
            rest = [a for a in members if a != drop]
            got = reach(*assume(rest))
            assert _rank(got) < _rank(w.determination), (
                f"{subject}: {[a.criterion for a in rest]} (without {drop.criterion}) already gives {got}: "
                f"{ids} is not minimal"
            )

    for lv in decision.levels:
        want = requested_tier(lv)
        if TIER[lv.determination] >= want:
            assert lv.would_change == (), f"{lv.level} is granted as requested, yet lists what would change it"
            continue
        sizes: dict[str, set[int]] = defaultdict(set)
        for w in lv.would_change:
            assert TIER[lv.determination] < TIER[w.determination] <= want, f"{lv.level}: {w} is no improvement"
            for members in w.alternatives:
                if w.kind == "documentation":
                    sizes[w.determination].add(len(members))
                check_set(lv.level, w, members, lambda levels, items, L=lv.level: levels[L])
        for det, n in sizes.items():
            assert len(n) == 1, f"{lv.level}: sets reaching {det} have sizes {sorted(n)}: not all minimal"
        if "fusion" in sizes and "decompression_only" in sizes:
            # whatever reaches fusion reaches decompression_only too
            assert min(sizes["decompression_only"]) <= min(sizes["fusion"])

    for it in decision.items:
        name = it.item if it.level is None else f"{it.item}@{it.level}"
        if it.determination != "not_medically_necessary":
            assert it.would_change == (), f"{name} is {it.determination}, yet lists what would change it"
            continue
        sizes = {len(m) for w in it.would_change if w.kind == "documentation" for m in w.alternatives}
        assert len(sizes) <= 1, f"{name}: would_change sets have sizes {sorted(sizes)}: not all minimal"
        for w in it.would_change:
            assert w.determination == "medically_necessary"
            for members in w.alternatives:
                check_set(name, w, members, lambda levels, items, k=item_key(it): items[k])


def check_renderings(decision: Decision) -> None:
    """(4) Every rendering shows every criterion reported and every what-if criterion."""
    text = click.unstyle(to_text(decision))
    data = json.loads(dumps(to_json(decision)))
    markdown = to_markdown(decision)
    text_blocks = {block.split("  ", 1)[0].strip(): block for block in text.split("\n\n")[1:]}
    md_sections = {}
    for section in re.split(r"^### ", markdown, flags=re.M)[1:]:
        head, _, body = section.partition("\n")
        md_sections[head.replace("\\", "")] = body.split("\n## ", 1)[0]
    case_text, case_md = text_blocks.get("case-level criteria", ""), md_sections.get("The whole case", "")
    for lv_or_item in list(decision.levels) + list(decision.items):
        if hasattr(lv_or_item, "requested"):
            name = lv_or_item.level
        else:
            name = labels.item(lv_or_item.item, lv_or_item.level)
        own = [c for c in lv_or_item.criteria if c.scope != "case"]
        assert name in text_blocks, f"the text rendering has no block for {name}"
        if own:
            assert name in md_sections, f"the markdown letter has no section for {name}"
        for c in lv_or_item.criteria:
            block, section = ((case_text, case_md) if c.scope == "case"
                              else (text_blocks[name], md_sections[name]))
            assert re.search(rf"\b{re.escape(c.id)}\b", block), f"{c.id} missing from the text for {name}"
            assert re.search(rf"\b{re.escape(c.id)}\b", section), f"{c.id} missing from the letter for {name}"
            for e in (*c.evidence, *c.superseded, *c.unsettled):
                shown = _shown(labels.finding(e.text, e.atom))  # in weeks, a study's date said (issue 23)
                assert shown in block, f"{shown!r} missing from the text for {name}"
        # what would change it is in the summary, under the subject's name
        head = text.split("\ncase-level criteria\n")[0]
        for w in lv_or_item.would_change:
            for cid in (a.criterion for a in (*w.requires, *w.one_of)):
                assert re.search(rf"\b{re.escape(cid)}\b", head), f"{cid} missing from the text's summary for {name}"
                assert re.search(rf"\b{re.escape(cid)}\b", markdown), f"{cid} missing from the letter"

    # JSON carries exactly the decision's criteria and what-if sets, subject by subject
    assert [lv["level"] for lv in data["levels"]] == [lv.level for lv in decision.levels]
    for got, lv in zip(data["levels"], decision.levels):
        assert got["determination"] == lv.determination
        assert [(c["id"], c["scope"], c["status"]) for c in got["criteria"]] == [(c.id, c.scope, c.status) for c in lv.criteria]
        assert [([(a["id"], a["scope"], a["status"]) for a in w["requires_at"]],
                 [(a["id"], a["scope"], a["status"]) for a in w.get("one_of", [])], w["kind"])
                for w in got["would_change"]] == [
            ([(a.criterion, a.scope, a.status) for a in w.requires],
             [(a.criterion, a.scope, a.status) for a in w.one_of], w.kind) for w in lv.would_change
        ]
        for c_json, c in zip(got["criteria"], lv.criteria):
            assert [e["fact"] for e in c_json["evidence"]] == [e.atom for e in c.evidence]
    assert len(data["items"]) == len(decision.items)
    for got, it in zip(data["items"], decision.items):
        assert (got["item"], got.get("level"), got["determination"]) == (it.item, it.level, it.determination)
        assert [(c["id"], c["scope"], c["status"]) for c in got["criteria"]] == [(c.id, c.scope, c.status) for c in it.criteria]

    for lv in decision.levels:
        assert any(line.startswith(lv.level) and "requested" in line for line in text.splitlines()), f"no text line for {lv.level}"
        assert f"| {lv.level} |" in markdown
    # the answer comes first: every level and item in the summary, right after the heading
    summary = text.split("\n\n")[1].splitlines()
    names = [lv.level for lv in decision.levels] + [labels.item(it.item, it.level) for it in decision.items]
    assert [line.split("  ")[1].strip() for line in summary] == names


def check_level_narrowing(decision: Decision, level: str) -> None:
    """(4) Rendering with level=L shows L (and items at L) and nothing else."""
    lv = decision.level(level)
    others = [o.level for o in decision.levels if o.level != level]
    shown_items = [it for it in decision.items if it.level == level]

    data = json.loads(dumps(to_json(decision, level)))
    assert [x["level"] for x in data["levels"]] == [level]
    assert [(x["item"], x.get("level")) for x in data["items"]] == [(it.item, it.level) for it in shown_items]
    assert data["case"] == decision.case and data["outcome"] == decision.outcome

    text = click.unstyle(to_text(decision, level))
    headers = [m.group(1) for m in re.finditer(r"^(\S+)\s+requested ", text, re.M)]
    assert headers == [level]
    item_headers = re.findall(r"^(\S.*?)  → ", text, re.M)
    assert item_headers == [labels.item(it.item, it.level) for it in shown_items]
    for c in lv.criteria:
        assert c.id in text

    markdown = to_markdown(decision, level)
    headings = [h.replace("\\", "") for h in re.findall(r"^### (.*)$", markdown, re.M)]
    own = [labels.item(it.item, it.level) for it in shown_items if any(c.scope != "case" for c in it.criteria)]
    case_wide = ["The whole case"] if any(c.scope == "case" for c in lv.criteria) else []
    assert headings == case_wide + ([level] if any(c.scope != "case" for c in lv.criteria) else []) + own
    rows = [r.replace("\\", "") for r in re.findall(r"^\| ([^|]*) \|", markdown, re.M)]
    assert level in rows
    for other in others:
        assert other not in rows, f"--level {level} shows {other} in the table"
    for c in lv.criteria:
        assert c.id in markdown

    for render in RENDERERS.values():
        assert render(decision, level) == render(decision, level)  # deterministic


def check_all(case: Case) -> Decision:
    decision = engine().decide(case)
    check_evidence(case, decision)
    check_statuses(case, decision)
    check_monotone(case, decision)
    check_would_change(case, decision)
    return decision


# ---------------------------------------------------------------------------
# The five source examples
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module", params=EXAMPLES, ids=lambda p: p.stem)
def example(request) -> tuple[Case, Decision]:
    case = load_case(request.param)
    return case, engine().decide(case)


def test_there_are_five_examples():
    assert [p.stem for p in EXAMPLES] == [f"source-00{i}" for i in range(5)]


def test_example_met_criteria_cite_emitted_facts(example):
    check_evidence(*example)


def test_example_failed_criteria_are_false_in_the_model(example):
    check_statuses(*example)


def test_example_assuming_a_failed_leaf_never_lowers(example):
    check_monotone(*example)


def test_example_would_change_sets_are_sound_and_minimal(example):
    check_would_change(*example)


def test_example_renderings_show_every_criterion(example):
    check_renderings(example[1])


def test_example_level_narrows_every_rendering(example):
    _, decision = example
    for lv in decision.levels:
        check_level_narrowing(decision, lv.level)


def test_examples_have_something_to_explain():
    """The checks above are not vacuous: the examples exercise every kind of entry."""
    kinds = defaultdict(int)
    for path in EXAMPLES:
        decision = engine().decide(load_case(path))
        for _, c in reported(decision):
            kinds[c.status] += 1
            for e in c.evidence:
                kinds[clingo.parse_term(e.atom).name] += 1
        for _, s in subjects(decision):
            kinds["would_change"] += len(s.would_change)
            kinds["multi"] += sum(len(w.requires) > 1 for w in s.would_change)
    for kind in ("met", "not_met", "not_documented", "would_change", "multi", "determination", "absent", "parts", "part", "exclusion"):
        assert kinds[kind] > 0, f"no example exercises {kind}"


def test_example_source_001_what_if_needs_three_criteria():
    """A concrete minimal set: source-001 needs PT, a 12-week span and the stenosis grade."""
    case = load_case(ROOT / "examples" / "source-001.yaml")
    decision = engine().decide(case)
    lv = decision.level("L5-S1")
    assert lv.determination == "none"
    dec = [w for w in lv.would_change if w.determination == "decompression_only"]
    assert dec and all(len(w.requires) == 3 for w in dec)
    assert any(set(w.criterion_ids) == {"REF-D4a", "REF-D4b", "REF-D1"} for w in dec)
    levels, _ = engine().assuming(case, [Assumption("REF-D4a", "case"), Assumption("REF-D4b", "case")])
    assert levels["L5-S1"] == "none"


# ---------------------------------------------------------------------------
# Generated cases: variations of the baseline
# ---------------------------------------------------------------------------

GEN_LEVELS = ("T12-L1", "L2-L3", "L3-L4", "L4-L5", "L5-S1")
GRADES = tuple(g.value for g in StenosisGrade)


@st.composite
def case_data(draw) -> dict:
    data = baseline()
    data["case"] = "generated"
    chosen = sorted(draw(st.lists(st.sampled_from(GEN_LEVELS), min_size=1, max_size=4, unique=True)),
                    key=SPINAL_LEVELS.index)
    requests, mri, films = [], [], []
    for level in chosen:
        kind = draw(st.sampled_from(("decompression", "fusion", "both", "both")))
        req: dict = {"level": level}
        if kind != "fusion":
            req["decompression"] = "laminectomy"
        if kind != "decompression":
            req["fusion"] = {"approaches": draw(st.sampled_from((["tlif"], ["alif", "posterolateral"], ["llif"], [])))}
        requests.append(req)
        found: dict = {"level": level}
        grade = draw(st.sampled_from((None, "empty") + GRADES))
        if grade == "empty":
            found["stenosis"] = []
        elif grade is not None:
            found["stenosis"] = [{"zone": draw(st.sampled_from(("central", "lateral_recess", "foraminal"))), "grade": grade}]
        listhesis = draw(st.sampled_from((None, True, False)))
        if listhesis is not None:
            found["spondylolisthesis"] = {"present": listhesis}
        if len(found) > 1:
            mri.append(found)
        translation = draw(st.one_of(st.none(), st.integers(0, 80).map(lambda n: n / 10)))
        if translation is not None:
            films.append({"level": level, "translation_mm": translation})
    if draw(st.integers(0, 3)) == 0:
        requests.append({"level": "S1-pelvis", "fusion": True})
    data["request"]["levels"] = requests
    imaging = [{"study": "mri", "date": "2025-10-01", "levels": mri}]
    if films:
        imaging.append({"study": "flexion_extension_xray", "date": "2025-10-15", "levels": films})
    sva = draw(st.sampled_from((None, None, 30.0, 60.0)))
    if sva is not None:
        imaging.append({"study": "standing_full_length", "alignment": {"sva_mm": sva}})
    data["imaging"] = imaging

    # physical therapy: weeks stated, dates only, undated, home programme, or none at all
    pt = draw(st.sampled_from(("dates", "weeks", "undated", "home", "absent")))
    episodes = data["conservative_care"]["episodes"]
    if pt == "absent":
        episodes = [e for e in episodes if e["modality"] != "physical_therapy"]
    else:
        therapy = episodes[0]
        if pt in ("weeks", "undated", "home"):
            therapy.pop("start")
            therapy.pop("end")
        if pt == "weeks":
            therapy["weeks"] = draw(st.sampled_from((2, 4, 6, 8)))
            therapy["end"] = "2025-08-01"
        if pt == "home":
            therapy["delivery"] = "home_program"
            therapy["weeks"] = 8
    if draw(st.booleans()):
        episodes = [e for e in episodes if e["modality"] != "nsaids"]
    data["conservative_care"]["episodes"] = episodes

    clinical = draw(st.sampled_from(("baseline", "no_adl", "adl_unknown", "cauda_equina")))
    if clinical == "no_adl":
        data["clinical"]["adl_limitation"] = False
    elif clinical == "adl_unknown":
        data["clinical"].pop("adl_limitation")
    elif clinical == "cauda_equina":
        data["clinical"]["cauda_equina_syndrome"] = True
    if draw(st.booleans()):
        data["history"]["prior_surgeries"] = [{"type": "laminectomy", "level": draw(st.sampled_from(chosen))}]
    if draw(st.booleans()):
        data["history"]["bone_density"] = {"osteoporosis": draw(st.booleans())}

    items = []
    if draw(st.booleans()):
        items.append({"item": "interbody_device", **({"level": draw(st.sampled_from(chosen))} if draw(st.booleans()) else {})})
    for item in draw(st.lists(st.sampled_from(("allograft", "rhbmp2", "bone_marrow_aspirate", "cement_augmentation",
                                                "cellular_bone_matrix", "si_joint_fusion")), max_size=3, unique=True)):
        items.append({"item": item})
    data["request"]["items"] = items
    if draw(st.booleans()):
        data["request"]["setting"] = "inpatient"
    return data


@GENERATED
@given(case_data())
def test_generated_met_criteria_cite_emitted_facts(data):
    case = case_from(data)
    check_evidence(case, engine().decide(case))


@GENERATED
@given(case_data())
def test_generated_failed_criteria_are_false_and_monotone(data):
    case = case_from(data)
    decision = engine().decide(case)
    check_statuses(case, decision)
    check_monotone(case, decision)


@GENERATED
@given(case_data())
def test_generated_would_change_sets_are_sound_and_minimal(data):
    case = case_from(data)
    check_would_change(case, engine().decide(case))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case_data())
def test_generated_renderings_show_every_criterion_and_narrow(data):
    decision = engine().decide(case_from(data))
    check_renderings(decision)
    for lv in decision.levels:
        check_level_narrowing(decision, lv.level)


def test_generator_reaches_every_determination():
    """The strategy is not degenerate: over a fixed sample it reaches every determination."""
    seen_levels, seen_items, multi = set(), set(), 0
    for data in _sample(case_data(), 40):
        decision = engine().decide(case_from(data))
        seen_levels |= {lv.determination for lv in decision.levels}
        seen_items |= {it.determination for it in decision.items}
        multi += sum(len(w.requires) > 1 for _, s in subjects(decision) for w in s.would_change)
    assert seen_levels == set(DETERMINATIONS)
    assert seen_items == set(ITEM_DETERMINATIONS)
    assert multi > 0


def _sample(strategy, n: int) -> list:
    out: list = []

    @settings(max_examples=n, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(x):
        out.append(x)

    collect()
    return out


# ---------------------------------------------------------------------------
# Hostile text
# ---------------------------------------------------------------------------

# What a case may hold (no control character but tab and newline: the model refuses
# the rest, test_case_format.py), aimed at every rendering.
HOSTILE = (
    '"). #include "/etc/passwd". %\n'
    "#script (python)\nimport os\n#end.\n"
    "a :- b. #show x/1. \\\" \\n\t\n"
    "L4-L5  requested fusion → fusion\n"
    "Ünïcödé ✓ 💥 \u202eRTL\u202c \u00a0 |*_[x](javascript:x)_*| <b>"
)


def _hostile(data: dict, text: str) -> dict:
    """The same case with ``text`` as its id, in every note and as an alignment description."""
    out = copy.deepcopy(data)
    out["case"] = text
    out["note"] = text
    out["request"]["levels"][0]["note"] = text
    for study in out["imaging"]:
        study["note"] = text
        for found in study["levels"]:
            found["note"] = text
            for sten in found.get("stenosis", []):
                sten["note"] = text
    out["imaging"].append({"study": "standing_full_length", "alignment": {"descriptions": [text]}})
    out["clinical"]["note"] = text
    out["clinical"]["radiculopathy"]["note"] = text
    for ep in out["conservative_care"]["episodes"]:
        ep["note"] = text
    out["conservative_care"]["note"] = text
    out["history"]["note"] = text
    out["history"]["prior_surgeries"] = [{"type": "fusion", "region": "cervical", "description": text, "note": text}]
    return out


def _determinations(decision: Decision):
    return (
        decision.outcome,
        [(lv.level, lv.determination, [(c.id, c.scope, c.status) for c in lv.criteria], lv.would_change) for lv in decision.levels],
        [(it.item, it.level, it.determination, [(c.id, c.scope, c.status) for c in it.criteria], it.would_change) for it in decision.items],
    )


def _without_noted(subjects: list[dict]) -> list[dict]:
    return [{**s, "criteria": [{k: v for k, v in c.items() if k != "noted"} for c in s.get("criteria", [])]} for s in subjects]


def _shown(text: str) -> str:
    """How the text rendering shows case text: control characters and bidi overrides escaped."""
    return "".join(
        ch.encode("unicode_escape").decode("ascii")
        if unicodedata.category(ch) == "Cc" or "\u202a" <= ch <= "\u202e" or "\u2066" <= ch <= "\u2069" else ch
        for ch in text
    )


def _past_the_reader(data: dict) -> Case:
    """A case built by the model alone, as a record that comes another way (FHIR, the
    library) is: the renderers must hold whatever text the model lets through."""
    return Case.model_validate_json(json.dumps(data))


def test_renderers_escape_control_characters_the_model_never_lets_through():
    # defence in depth: neither the terminal nor the letter passes one on raw
    from engine.presenting.letter import md
    from engine.presenting.terminal import plain

    for ch in ("\x00", "\x1b", "\r", "\x7f", "\x85", "\u202e"):
        assert ch not in plain(f"a{ch}b") and ch not in md(f"a{ch}b")


def check_hostile(data: dict, text: str) -> None:
    plain = engine().decide(case_from(_hostile(data, "plain text")))
    hostile_case = _past_the_reader(_hostile(data, text))
    assert hostile_case.case == text
    hostile = engine().decide(hostile_case)
    assert _determinations(hostile) == _determinations(plain)
    assert hostile.case == text

    # JSON: the id and the description come back exactly
    back = json.loads(dumps(to_json(hostile)))
    assert back["case"] == text
    noted = [n for lv in back["levels"] for c in lv["criteria"] for n in c.get("noted", ())]
    assert noted and all(text in n["text"] for n in noted), "the alignment description does not round-trip"
    plain_back = json.loads(dumps(to_json(plain)))
    assert _without_noted(back["levels"]) == _without_noted(plain_back["levels"])
    assert _without_noted(back["items"]) == _without_noted(plain_back["items"])
    assert back["outcome"] == plain_back["outcome"]

    # markdown: the text cannot add a line, a heading or a directive
    md_plain, md_hostile = to_markdown(plain), to_markdown(hostile)
    assert md_hostile.count("\n") == md_plain.count("\n")
    assert [ln for ln in md_hostile.splitlines() if ln.startswith("#")] != [] and all(
        not ln.startswith(("#include", "#script", "#end")) for ln in md_hostile.splitlines()
    )
    assert sum(ln.startswith("# ") for ln in md_hostile.splitlines()) == 1
    # markdown: nor a terminal escape or a bidi override, escaped as the text rendering escapes them
    hidden = [ch for ch in set(text) if unicodedata.category(ch) == "Cc" and ch not in "\r\n"
              or "\u202a" <= ch <= "\u202e" or "\u2066" <= ch <= "\u2069"]
    assert not [ch for ch in hidden if ch in md_hostile], "case text reaches the letter raw"
    # text: the text cannot add a line or a terminal escape of its own
    text_plain, text_hostile = to_text(plain), to_text(hostile)
    assert text_hostile.count("\n") == text_plain.count("\n"), "case text forges lines in the text rendering"
    assert text_hostile.count("\x1b") == text_plain.count("\x1b"), "case text reaches the terminal as an escape"
    assert click.unstyle(text_hostile).splitlines() == [
        ln.replace("plain text", _shown(text)) for ln in click.unstyle(text_plain).splitlines()
    ]
    # html: the text is in the plain case's places, shown as in the terminal and escaped; nothing else moves
    from markupsafe import escape

    # the print style repeats the case id at the top of every printed page (issue 23): CSS-escaped, every
    # character but letters, digits and spaces, so the style (and the hash its policy admits) is the id's own
    from engine.presenting.page import css_string

    def unstyled(page: str) -> str:
        return re.sub(r"<style>.*?</style>|content=\"default-src[^\"]*\"", "", page, flags=re.S)

    html_hostile, html_plain = RENDERERS["html"](hostile), RENDERERS["html"](plain)
    assert unstyled(html_hostile) == unstyled(html_plain).replace("plain text", str(escape(_shown(text))))
    head = re.search(r"@top-left \{ content: (\"[^\"]*\")", html_hostile).group(1)
    assert head.startswith(css_string(text)[:-1]) and "<" not in head and "\n" not in head


def test_hostile_text_changes_nothing_and_round_trips():
    assert len(HOSTILE) <= 200  # a case id's limit
    check_hostile(baseline(), HOSTILE)


def test_reader_refuses_control_characters_in_text():
    """Tab and newline are text; every other control character is refused with its field, never cut or passed on."""
    from facts import CaseFileError

    data = baseline()
    data["note"] = "tab\there\nand a new line"
    assert case_from(data).note == data["note"]
    for ch in ("\x00", "\x1b", "\r", "\x7f", "\x85"):
        data["clinical"]["note"] = f"walk{ch}ing"
        with pytest.raises(CaseFileError, match=rf"clinical\.note: .*U\+{ord(ch):04X}.*remove it"):
            case_from(data)


def test_hostile_text_in_an_example_changes_nothing():
    data = merge(baseline(), {"request": {"items": [{"item": "interbody_device", "level": "L4-L5"}, {"item": "allograft"}],
                                           "setting": "inpatient"}})
    for text in (HOSTILE, "#script (python)\nimport os\n#end.", '"). #include "/etc/passwd". %', "∀x. ¬p(x) ∨ q(x)"):
        check_hostile(data, text)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.characters(exclude_categories=("Cs", "Cc"), include_characters="\t\n"), min_size=1, max_size=200))
def test_generated_hostile_case_ids_round_trip(text):
    data = baseline()
    data["case"] = text
    decision = engine().decide(_past_the_reader(data))
    assert decision.case == text
    assert json.loads(dumps(to_json(decision)))["case"] == text
    plain = engine().decide(case_from(baseline()))
    assert _determinations(decision) == _determinations(plain)


def test_assuming_refuses_what_cannot_be_assumed():
    """Only a leaf criterion evaluated at the scope can be forced met; anything else is named, not mis-explained."""
    case = case_from(baseline())
    leaves, parts, _ = structure()
    assert "REF-D4" in parts and "REF-D4" not in leaves and "REF-W1" not in leaves and "REF-A3" not in leaves
    for criterion, scope in (("REF-D4", "case"), ("REF-W1", "case"), ("REF-A3", "allograft"), ("REF-F1", "L3-L4")):
        with pytest.raises(ValueError, match=f"{criterion} cannot be assumed at {scope}"):
            engine().assuming(case, [Assumption(criterion, scope)])
    # a generator of assumptions is read once, and works
    levels, _ = engine().assuming(case, (a for a in [Assumption("REF-F1", "L4-L5")]))
    assert levels == {"L4-L5": "fusion"}
