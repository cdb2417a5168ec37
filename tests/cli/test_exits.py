"""Issue 21, "Tracebacks" and "Processes left behind" (the parts outside FHIR reading): a full disk, a
closed pipe, a policy saved with a byte-order mark, a bad NECESSITY_MEMORY_MB, and a batch worker whose
error cannot cross the process boundary.  Each gives exit 2 and one line (or a decision), never a
traceback, a PANIC or a hang, the same for every command.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from edits import edited

ROOT = Path(__file__).resolve().parents[2]
NECESSITY = ROOT / ".venv" / "bin" / "necessity"
GUARD = 120  # seconds: only there so that a hang fails instead of hanging the suite
REQUEST = ROOT / "tests" / "data" / "pas-request-multilevel-fusion.json"


def _necessity(*args: str, stdout=subprocess.PIPE, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(NECESSITY), *map(str, args)], stdout=stdout, stderr=subprocess.PIPE, text=True,
                          cwd=ROOT, timeout=GUARD, check=False, env={**os.environ, **(env or {})})


def _one_line_exit_2(run: subprocess.CompletedProcess, *pieces: str) -> None:
    shown = f"exit {run.returncode}\nstderr: {run.stderr!r}"
    assert run.returncode == 2, shown
    assert "Traceback" not in run.stderr and "PANIC" not in run.stderr and "Exception ignored" not in run.stderr, shown
    lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), shown
    for piece in pieces:
        assert piece in lines[0], shown


# Every command that writes to standard output, with arguments that make it write.
WRITERS = {
    "explain": ["explain", "examples/source-003.yaml"],
    "explain-json": ["explain", "examples/source-003.yaml", "--format", "json"],
    "explain-fhir": ["explain", str(REQUEST), "--format", "fhir"],
    "batch": ["batch", "examples/source-000.yaml"],
    "test": ["test", "tests/data/xray-mini"],
    "vocab": ["vocab"],
    "fhir-bundle": ["fhir", "bundle", "examples/source-002.yaml"],
    "fhir-questionnaire": ["fhir", "questionnaire"],
    "audit-examples": ["audit-examples", "examples/source-000.yaml"],
}


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("command", WRITERS)
def test_a_full_disk_on_standard_output_is_exit_2_and_one_line(command):
    with open("/dev/full", "w") as full:
        run = _necessity(*WRITERS[command], stdout=full)
    _one_line_exit_2(run, "No space left on device")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("args", [
    ["fhir", "bundle", "examples/source-002.yaml", "--out", "/dev/full"],
    ["fhir", "questionnaire", "--out", "/dev/full"],
    ["batch", "examples/source-000.yaml", "--out", "/dev/full"],
], ids=["fhir-bundle", "fhir-questionnaire", "batch"])
def test_a_full_disk_on_out_is_exit_2_and_one_line_naming_it(args):
    _one_line_exit_2(_necessity(*args), "--out /dev/full", "No space left on device")


def test_a_full_disk_on_a_regular_out_file_leaves_nothing_half_written(tmp_path, monkeypatch):
    """The disk fills while the Bundle is written: the file is not created, exit 2, one line."""
    import errno

    from click.testing import CliRunner

    from engine.cli import main
    from engine.presenting import output

    real_fsync = os.fsync

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(output.os, "fsync", full)
    out = tmp_path / "request.json"
    result = CliRunner().invoke(main, ["fhir", "bundle", str(ROOT / "examples" / "source-002.yaml"), "--out", str(out)])
    monkeypatch.setattr(output.os, "fsync", real_fsync)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.stderr.startswith("error: --out") and "No space left on device" in result.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", WRITERS)
def test_a_closed_pipe_is_exit_2_and_one_line(command):
    """The reader of the output is gone before the command writes: exit 2 whatever the command
    (it was 2 for batch, 0 for explain)."""
    proc = subprocess.Popen([str(NECESSITY), *WRITERS[command]], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=ROOT, text=True)
    proc.stdout.close()  # the reader ends at once
    stderr = proc.stderr.read()
    proc.wait(timeout=GUARD)
    _one_line_exit_2(subprocess.CompletedProcess(proc.args, proc.returncode, "", stderr), "broken pipe")


# ---------------------------------------------------------------------------
# a policy saved with a byte-order mark, or with a character clingo cannot read
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bom_policy(tmp_path_factory) -> Path:
    folder = edited(tmp_path_factory.mktemp("bom") / "reference")
    main = folder / "policy.lp"
    main.write_bytes(b"\xef\xbb\xbf" + main.read_bytes())
    return folder


def test_a_policy_with_a_byte_order_mark_is_read_as_without_it(bom_policy):
    plain = _necessity("explain", "examples/source-003.yaml", "--format", "json")
    marked = _necessity("explain", "examples/source-003.yaml", "--format", "json", "--policy", bom_policy)
    assert marked.returncode == 0 and "PANIC" not in marked.stderr, marked.stderr
    assert marked.stdout.replace(str(bom_policy), "") == plain.stdout.replace(str(ROOT / "policies" / "reference"), "")


def test_lint_warns_of_a_byte_order_mark(bom_policy):
    run = _necessity("lint", bom_policy)
    assert run.returncode == 1 and "PANIC" not in run.stderr, run.stderr
    [line] = run.stdout.splitlines()
    assert line.endswith("policy.lp:1:1: W207 byte-order mark at the start of the file: it is read and ignored, "
                         "but other tools may not; save the file as UTF-8 without BOM")


@pytest.mark.parametrize("text", ["\ufeffextra(1).", "b :- c\u2192d.", "q(\"\u00e9)."],
                         ids=["bom-inside", "arrow", "accent-in-unclosed-string"])
@pytest.mark.parametrize("command", ["explain", "lint", "test"])
def test_a_character_clingo_cannot_read_is_refused_with_its_place(tmp_path, text, command):
    """Before: clingo's logger aborted the process (PANIC: exception in nothrow scope), every command."""
    folder = edited(tmp_path / "reference", extra=text)
    args = {"explain": ["explain", "examples/source-003.yaml", "--policy", folder],
            "lint": ["lint", folder], "test": ["test", folder]}[command]
    run = _necessity(*args)
    assert "PANIC" not in run.stderr and "Traceback" not in run.stderr, run.stderr
    assert "E206 character U+" in run.stdout + run.stderr, run.stdout + run.stderr
    assert run.returncode == (1 if command == "lint" else 2), run.stderr


# ---------------------------------------------------------------------------
# NECESSITY_MEMORY_MB
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "-1", "lots", "1e3", "99999999999999999999", "4096.5"])
@pytest.mark.parametrize("command", [["explain", "examples/source-003.yaml"], ["lint", "reference"],
                                     ["batch", "examples/source-000.yaml"]], ids=["explain", "lint", "batch"])
def test_a_bad_memory_limit_is_refused_never_lifted(value, command):
    run = _necessity(*command, env={"NECESSITY_MEMORY_MB": value})
    _one_line_exit_2(run, f"NECESSITY_MEMORY_MB={value}", "cannot be switched off")


def test_the_memory_limit_is_read_when_a_command_runs(monkeypatch):
    from engine.deciding.errors import UserError
    from engine.deciding.limits import memory_limit

    monkeypatch.setenv("NECESSITY_MEMORY_MB", "512")
    assert memory_limit() == 512 * 2**20
    monkeypatch.delenv("NECESSITY_MEMORY_MB")
    assert memory_limit() == 4096 * 2**20
    monkeypatch.setenv("NECESSITY_MEMORY_MB", "0")
    with pytest.raises(UserError):
        memory_limit()


# ---------------------------------------------------------------------------
# a batch worker's error crosses the process boundary as plain data
# ---------------------------------------------------------------------------

_PLANTED = textwrap.dedent("""
    import sys
    import exchange
    from engine.deciding.solver import Engine
    from exchange.bundle import BundleError

    class Odd(Exception):  # two arguments: its pickle cannot be read back
        def __init__(self, what, why):
            super().__init__(f"{what}: {why}")

    def bundle_error(*args, **kwargs):  # an error of the reader's own type, as BundleError is
        raise BundleError("the record", [("Bundle.entry[0]", "planted, its pickle cannot be read back")])

    def odd(*args, **kwargs):
        raise Odd("planted", "its pickle cannot be read back")

    where = sys.argv.pop(1)
    if where == "one-record":
        exchange.response_text = bundle_error
    elif where == "whole-chunk":
        Engine.decide_many = odd
    from engine.cli import main
    main(prog_name="necessity")
""")


@pytest.mark.parametrize("where,errors", [("none", 0), ("one-record", 3), ("whole-chunk", 3)])
def test_batch_fhir_jobs_2_survives_a_worker_error_that_cannot_be_unpickled(tmp_path, where, errors):
    """Before: ``batch --format fhir --jobs 2`` hung for good (the pool's result thread died unpickling
    a BundleError), ignoring SIGTERM.  Now the error comes back as text: an OperationOutcome per record."""
    import json

    records = tmp_path / "requests.ndjson"
    records.write_text("\n".join([json.dumps(json.loads(REQUEST.read_text()))] * 3) + "\n")
    run = subprocess.run([sys.executable, "-c", _PLANTED, where, "batch", str(records), "--format", "fhir",
                          "--jobs", "2"], capture_output=True, text=True, cwd=ROOT, timeout=GUARD, check=False)
    assert "Traceback" not in run.stderr, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(lines) == 3, run.stderr
    outcomes = [r for r in lines if r["resourceType"] == "OperationOutcome"]
    assert len(outcomes) == errors, run.stdout
    assert all("planted" in json.dumps(r) for r in outcomes)
    assert run.returncode == (1 if errors else 0), run.stderr


# ---------------------------------------------------------------------------
# a stopped batch whose FILE.partial is a folder
# ---------------------------------------------------------------------------


def test_set_aside_never_removes_what_was_written_when_a_folder_has_the_name(tmp_path):
    from engine.presenting.output import Replacement

    out = tmp_path / "decisions.jsonl"
    (tmp_path / "decisions.jsonl.partial").mkdir()
    sink = Replacement(out, "--out")
    with sink as handle:
        handle.write("one record\n")
        kept = sink.set_aside()
    assert kept == tmp_path / "decisions.jsonl.partial.1"
    assert kept.read_text() == "one record\n" and not out.exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_stopped_batch_keeps_its_records_when_a_folder_has_the_partial_name(tmp_path):
    """Before: the records decided were deleted and the message blamed --out."""
    import signal

    from test_output import PREVIOUS, _start_and_stop

    out = tmp_path / "decisions.jsonl"
    out.write_text(PREVIOUS)
    (tmp_path / "decisions.jsonl.partial").mkdir()
    proc, _workers, _stdout, stderr = _start_and_stop(tmp_path, signal.SIGTERM, str(out))
    assert proc.returncode == 143, stderr
    kept = tmp_path / "decisions.jsonl.partial.1"
    records = kept.read_text().splitlines()
    assert records and "cannot write" not in stderr, stderr
    assert f"stopped by SIGTERM after {len(records)} cases" in stderr and str(kept) in stderr, stderr
    assert out.read_text() == PREVIOUS


# ---------------------------------------------------------------------------
# lint grounds under the same limits as every other command
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("limit,why", [(["--timeout", "3"], "stopped after --timeout 3s"),
                                       ([], "ran out of memory (limit 300 MB")], ids=["timeout", "memory"])
def test_lint_grounds_within_the_timeout_and_the_memory_limit(tmp_path, limit, why):
    """Before: lint grounded in its own process, with no limit (2 GB in 20 s on this policy)."""
    folder = edited(tmp_path / "reference", extra="p(0). p(X+1) :- p(X).")
    # the timeout case gets room enough that the clock, not the memory, stops the grounding
    run = _necessity("lint", folder, *limit, env={"NECESSITY_MEMORY_MB": "300" if not limit else "3000"})
    assert run.returncode == 1, run.stderr
    [line] = run.stdout.splitlines()
    assert ": E108 the policy did not finish grounding with the core (" in line and why in line, line
