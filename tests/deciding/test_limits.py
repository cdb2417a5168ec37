"""--timeout holds for grounding and solving alike, and memory is bounded, in every command that grounds a
policy: a stop is reported as "not proved" (or "not decided"), exit 2, never a hang or a traceback.

Issue 12, reproduction 3: reference plus ``p(0). p(X+1) :- p(X).`` grounds forever; `diff --timeout 5`
and `check --timeout 5` ran on for 45 s and 3.6 GB.  `test` and `batch` check first that the policy
grounds with the core (one message, not one per case): that check is bounded too.  Each command runs here in a process of its own,
with a generous guard so that a regression fails instead of hanging the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from edits import edited
from engine.cli import main

ROOT = Path(__file__).resolve().parents[2]
GUARD = 120  # seconds: far beyond the limits below, only there so a hang fails


@pytest.fixture(scope="module")
def endless(tmp_path_factory) -> Path:
    return edited(tmp_path_factory.mktemp("endless") / "reference", extra="% grounds forever\np(0). p(X+1) :- p(X).")


def _necessity(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=GUARD, check=False, env={**os.environ, **(env or {})})


COMMANDS = {
    "check": ["check", "{policy}", "--level", "L4-L5"],
    "diff": ["diff", "reference", "{policy}"],
    "test": ["test", "{policy}"],
    "audit-examples": ["audit-examples", "examples/source-000.yaml", "--policy", "{policy}"],
    "explain": ["explain", "examples/source-003.yaml", "--policy", "{policy}"],
    "batch": ["batch", "examples/", "--policy", "{policy}"],
}


@pytest.fixture(scope="module")
def stopped(endless) -> dict[str, subprocess.Popen]:
    """Every command started at once on the endless policy, each with --timeout 3: the limits are
    wall-clock, so the six stop together rather than one after another."""
    started = {}
    for name, command in COMMANDS.items():
        args = [a.replace("{policy}", str(endless)) for a in command]
        started[name] = subprocess.Popen([sys.executable, "-m", "engine.cli", *args, "--timeout", "3"],
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    yield started
    for proc in started.values():
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.mark.parametrize("command", COMMANDS)
def test_a_policy_that_grounds_forever_stops_at_the_timeout(stopped, command):
    stdout, stderr = stopped[command].communicate(timeout=GUARD)
    assert stopped[command].returncode == 2, stdout + stderr
    assert "stopped after --timeout 3s" in stdout + stderr
    assert "Traceback" not in stderr


def test_memory_is_bounded(endless):
    run = _necessity("explain", "examples/source-003.yaml", "--policy", str(endless), "--timeout", "100",
                     env={"NECESSITY_MEMORY_MB": "400"})
    assert run.returncode == 2, run.stdout + run.stderr
    assert "ran out of memory (limit 400 MB" in run.stderr
    assert "Traceback" not in run.stderr


def test_what_was_answered_before_the_timeout_stands():
    """check answers its questions one by one: those answered in time are reported, the rest named."""
    run = _necessity("check", "aetna-cpb-0743", "--timeout", "0.5")
    assert run.returncode == 2, run.stdout + run.stderr
    assert "stopped after --timeout 0.5s: not answered (not proved):" in run.stdout
    assert "(proved" not in run.stdout


def test_a_diff_stopped_early_keeps_its_witnesses_and_claims_no_proof():
    result = CliRunner().invoke(main, ["diff", "reference", "reference", "--timeout", "0.2"])
    assert result.exit_code == 2, result.output
    assert "(proved)" not in result.output
    assert "not proved" in result.output


def test_explain_within_its_timeout_gives_the_usual_answer():
    plain = CliRunner().invoke(main, ["explain", "examples/source-003.yaml", "--format", "json"])
    limited = CliRunner().invoke(main, ["explain", "examples/source-003.yaml", "--format", "json", "--timeout", "60"])
    assert plain.exit_code == limited.exit_code == 0
    assert plain.output == limited.output
