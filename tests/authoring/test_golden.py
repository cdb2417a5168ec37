"""Golden cases: the five source examples (tests/golden) and every policy's own goldens."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.authoring.golden import check, discover, golden_case, load_golden
from engine.deciding.policy import DEFAULT_POLICIES_DIR, load, shipped_policies
from engine.deciding.solver import Engine

ROOT = Path(__file__).resolve().parents[2]
SOURCE_GOLDENS = sorted((ROOT / "tests" / "golden").glob("*.yaml"))
POLICY_GOLDENS = [(pid, path) for pid in shipped_policies() for path in discover(DEFAULT_POLICIES_DIR / pid)]

_engines: dict[str, Engine] = {}


def _engine(pid: str) -> Engine:
    if pid not in _engines:
        _engines[pid] = Engine(load(pid))
    return _engines[pid]


def _run(pid: str, path: Path, allow_case_file: bool) -> None:
    golden = load_golden(path, allow_case_file=allow_case_file)
    decision = _engine(pid).decide(golden_case(golden))
    mismatches = check(golden, decision)
    assert not mismatches, f"{pid} on {path.name} ({golden.description}):\n" + "\n".join(f"  {m}" for m in mismatches)


def test_every_source_case_has_a_golden():
    examples = sorted(p.stem for p in (ROOT / "examples").glob("source-*.yaml"))
    assert examples == [p.stem for p in SOURCE_GOLDENS] == [f"source-00{i}" for i in range(5)]


@pytest.mark.parametrize("path", SOURCE_GOLDENS, ids=lambda p: p.stem)
def test_source_case(path: Path):
    _run("reference", path, allow_case_file=True)


@pytest.mark.parametrize("pid,path", POLICY_GOLDENS, ids=[f"{pid}/{p.stem}" for pid, p in POLICY_GOLDENS])
def test_policy_golden(pid: str, path: Path):
    _run(pid, path, allow_case_file=False)


def test_reference_has_goldens():
    assert len(discover(DEFAULT_POLICIES_DIR / "reference")) >= 5
