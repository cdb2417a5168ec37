"""The second line of defence: cases no search chose, decided before any "proved" is printed.

``check`` and ``diff`` prove their "no" answers within bounds derived from
the policies (engine/analysing/space.py).  A derivation that misses a
distinction the policies draw makes a bound too narrow and a proof false.
Before either prints "proved", it decides a sample the search had no hand
in: the examples, the goldens of the policies compared, and a seeded library
of generated records (bench/generate.py) decided through the batch path
(``Engine.decide_many``).  A case that refutes a claim is a finding, named
with the claim, and marked as the engine's problem: the bounds missed it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from engine.deciding.errors import PolicyError, UserError
from engine.deciding.limits import meanwhile
from engine.deciding.policy import Policy
from engine.deciding.solver import Engine

ROOT = Path(__file__).resolve().parents[2]
#: How many generated records the sample holds, unless NECESSITY_SAMPLE says (the tests keep a smaller library).
SAMPLE_SIZE = 2000
SAMPLE_SEED = 2026
#: The claims of ``check`` a sampled case may refute.
TOTAL = "every case gets exactly one answer"


def dead_claim(criterion: str) -> str:
    return f"{criterion} is dead (no case meets it)"


_RANK = {"none": 0, "decompression_only": 1, "fusion": 2, "not_medically_necessary": 0, "medically_necessary": 1}


@dataclass(frozen=True)
class Refutation:
    """A sampled case on which a claim of the search is false."""

    source: str  # "examples/source-001.yaml", "reference golden dynamic-instability", "generated record 17"
    claim: str  # the claim refuted, in words
    detail: str  # what the case shows
    key: tuple = ()  # diff: (question key, direction) the search answered "no"

    def text(self) -> str:
        return f"{self.source} refutes \"{self.claim}\": {self.detail}; the bounds missed it (engine problem: please report)"


@lru_cache(maxsize=4)
def _generated(size: int, seed: int) -> tuple[tuple[str, str], ...]:
    """``size`` records of bench/generate.py (seeded), as JSON texts; none when the generator is not here."""
    path = ROOT / "bench" / "generate.py"
    if size <= 0 or not path.is_file():
        return ()
    spec = importlib.util.spec_from_file_location("necessity_bench_generate", path)
    if spec is None or spec.loader is None:
        return ()
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("necessity_bench_generate", module)
    spec.loader.exec_module(module)
    return tuple((f"generated record {i + 1} (seed {seed})", json.dumps(r))
                 for i, r in enumerate(module.case_records(size, seed)))


def sample_size(size: int | None = None) -> int:
    """``size``, or NECESSITY_SAMPLE from the environment, or SAMPLE_SIZE."""
    if size is not None:
        return size
    text = os.environ.get("NECESSITY_SAMPLE", "")
    return int(text) if text.isdigit() else SAMPLE_SIZE


def sample(policies: Sequence[Policy], size: int | None = None, seed: int = SAMPLE_SEED) -> list[tuple[str, Any]]:
    """(source, case) for every example, every golden of ``policies`` and ``size`` generated records."""
    size = sample_size(size)
    from engine.authoring.golden import discover, golden_case, load_golden
    from facts.load import CaseFileError, parse_case

    out: list[tuple[str, Any]] = []
    for path in sorted((ROOT / "examples").glob("*.yaml")) if (ROOT / "examples").is_dir() else []:
        try:
            out.append((f"examples/{path.name}", parse_case(path.read_text(encoding="utf-8"), str(path))))
        except CaseFileError:
            continue
    for policy in policies:
        for path in discover(Path(policy.folder)):
            try:
                out.append((f"{policy.id} golden {path.stem}", golden_case(load_golden(path))))
            except (CaseFileError, UserError, ValueError):
                continue
    for source, text in _generated(size, seed):
        try:
            out.append((source, parse_case(text, source, fmt="json")))
        except CaseFileError:
            continue
    return out


def _decide(policy: Policy, cases: Sequence[Any]) -> list[Any]:
    return Engine(policy).decide_many(list(cases), would_change=False)


def _request_kind(case: Any, level: str) -> str:
    for entry in case.request.levels:
        if entry.level == level:
            dec, fus = bool(entry.decompression), bool(entry.fusion)
            return "both" if dec and fus else ("fusion" if fus else "decompression")
    return ""


def _direction(a: str, b: str) -> str:
    if a not in _RANK or b not in _RANK:
        return "kind"
    return "a" if _RANK[a] > _RANK[b] else "b"


def diff_refutations(policy_a: Policy, policy_b: Policy, claims: Iterable[tuple[tuple[str, str, str], str]],
                     size: int | None = None, seed: int = SAMPLE_SEED) -> tuple[int, list[Refutation]]:
    """The sampled cases decided differently in a way the search said no case is (its "no" answers).

    ``claims``: (question key, direction) the search answered "no".  Returns
    the number of cases decided and the refutations, one per claim at most.
    """
    from engine.authoring.golden import subjects

    denied = set(claims)
    cases = sample([policy_a, policy_b], size, seed)
    decided_a = _decide(policy_a, [c for _, c in cases])
    decided_b = _decide(policy_b, [c for _, c in cases])
    found: dict[tuple[tuple[str, str, str], str], Refutation] = {}
    for (source, case), da, db in zip(cases, decided_a, decided_b):
        if isinstance(da, PolicyError) or isinstance(db, PolicyError):
            if isinstance(da, PolicyError) != isinstance(db, PolicyError):
                key = (("answers", "", ""), "a" if isinstance(db, PolicyError) else "b")
                if key in denied and key not in found:
                    silent = policy_b.id if isinstance(db, PolicyError) else policy_a.id
                    found[key] = Refutation(source, "every case gets an answer from both or from neither",
                                            f"{silent} gives it no answer", key)
            continue
        sa, sb = subjects(da), subjects(db)
        for subject in sa:
            if subject not in sb or sa[subject].determination == sb[subject].determination:
                continue
            a, b = sa[subject].determination, sb[subject].determination
            if "@" in subject or subject not in {lv.level for lv in case.request.levels}:
                key = (("item", subject, ""), _direction(a, b))
                label = subject
            else:
                kind = _request_kind(case, subject)
                key = (("level", subject, kind), _direction(a, b))
                label = f"{subject} requesting {kind}"
            if key in denied and key not in found:
                found[key] = Refutation(source, f"{label}: no case is decided {_said(key[1], policy_a, policy_b)}",
                                        f"{policy_a.id} {a}, {policy_b.id} {b}", key)
    return len(cases), [found[k] for k in sorted(found)]


def _said(direction: str, a: Policy, b: Policy) -> str:
    return {"a": f"higher by {a.id}", "b": f"higher by {b.id}"}.get(direction, "with a determination of another kind")


#: a sampled case as check reads it: its source, why the policy has no answer for it (or None), the criteria met
Outcome = tuple[str, "str | None", frozenset[str]]


def check_outcomes(policy: Policy, size: int | None = None, seed: int = SAMPLE_SEED) -> list[Outcome]:
    """Every sampled case decided, as much of it as check's claims read."""
    cases = sample([policy], size, seed)
    out: list[Outcome] = []
    for (source, _case), decision in zip(cases, _decide(policy, [c for _, c in cases])):
        if isinstance(decision, PolicyError):
            out.append((source, str(decision).rpartition(": ")[2], frozenset()))
        else:
            out.append((source, None, frozenset(cid for cid, _scope, status in decision.statuses if status == "met")))
    return out


def outcomes_meanwhile(policy: Policy, size: int | None = None) -> Callable[[], list[Outcome]]:
    """Start deciding the sample in a forked process while the caller searches; returns a function that
    waits for it.  The sample owes the search nothing (the claims are read afterwards), so on a second
    core it costs no time.  Where no fork can be made, or the child fails, the sample is decided here."""
    pending = meanwhile(lambda: check_outcomes(policy, size))

    def wait() -> list[Outcome]:
        found = pending()
        return found if found is not None else check_outcomes(policy, size)

    wait.cancel = pending.cancel  # type: ignore[attr-defined]
    return wait


def check_refutations(policy: Policy, total: bool, dead: Iterable[str], size: int | None = None,
                      seed: int = SAMPLE_SEED, outcomes: Sequence[Outcome] | None = None) -> tuple[int, list[Refutation]]:
    """The sampled cases that refute "every case gets exactly one answer" (``total``) or a criterion proved dead."""
    dead = set(dead)
    outcomes = check_outcomes(policy, size, seed) if outcomes is None else outcomes
    out: list[Refutation] = []
    seen: set[str] = set()
    for source, error, met in outcomes:
        if error is not None:
            if total and "totality" not in seen:
                seen.add("totality")
                out.append(Refutation(source, TOTAL, error))
            continue
        for cid in sorted(met & dead):
            if cid not in seen:
                seen.add(cid)
                out.append(Refutation(source, dead_claim(cid), f"{cid} is met"))
    return len(outcomes), out
