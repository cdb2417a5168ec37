"""Every shipped record under every shipped policy, decided once per process (with the what-if).

The examples (examples/*.yaml) under each policy in policies/, and each policy's goldens
(policies/*/tests/*.yaml) under that policy; `make thorough` adds every golden under every
other policy too.  Tests that hold a claim over "every decision the project ships" read
``decisions()``; being cached, several such tests in one module pay for the solves once.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from engine.authoring.golden import discover, golden_case, load_golden
from engine.deciding.decision import Decision
from engine.deciding.policy import load
from engine.deciding.solver import Engine
from facts import load_case
from thorough import THOROUGH

ROOT = Path(__file__).resolve().parents[1]
POLICIES = tuple(sorted(p.name for p in (ROOT / "policies").iterdir() if (p / "policy.lp").is_file()))
EXAMPLES = tuple(sorted((ROOT / "examples").glob("*.yaml")))


def goldens(policy: str) -> list[Path]:
    return discover(ROOT / "policies" / policy)


@lru_cache(maxsize=None)
def _policy(name: str):
    return load(str(ROOT / "policies" / name))


@lru_cache(maxsize=None)
def decisions() -> tuple[tuple[str, str, Decision], ...]:
    """``(policy, record path relative to the repository, decision)`` for every pair decided."""
    out = []
    for name in POLICIES:
        engine = Engine(_policy(name))
        records = [(p, load_case(p)) for p in EXAMPLES]
        for owner in POLICIES:
            if owner == name or THOROUGH:
                records += [(p, golden_case(load_golden(p))) for p in goldens(owner)]
        for path, case in records:
            out.append((name, str(path.relative_to(ROOT)), engine.decide(case)))
    return tuple(out)


def policy(name: str):
    """The loaded policy (cached)."""
    return _policy(name)
