"""Output files: written whole or not at all, never over an input, and kept
when a run is stopped; witnesses kept when they cannot be written.

docs/security.md ("Output") states the guarantees these tests hold.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from engine.cli import main

ROOT = Path(__file__).resolve().parents[2]
NECESSITY = ROOT / ".venv" / "bin" / "necessity"
EXAMPLES = ROOT / "examples"
PREVIOUS = '{"previous": "run"}\n'


def _run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def _refused(result, *pieces: str) -> None:
    shown = f"exit {result.exit_code}\nstdout: {result.stdout!r}\nstderr: {result.stderr!r}"
    assert result.exit_code == 2, shown
    assert "Traceback" not in result.output, shown
    assert result.stderr.startswith("error: "), shown
    for piece in pieces:
        assert piece in result.stderr, f"the message lacks {piece!r}\n{shown}"


def _jsonl(path: Path, copies: int = 1) -> Path:
    lines = [json.dumps(yaml.safe_load(p.read_text(encoding="utf-8")), default=str) for p in sorted(EXAMPLES.glob("*.yaml"))]
    path.write_text("\n".join(lines * copies) + "\n", encoding="utf-8")
    return path


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp"))


# ---------------------------------------------------------------------------
# --out that is an input: refused before anything is opened for writing
# ---------------------------------------------------------------------------


def test_out_that_is_the_input_is_refused_and_the_input_kept(tmp_path):
    cases = _jsonl(tmp_path / "same.jsonl")
    before = cases.read_bytes()
    result = _run("batch", cases, "--out", cases)
    _refused(result, f"--out {cases}", "is the input", "write the records to another file")
    assert cases.read_bytes() == before


@pytest.mark.parametrize("name", ["source-000.yaml", "decisions.jsonl", "sub/decisions.jsonl"])
def test_out_inside_the_input_folder_is_refused(tmp_path, name):
    folder = tmp_path / "fold"
    shutil.copytree(EXAMPLES, folder)
    (folder / "sub").mkdir()
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    result = _run("batch", folder, "--out", folder / name)
    _refused(result, "inside the input folder", "write the records outside it")
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before


def test_out_through_a_link_or_a_relative_path_to_the_input_is_refused(tmp_path, monkeypatch):
    cases = _jsonl(tmp_path / "cases.jsonl")
    (tmp_path / "link.jsonl").symlink_to(cases)
    os.link(cases, tmp_path / "hard.jsonl")
    monkeypatch.chdir(tmp_path)
    before = cases.read_bytes()
    for out in ("link.jsonl", "hard.jsonl", "./cases.jsonl", str(tmp_path / "x" / ".." / "cases.jsonl")):
        _refused(_run("batch", "cases.jsonl", "--out", out), "is the input")
    assert cases.read_bytes() == before


def test_out_in_the_policy_folder_is_refused(tmp_path):
    policy = tmp_path / "pol"
    shutil.copytree(ROOT / "policies" / "reference", policy)
    result = _run("batch", EXAMPLES / "source-001.yaml", "--policy", policy, "--out", policy / "policy.lp")
    _refused(result, "inside the policy folder")
    assert (policy / "policy.lp").read_bytes() == (ROOT / "policies" / "reference" / "policy.lp").read_bytes()


@pytest.mark.parametrize("where", ["folder", "missing-folder"])
def test_out_that_cannot_be_a_file_is_refused_before_deciding(tmp_path, where):
    out = tmp_path / "out" if where == "folder" else tmp_path / "nowhere" / "out.jsonl"
    if where == "folder":
        out.mkdir()
    _refused(_run("batch", EXAMPLES, "--out", out), f"--out {out}")


# ---------------------------------------------------------------------------
# written whole or not at all
# ---------------------------------------------------------------------------


def test_out_replaces_the_previous_file_only_when_complete(tmp_path, monkeypatch):
    out = tmp_path / "decisions.jsonl"
    out.write_text(PREVIOUS)
    seen_during_the_run = []
    import engine.running.batch

    real = engine.running.batch.Decider.__call__

    def spying(self, chunk):
        seen_during_the_run.append(out.read_text())
        return real(self, chunk)

    monkeypatch.setattr(engine.running.batch.Decider, "__call__", spying)
    result = _run("batch", EXAMPLES, "--out", out)
    assert result.exit_code == 0, result.output
    assert seen_during_the_run == [PREVIOUS]
    assert [json.loads(line)["case"] for line in out.read_text().splitlines()] == [f"source-00{i}" for i in range(5)]
    assert _leftovers(tmp_path) == []


def test_a_run_that_fails_leaves_the_previous_file(tmp_path, monkeypatch):
    out = tmp_path / "decisions.jsonl"
    out.write_text(PREVIOUS)
    import engine.running.batch

    def full_disk(self, chunk):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(engine.running.batch.Decider, "__call__", full_disk)
    result = _run("batch", EXAMPLES, "--out", out)
    _refused(result, f"--out {out}", "No space left on device")
    assert out.read_text() == PREVIOUS
    assert _leftovers(tmp_path) == []


def test_a_device_is_written_in_place(tmp_path):
    result = _run("batch", EXAMPLES / "source-001.yaml", "--out", os.devnull)
    assert result.exit_code == 0, result.output
    assert Path(os.devnull).is_char_device()


# ---------------------------------------------------------------------------
# stopped by a signal: every worker stopped, completed records kept, previous file intact
# ---------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _start_and_stop(tmp_path: Path, sig: int, out: str, *, kill_workers_parent: bool = False):
    """Start a two-worker batch, wait until it has written records, send ``sig``; (process, workers, stdout, stderr)."""
    cases = _jsonl(tmp_path / "cases.jsonl", copies=800)
    stdout_path, stderr_path = tmp_path / "stdout", tmp_path / "stderr"
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        proc = subprocess.Popen([str(NECESSITY), "batch", str(cases), "--jobs", "2", "--out", out],
                                stdout=stdout, stderr=stderr, cwd=tmp_path)
        workers: list[int] = []
        deadline = time.monotonic() + 120  # a guard against a hang, not a measure of speed
        while time.monotonic() < deadline and proc.poll() is None:
            workers = _children(proc.pid)
            written = stdout_path.read_bytes().count(b"\n") if out == "-" else sum(
                p.read_bytes().count(b"\n") for p in tmp_path.glob(".*.tmp"))
            if len(workers) == 2 and written >= 64:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the batch ended before it could be stopped: make the library larger"
        proc.send_signal(sig)
        proc.wait(timeout=60)
    return proc, workers, stdout_path.read_text(encoding="utf-8"), stderr_path.read_text(encoding="utf-8")


def _no_worker_left(workers: list[int]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.05)
    assert workers and not any(_alive(w) for w in workers), f"workers left running: {[w for w in workers if _alive(w)]}"


linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


@linux_only
@pytest.mark.parametrize("sig,status,name", [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "SIGINT")])
def test_a_signal_stops_every_worker_and_keeps_the_previous_file(tmp_path, sig, status, name):
    out = tmp_path / "decisions.jsonl"
    out.write_text(PREVIOUS)
    proc, workers, stdout, stderr = _start_and_stop(tmp_path, sig, str(out))
    assert proc.returncode == status, stderr
    assert "Traceback" not in stderr and "Error" not in stderr, stderr
    _no_worker_left(workers)
    assert out.read_text() == PREVIOUS
    [line] = [ln for ln in stderr.splitlines() if name in ln]
    partial = Path(f"{out}.partial")
    records = [json.loads(r) for r in partial.read_text().splitlines()]
    assert records and all("case" in r for r in records)
    assert f"stopped by {name} after {len(records)} cases" in line and str(partial) in line, line
    assert _leftovers(tmp_path) == []


@linux_only
def test_a_signal_to_a_batch_writing_to_stdout_leaves_whole_records(tmp_path):
    proc, workers, stdout, stderr = _start_and_stop(tmp_path, signal.SIGTERM, "-")
    assert proc.returncode == 143, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr
    _no_worker_left(workers)
    records = [json.loads(line) for line in stdout.splitlines()]
    assert stdout.endswith("\n") and records
    assert f"stopped by SIGTERM after {len(records)} cases" in stderr


@linux_only
def test_workers_do_not_outlive_a_killed_batch(tmp_path):
    out = tmp_path / "decisions.jsonl"
    out.write_text(PREVIOUS)
    proc, workers, _stdout, _stderr = _start_and_stop(tmp_path, signal.SIGKILL, str(out))
    assert proc.returncode == -signal.SIGKILL
    _no_worker_left(workers)
    assert out.read_text() == PREVIOUS


# ---------------------------------------------------------------------------
# --emit: refused before the search when it cannot be written, witnesses kept when writing fails
# ---------------------------------------------------------------------------

#: A small policy written from the authoring guide keeps these searches short; {policy} is its folder.
SMALL = ROOT / "tests" / "data" / "xray-mini"
EMITTERS = {
    "diff": ("diff", "reference", "{policy}", "--max", "1", "--emit", "{emit}"),
    "check": ("check", "{policy}", "--level", "L4-L5", "--emit", "{emit}"),
}


def _emitter(command: str, emit: Path, policy: Path = SMALL) -> list[str]:
    return [a.format(emit=emit, policy=policy) for a in EMITTERS[command]]


@pytest.mark.parametrize("command", EMITTERS, ids=str)
def test_emit_into_a_file_is_refused_before_searching(tmp_path, command, monkeypatch):
    file = tmp_path / "witnesses"
    file.write_text("not a folder\n")
    target = file / "sub"
    import engine.analysing.check
    import engine.analysing.diff

    def never(*args, **kwargs):
        raise AssertionError("searched although --emit could not be written")

    monkeypatch.setattr(engine.analysing.diff, "diff_events", never)
    monkeypatch.setattr(engine.analysing.check, "check_events", never)
    result = _run(*_emitter(command, target))
    _refused(result, f"--emit {target}", "is a file")
    assert file.read_text() == "not a folder\n"
    named = _run(*_emitter(command, file))  # the file itself: refused by click
    assert named.exit_code == 2 and "is a file" in named.output and "Traceback" not in named.output


@pytest.mark.parametrize("command", EMITTERS, ids=str)
def test_emit_into_a_policy_folder_is_refused(tmp_path, command):
    policy = tmp_path / "pol"
    shutil.copytree(SMALL, policy)
    _refused(_run(*_emitter(command, policy / "witnesses", policy)), "inside the policy folder")
    assert not (policy / "witnesses").exists()


@pytest.mark.parametrize("command", EMITTERS, ids=str)
def test_witnesses_that_cannot_be_written_are_printed(tmp_path, command, monkeypatch):
    import engine.presenting.output

    def read_only(path, text):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(engine.presenting.output, "write_whole", read_only)
    target = tmp_path / "witnesses"
    result = _run(*_emitter(command, target))
    shown = f"exit {result.exit_code}\nstdout: {result.stdout[-3000:]!r}\nstderr: {result.stderr!r}"
    assert result.exit_code == 2 and "Traceback" not in result.output, shown
    assert "Permission denied" in result.stderr and f"--emit {target}" in result.stderr, shown
    assert "the witnesses are printed above" in result.stderr, shown
    after = result.stdout.split("# witness cases not written", 1)[1].split("\n", 1)[1]
    documents = [d for d in yaml.safe_load_all(after) if d]
    assert documents and all("case" in d and "request" in d for d in documents), shown
