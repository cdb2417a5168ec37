"""Many cases at once: a case library read record by record, decided in chunks by forked workers.

``read_inputs`` reads a folder of case files or a JSON Lines file as ``Item``
records, each with its source ("cases/a.yaml", "cases.jsonl:12") and the error
that kept it from being read, if any; ``chunks`` groups them (one grounding per
chunk decides a few dozen cases); ``in_workers`` has a pool of forked workers
decide the chunks and hands the results back in input order, whatever the order
the workers finish in.  Used by ``batch`` (engine/running/batch.py) and by
``diff --cases`` (engine/analysing/impact.py).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.deciding.errors import UserError
from facts.load import MAX_BYTES, CaseFileError, case_format, decode, read_text

CHUNK = 64  # cases per grounding: past a few dozen the cost per case stops falling
CASE_SUFFIXES = (".yaml", ".yml", ".json")
LINES_SUFFIXES = (".jsonl", ".ndjson")


@dataclass(frozen=True)
class Item:
    """One input record: a case file, or one line of a JSON Lines file."""

    source: str  # "cases/a.yaml" or "cases.jsonl:12"
    text: str | None
    fmt: str
    error: str | None = None
    in_lines: bool = False  # one line of a JSON Lines file



# ---------------------------------------------------------------------------
# input
# ---------------------------------------------------------------------------


def _lines(path: Path) -> Iterator[Item]:
    with path.open("rb") as handle:
        number = 0
        while True:
            raw = handle.readline(MAX_BYTES + 1)
            if not raw:
                return
            number += 1
            source = f"{path}:{number}"
            if len(raw) > MAX_BYTES and not raw.endswith(b"\n"):
                while raw and not raw.endswith(b"\n"):  # skip the rest of the line
                    raw = handle.readline(MAX_BYTES)
                yield Item(source, None, "json", f"{source}: the record is over {MAX_BYTES} bytes; a case record is a few kilobytes", True)
                continue
            if not raw.strip():
                continue
            try:
                yield Item(source, decode(raw, source).strip(), "json", in_lines=True)
            except CaseFileError as exc:
                yield Item(source, None, "json", one_line_error(exc), True)


def _count_records(path: Path) -> int:
    """The non-blank lines of a JSON Lines file, for the progress bar.

    Read in blocks, so that one enormous line (refused later, when it is
    read as a record) costs no more memory than a block.
    """
    count, pending = 0, False  # pending: the current line has content so far
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            parts = block.split(b"\n")
            for part in parts[:-1]:
                count += pending or bool(part.strip())
                pending = False
            pending = pending or bool(parts[-1].strip())
    return count + pending


def one_line_error(exc: CaseFileError) -> str:
    """A JSON Lines record's problems, named by the record's line (a line number inside it says nothing)."""
    return "; ".join(f"{exc.source}:{' ' + p.path + ':' if p.path else ''} {p.message}" for p in exc.problems)


def case_files(folder: Path) -> list[Path]:
    """The case files under ``folder``, in a stable order (hidden entries skipped)."""
    found = []
    for path in folder.rglob("*"):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.is_file() and path.suffix.lower() in CASE_SUFFIXES:
            found.append(path)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def _files(paths: list[Path]) -> Iterator[Item]:
    for path in paths:
        try:
            yield Item(str(path), read_text(path), case_format(path))
        except CaseFileError as exc:
            yield Item(str(path), None, case_format(path), exc.render())


def read_inputs(path: str | Path, *, count: bool = False) -> tuple[Iterator[Item], int | None]:
    """The records of INPUT and how many there are: known for a folder or a
    case file; for a JSON Lines file only with ``count`` (one more pass over it)."""
    path = Path(path)
    if path.is_dir():
        files = case_files(path)
        return _files(files), len(files)
    if not path.exists():
        raise UserError(f"{path}: no such file or folder: check the path (give a folder of case files or a .jsonl file)")
    suffix = path.suffix.lower()
    if suffix in LINES_SUFFIXES:
        return _lines(path), _count_records(path) if count else None
    if suffix in CASE_SUFFIXES:
        return _files([path]), 1
    raise UserError(f"{path}: not a folder, a JSON Lines file ({', '.join(LINES_SUFFIXES)}) "
                    f"or a case file ({', '.join(CASE_SUFFIXES)}): rename it or point at its folder")


def chunks(items: Iterator[Item], size: int = CHUNK) -> Iterator[list[Item]]:
    chunk: list[Item] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk



# ---------------------------------------------------------------------------
# the workers
# ---------------------------------------------------------------------------


_decider: Callable[[list[Item]], list[Any]] | None = None  # set before the workers fork, inherited by them
STOPPING = (signal.SIGINT, signal.SIGTERM)


def _work(chunk: list[Item]) -> list[Any]:
    assert _decider is not None
    return _decider(chunk)


def _worker_start(parent: int) -> None:
    """A worker leaves stopping to the parent: it ignores SIGINT (a terminal sends it to
    every process), and SIGTERM, which the parent sends, ends it at once, mid-case if need be."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with(parent)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPPING)


def _die_with(parent: int) -> None:
    """Linux: end this worker when the parent ends, even by SIGKILL, so that none is left running."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # the parent ended before the line above
        os._exit(1)



def in_workers(items: Iterator[Item], decider: Callable[[list[Item]], list[Any]],
               emit: Callable[[list[Any]], None], deadline: float | None, jobs: int, chunk_size: int = CHUNK) -> bool:
    """Chunks of ``items`` decided by ``decider`` in ``jobs`` forked workers, emitted in input order.

    False when the deadline came first (the chunks emitted so far stand).
    """
    global _decider
    _decider = decider
    # Blocked while the workers fork (a signal then would reach a worker before it is set
    # up), and until the pool is in the block that stops it.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOPPING)
    try:
        pool = multiprocessing.get_context("fork").Pool(jobs, _worker_start, (os.getpid(),))
    except BaseException:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPPING)
        raise
    pending: deque = deque()
    source = chunks(items, chunk_size)
    try:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPPING)
        exhausted = False
        while True:
            while not exhausted and len(pending) < 2 * jobs:
                chunk = next(source, None)
                if chunk is None:
                    exhausted = True
                    break
                pending.append(pool.apply_async(_work, (chunk,)))
            if not pending:
                break
            head = pending.popleft()
            wait = None if deadline is None else max(0.0, deadline - time.perf_counter())
            head.wait(wait)
            if not head.ready():
                return False
            emit(head.get())
        return True
    finally:
        signal.pthread_sigmask(signal.SIG_BLOCK, STOPPING)  # a second signal must not cut this short
        try:
            pool.terminate()
            pool.join()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPPING)
