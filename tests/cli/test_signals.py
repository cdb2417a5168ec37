"""No command leaves a process behind after SIGTERM, SIGHUP or SIGINT (issue 21, "Processes left behind").

Each command grounds a policy in a child process (engine/deciding/limits.py).  Before the fix, a
signal to the command ended it and left the grounding child running in a process group of its
own, growing to the memory cap; behind ``timeout 100 necessity explain ... | tail`` the pipe stayed
open 440 s.  Here every command is started on a policy that grounds forever, its process tree is
listed once the child is at work, the signal is sent to the command alone, and the tree is listed
again: nothing of it may be left, the exit status is 128 + the signal and the last word is one line.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edits import edited

ROOT = Path(__file__).resolve().parents[2]
NECESSITY = ROOT / ".venv" / "bin" / "necessity"
GUARD = 60  # seconds: only there so that a regression fails instead of hanging the suite

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

COMMANDS = {
    "explain": ["explain", "examples/source-003.yaml", "--policy", "{policy}"],
    "check": ["check", "{policy}", "--level", "L4-L5", "--timeout", "600"],
    "diff": ["diff", "reference", "{policy}"],
    "test": ["test", "{policy}"],
    "audit-examples": ["audit-examples", "examples/source-000.yaml", "--policy", "{policy}"],
    "batch": ["batch", "examples/", "--policy", "{policy}", "--jobs", "2"],
    "lint": ["lint", "{policy}"],
}
SIGNALS = {"SIGTERM": signal.SIGTERM, "SIGHUP": signal.SIGHUP, "SIGINT": signal.SIGINT}


@pytest.fixture(scope="module")
def endless(tmp_path_factory) -> Path:
    return edited(tmp_path_factory.mktemp("endless") / "reference", extra="% grounds forever\np(0). p(X+1) :- p(X).")


def _parents() -> dict[int, int]:
    """Every running process and its parent, from /proc (zombies left out: they hold nothing)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            found[int(entry.name)] = int(fields[1])
    return found


def tree(pid: int) -> set[int]:
    """The processes descended from ``pid`` now."""
    parents, found, todo = _parents(), set(), [pid]
    while todo:
        current = todo.pop()
        for child, parent in parents.items():
            if parent == current and child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    running = _parents()
    return {p for p in pids if p in running}


def _start(command: str, policy: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    args = [a.replace("{policy}", str(policy)) for a in COMMANDS[command]]
    # A session of its own, so that the cleanup below can end whatever a failing test leaves.
    return subprocess.Popen([str(NECESSITY), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, start_new_session=True,
                            env={**os.environ, "NECESSITY_MEMORY_MB": "1500", **(env or {})})


def _at_work(proc: subprocess.Popen) -> set[int]:
    """The command's process tree once a child is grounding (its descendants, listed before the signal)."""
    deadline = time.monotonic() + GUARD
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        children = tree(proc.pid)
        if children:
            time.sleep(0.5)  # the child at work, and any helper it forks
            return tree(proc.pid) | children
        time.sleep(0.05)
    raise AssertionError("no child process started")


def _cleanup(proc: subprocess.Popen, listed: set[int]) -> None:
    for pid in alive(listed):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()


@pytest.mark.parametrize("name", SIGNALS)
@pytest.mark.parametrize("command", COMMANDS)
def test_a_signal_ends_the_whole_tree(endless, command, name):
    proc = _start(command, endless)
    listed: set[int] = set()
    try:
        listed = _at_work(proc)
        proc.send_signal(SIGNALS[name])
        _stdout, stderr = proc.communicate(timeout=GUARD)
        deadline = time.monotonic() + 5  # SIGKILL is sent before the command exits; the kernel reaps at once
        while alive(listed) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(listed), f"left running after {name}: {sorted(alive(listed))} of {sorted(listed)}"
        assert proc.returncode == 128 + SIGNALS[name], stderr
        assert "Traceback" not in stderr, stderr
        assert f"stopped by {name}" in stderr.strip().splitlines()[-1], stderr
        assert "answers" not in stderr, stderr  # a stop is a stop, never a claim about the policy
    finally:
        _cleanup(proc, listed)


def test_the_child_dies_with_a_killed_command(endless):
    """SIGKILL cannot be handled: the kernel ends the child (PR_SET_PDEATHSIG)."""
    proc = _start("explain", endless, env={"NECESSITY_MEMORY_MB": "3000"})  # no memory stop in the seconds below
    listed: set[int] = set()
    try:
        listed = _at_work(proc)
        proc.kill()
        proc.communicate(timeout=GUARD)
        deadline = time.monotonic() + 2
        while alive(listed) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(listed), f"left running after SIGKILL: {sorted(alive(listed))}"
    finally:
        _cleanup(proc, listed)


def test_timeout_behind_a_pipe_returns_at_its_time(endless):
    """``timeout 3 necessity explain ... | tail``: the pipe closes when timeout ends the command."""
    script = f"timeout 3 {NECESSITY} explain examples/source-003.yaml --policy {endless} | tail -n 3; echo done"
    started = time.monotonic()
    run = subprocess.run(["bash", "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=GUARD,
                         env={**os.environ, "NECESSITY_MEMORY_MB": "1500"}, start_new_session=True)
    took = time.monotonic() - started
    assert run.stdout.strip().endswith("done")
    assert took < 3 + 10, f"the pipe stayed open {took:.0f}s after timeout's 3s"  # a guard, not a measure of speed
    assert "Traceback" not in run.stderr, run.stderr


@pytest.fixture(scope="module")
def slow(tmp_path_factory) -> Path:
    """Grounds at once, then solves for a long time (13 pigeons, 12 holes)."""
    return edited(tmp_path_factory.mktemp("slow") / "reference",
                  extra="{ hole(P, H) : H = 1..12 } = 1 :- P = 1..13.\n:- hole(P, H), hole(Q, H), P < Q.")


@pytest.mark.parametrize("name", SIGNALS)
def test_an_interrupted_solve_is_stopped_never_a_claim_about_the_policy(slow, name):
    """Before: an interrupted solve could be reported as "the policy gives 0 answers"."""
    proc = _start("explain", slow)
    listed: set[int] = set()
    try:
        listed = _at_work(proc)
        time.sleep(1.0)  # well into the search
        proc.send_signal(SIGNALS[name])
        _stdout, stderr = proc.communicate(timeout=GUARD)
        assert proc.returncode == 128 + SIGNALS[name], stderr
        assert "answers" not in stderr and "Traceback" not in stderr, stderr
        assert stderr.strip().splitlines()[-1].startswith(f"necessity: stopped by {name}"), stderr
        deadline = time.monotonic() + 5
        while alive(listed) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(listed)
    finally:
        _cleanup(proc, listed)
