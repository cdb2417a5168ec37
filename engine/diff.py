"""Where two policies disagree, found by the solver.

One program holds the bounded case space (engine/space.lp), policy A with its
own copy of the engine's core renamed ``a__``, and policy B renamed ``b__``:
the two meet only on the generated case.  The solver is asked for a case on
which some requested level or item gets different determinations, with the
fewest documented facts.  Each witness is then written as a case file,
emitted by the real emitter (the atoms must match the solver's exactly) and
decided by both policies through the ordinary engine; only a difference that
survives that check is reported.  The next witness must differ by its cause:
the criteria that failed, under the policy that decided lower, on the
subject that differs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from clingo import Function, String, Symbol
from clingo import ast

from engine.decision import Decision
from engine.golden import _subjects
from engine.errors import UserError
from engine.core import statements as core_statements
from engine.policy import Policy
from engine.solver import Engine, Search
from engine.space import Bounds, bounds, round_trip_mismatch, space_facts, space_statements, to_case
from engine.transform import rename_apart
from facts import anatomy, case_atoms, parse_case
from facts.vocabulary import PREDICATES

DIFF_RULES = """
differs(level(L), D1, D2) :- a__determination(L, D1), b__determination(L, D2), D1 != D2.
% An item only one policy addresses differs on every case: reported from the
% policies' declarations, not searched for.
differs(item(I, W), D1, D2) :- a__item_determination(I, W, D1), b__item_determination(I, W, D2), D1 != D2,
    D1 != not_addressed, D2 != not_addressed.
difference :- differs(_, _, _).
:- not difference.
% The cause of a difference: at the tier that decides it (fusion against
% decompression is decided by fusion criteria), the criteria each policy found
% met or refuted on documented findings.  What is merely undocumented is not a
% cause: a smaller record would leave it out anyway.
decisive_tier(X, T1) :- differs(X, D1, D2), a__tier(D1, T1), a__tier(D2, T2), T1 >= T2.
decisive_tier(X, T2) :- differs(X, D1, D2), a__tier(D1, T1), a__tier(D2, T2), T2 > T1.
a__cause(level(L), C, St) :- decisive_tier(level(L), T), a__report(level(L), C, S), a__status(C, S, St),
    St != not_documented, a__bears(C, T).
b__cause(level(L), C, St) :- decisive_tier(level(L), T), b__report(level(L), C, S), b__status(C, S, St),
    St != not_documented, b__bears(C, T).
a__cause(X, C, St) :- differs(X, _, _), X = item(_, _), a__report(X, C, S), a__status(C, S, St), St != not_documented.
b__cause(X, C, St) :- differs(X, _, _), X = item(_, _), b__report(X, C, S), b__status(C, S, St), St != not_documented.
% What the policy that decided higher found met, and what the other refuted.
rank(none, 0). rank(decompression_only, 1). rank(fusion, 2).
rank(not_medically_necessary, 0). rank(medically_necessary, 1).
higher(X, a) :- differs(X, D1, D2), rank(D1, R1), rank(D2, R2), R1 > R2.
higher(X, b) :- differs(X, D1, D2), rank(D1, R1), rank(D2, R2), R2 > R1.
cause_met(X, C) :- higher(X, a), a__cause(X, C, met).
cause_met(X, C) :- higher(X, b), b__cause(X, C, met).
cause_refuted(X, C) :- higher(X, a), b__cause(X, C, not_met).
cause_refuted(X, C) :- higher(X, b), a__cause(X, C, not_met).
% The most consequential difference first: fusion against decompression, then
% something against nothing at a level, then items; then the fewest facts.
difference_rank(2) :- differs(level(_), D1, D2), D1 != none, D2 != none.
difference_rank(1) :- differs(level(_), _, _).
difference_rank(0) :- differs(item(_, _), _, _).
best_rank(R) :- R = #max { X : difference_rank(X) }, difference.
#minimize { 2 - R@4 : best_rank(R) }.
% Then a difference one policy refutes on a documented finding (grade I
% documented, a current smoker) before one that only wants more documentation.
refutation :- cause_refuted(_, _).
#minimize { 1@3 : not refutation }.
#minimize { 1@1, F : documentation_fact(F) ; 1@0, F : request_fact(F) }.
"""


@lru_cache(maxsize=1)
def _diff_statements() -> tuple[ast.AST, ...]:
    out = list(space_statements())
    ast.parse_string(DIFF_RULES, out.append)
    return tuple(out)


@dataclass(frozen=True)
class Difference:
    subject: str  # "L4-L5" or "rhbmp2" / "interbody_device@L4-L5"
    a: str
    b: str


@dataclass
class Witness:
    case: dict
    differences: list[Difference]
    decision_a: Decision
    decision_b: Decision
    facts: int




@dataclass
class DiffResult:
    a: Policy
    b: Policy
    bounds: Bounds
    witnesses: list[Witness] = field(default_factory=list)
    complete: bool = True  # the search ended by exhausting the space, not by --max or time
    timed_out: bool = False
    problems: list[str] = field(default_factory=list)
    #: items that one policy has criteria for and the other does not (always differ)
    unaddressed: list[tuple[str, str]] = field(default_factory=list)  # (item, policy id that addresses it)


def compare(decision_a: Decision, decision_b: Decision) -> list[Difference]:
    """Every requested level or item that the two decisions determine differently."""
    a, b = _subjects(decision_a), _subjects(decision_b)
    out = []
    for key in a:
        if key in b and a[key].determination != b[key].determination:
            out.append(Difference(key, a[key].determination, b[key].determination))
    return out


def diff(policy_a: Policy, policy_b: Policy, *, levels: tuple[str, ...] = ("L4-L5",), max_witnesses: int = 5,
         timeout: float | None = None, progress=None) -> DiffResult:
    b_space = bounds([policy_a, policy_b], levels)
    result = DiffResult(policy_a, policy_b, b_space)
    items_a, items_b = addressed_items(policy_a), addressed_items(policy_b)
    result.unaddressed = sorted([(i, policy_a.id) for i in items_a - items_b] + [(i, policy_b.id) for i in items_b - items_a])
    statements = list(_diff_statements())
    statements += rename_apart(list(core_statements()) + list(policy_a.statements), "a__")
    statements += rename_apart(list(core_statements()) + list(policy_b.statements), "b__")
    shown = [p.signature for p in PREDICATES] + ["differs/3", "cause_met/2", "cause_refuted/2", "documentation_fact/1"]
    search = Search(statements, list(anatomy()) + space_facts(b_space), shown)
    engines = (Engine(policy_a), Engine(policy_b))
    seen: set[tuple] = set()
    import time

    deadline = None if timeout is None else time.monotonic() + timeout
    while len(result.witnesses) < max_witnesses:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        model, finished = search.best(remaining)
        if not finished:
            result.complete, result.timed_out = False, True
        if model is None:
            break
        case_id = f"diff-{policy_a.id}-vs-{policy_b.id}-{len(result.witnesses) + 1}"
        record = to_case(case_id, model)
        case = parse_case(json.dumps(record), f"{case_id} (generated)", fmt="json")
        mismatch = round_trip_mismatch(model, list(anatomy()) + list(case_atoms(case)))
        if mismatch:
            result.problems.append(f"{case_id}: the case file does not reproduce the searched facts: {sorted(mismatch)[:6]}")
        da, db = (e.decide(case) for e in engines)
        differences = compare(da, db)
        if not differences:
            result.problems.append(f"{case_id}: the solver's difference did not survive re-deciding the case file")
        facts = sum(1 for s in model if s.name == "documentation_fact")
        witness = Witness(record, differences, da, db, facts)
        cause = model_cause(model)
        if differences and cause not in seen:
            seen.add(cause)
            result.witnesses.append(witness)
            if progress:
                progress(len(result.witnesses))
        if not _forbid_cause(search, model):
            break
    else:
        result.complete = False
    return result


def addressed_items(policy: Policy) -> set[str]:
    """Items a policy has a criterion for (``scope(C, item(I))``)."""

    out = set()
    for stm in policy.statements:
        text = str(stm)
        if text.startswith("scope(") and ",item(" in text and not list(getattr(stm, "body", [])):
            out.add(text.split(",item(", 1)[1].split(")", 1)[0])
    return out


def _causes(model: tuple[Symbol, ...]) -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    met: dict[str, set[str]] = {}
    refuted: dict[str, set[str]] = {}
    for s in model:
        if s.name in ("cause_met", "cause_refuted"):
            (met if s.name == "cause_met" else refuted).setdefault(str(s.arguments[0]), set()).add(s.arguments[1].string)
    return {x: (frozenset(met.get(x, ())), frozenset(refuted.get(x, ()))) for x in set(met) | set(refuted)}


def model_cause(model: tuple[Symbol, ...]) -> tuple:
    """Per difference: the subject's kind, both determinations, what the higher
    policy found met, and what the lower one refuted on documented findings."""
    causes = _causes(model)
    out = []
    for d in (s for s in model if s.name == "differs"):
        x, da, db = d.arguments
        met, refuted = causes.get(str(x), (frozenset(), frozenset()))
        out.append((x.name if x.name == "level" else x.arguments[0].name, da.name, db.name,
                    tuple(sorted(met)), tuple(sorted(refuted))))
    return tuple(sorted(out))


def _forbid_cause(search: Search, model: tuple[Symbol, ...]) -> bool:
    """Ask for a witness with another cause: not these criteria met and these
    refuted (or more of either), at any subject of the same kind."""
    causes = _causes(model)
    added = False
    for d in (s for s in model if s.name == "differs"):
        subject = d.arguments[0]
        met, refuted = causes.get(str(subject), (frozenset(), frozenset()))
        for candidate in search.atoms("differs", 3):
            x = candidate.arguments[0]
            if x.name != subject.name or candidate.arguments[1:] != d.arguments[1:]:
                continue
            if x.name == "item" and x.arguments[0] != subject.arguments[0]:
                continue
            positive = [candidate]
            positive += [Function("cause_met", [x, String(c)]) for c in sorted(met)]
            positive += [Function("cause_refuted", [x, String(c)]) for c in sorted(refuted)]
            added |= search.forbid(positive, [])
    return added


def policy_at_revision(ref: str, workdir: Path) -> Path:
    """``reference@HEAD~1``: the policy folder as committed at a git revision, in ``workdir``."""
    import subprocess

    from engine.policy import resolve

    name, _, rev = ref.partition("@")
    if not rev or rev.startswith("-"):  # git would read it as an option
        raise UserError(f"{ref}: '{rev}' is not a git revision: give ID@REV with REV a commit, tag or branch "
                        "(HEAD~1, v2), or the path of a policy folder")
    folder = resolve(name)
    try:
        top = subprocess.run(["git", "-C", str(folder), "rev-parse", "--show-toplevel"], capture_output=True,
                             text=True, check=True).stdout.strip()
        rel = folder.relative_to(Path(top).resolve())
        listing = subprocess.run(["git", "-C", top, "ls-tree", "-r", "--name-only", rev, "--", str(rel)],
                                 capture_output=True, text=True, check=True).stdout.split()
    except (subprocess.CalledProcessError, FileNotFoundError, ValueError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        raise UserError(f"{ref}: cannot read policy {name} at revision {rev}: {detail.strip()}") from None
    if not listing:
        raise UserError(f"{ref}: revision {rev} has no files under {rel}")
    target = workdir / f"{folder.name}@{rev.replace('/', '_')}"
    for path in listing:
        if not path.endswith((".lp", ".yaml")):
            continue
        content = subprocess.run(["git", "-C", top, "show", f"{rev}:{path}"], capture_output=True, check=True).stdout
        out = target / Path(path).relative_to(rel)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(content)
    return target
