"""``necessity batch``: a case library decided in chunks, in input order.

Cases are read from a folder of case files or a JSON Lines file, grouped in
chunks, and each chunk is decided from one grounding (``Engine.decide_many``).
With ``--jobs N`` the chunks go to N worker processes; records are written in
input order whatever the order the workers finish in, so the output does not
depend on N.  A case that cannot be read or decided becomes an error record and
the batch goes on.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from engine.deciding.errors import PolicyError, UserError
from engine.deciding.limits import die_with_parent
from facts.load import MAX_BYTES, CaseFileError, case_format, decode, parse_case, read_text

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


@dataclass(frozen=True)
class Result:
    """One output line and what the summary counts of it."""

    line: str
    outcome: str | None = None
    levels: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    brief: object = None  # what a --report keeps of the record (engine.presenting.report)


@dataclass
class Summary:
    cases: int = 0
    errors: int = 0
    outcomes: Counter = field(default_factory=Counter)
    levels: Counter = field(default_factory=Counter)
    items: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    timed_out: bool = False
    stopped: int | None = None  # the signal that stopped the run
    briefs: list | None = None  # every record's brief, in input order, when a report is wanted

    def add(self, result: Result) -> None:
        self.cases += 1
        if self.briefs is not None:
            self.briefs.append(result.brief)
        if result.outcome is None:
            self.errors += 1
            return
        self.outcomes[result.outcome] += 1
        self.levels.update(result.levels)
        self.items.update(result.items)


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
                yield Item(source, None, "json", _one_line_error(exc), True)


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


def _one_line_error(exc: CaseFileError) -> str:
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
# deciding (in this process or a worker)
# ---------------------------------------------------------------------------


def record_line(obj: dict) -> str:
    """One JSON Lines record: ASCII only, so no character in a case can split a line."""
    return json.dumps(obj, ensure_ascii=True, separators=(",", ":"))


def _error(source: str, message: str) -> Result:
    from engine.presenting.report import CaseError

    return Result(record_line({"source": source, "error": message}), brief=CaseError(source, message))


def _fhir_error(source: str, message: str) -> Result:
    """An input that cannot be decided, as the OperationOutcome PAS returns for it (spec-35)."""
    issues = [{"severity": "error", "code": "invalid", "diagnostics": line} for line in message.splitlines() if line.strip()]
    from engine.presenting.report import CaseError

    return Result(record_line({"resourceType": "OperationOutcome", "id": "error",
                               "issue": issues or [{"severity": "error", "code": "invalid"}],
                               "extension": [{"url": "urn:necessity:source", "valueString": source}]}),
                  brief=CaseError(source, message))


class Decider:
    """Decides chunks of items under one policy.

    ``fmt`` is the output: ``json`` (explain's records) or ``fhir`` (a PAS
    response Bundle per input, which needs what would change each decision).
    A JSON input that names a resourceType is read as a PAS request Bundle.
    With ``briefs`` each result keeps what a --report shows of it.
    """

    def __init__(self, policy_ref: str, policies_dir: str | None, would_change: bool, fmt: str = "json",
                 briefs: bool = False):
        from engine.deciding.policy import load
        from engine.deciding.solver import Engine

        self.engine = Engine(load(policy_ref, policies_dir))
        self.fmt = fmt
        self.would_change = would_change or fmt == "fhir"
        self.briefs = briefs

    def _read(self, item: Item):
        """The case of one input, and the PAS request it came in (None for a case file)."""
        if item.fmt == "json" and item.text and item.text.lstrip()[:1] == "{":
            from exchange import looks_like_bundle

            if looks_like_bundle(item.text):
                from exchange.request import read_text

                request = read_text(item.text, item.source)
                return request.case, request
        return parse_case(item.text or "", item.source, fmt=item.fmt), None

    def _result(self, decision: Any, case: Any, request: Any, source: str) -> Result:
        from engine.presenting.render import to_json
        from engine.presenting.report import brief

        if request is not None:
            from exchange.request import noticed

            decision = noticed(decision, request)  # what the Bundle held beyond the case record
        if self.fmt == "fhir":
            from exchange import response_text
            from exchange.request import for_case

            line = response_text(decision, request or for_case(case), self.engine.policy, one_line=True)
        else:
            line = record_line(to_json(decision))
        return Result(
            line,
            decision.outcome,
            tuple(lv.determination for lv in decision.levels),
            tuple(it.determination for it in decision.items),
            brief(decision, source) if self.briefs else None,
        )

    def failed(self, source: str, message: str) -> Result:
        """The record of an input that could not be decided, in the output's format."""
        return (_fhir_error if self.fmt == "fhir" else _error)(source, message)

    def __call__(self, chunk: list[Item]) -> list[Result]:
        error = _fhir_error if self.fmt == "fhir" else _error
        results: list[Result | None] = [None] * len(chunk)
        cases, requests, where = [], [], []
        for i, item in enumerate(chunk):
            if item.error is not None:
                results[i] = error(item.source, item.error)
                continue
            try:
                case, request = self._read(item)
                cases.append(case)
                requests.append(request)
                where.append(i)
            except CaseFileError as exc:
                results[i] = error(item.source, _one_line_error(exc) if item.in_lines else exc.render())
            except UserError as exc:  # a request Bundle that cannot be read
                results[i] = error(item.source, "; ".join(str(exc).splitlines()) if item.in_lines else str(exc))
            except Exception as exc:  # noqa: BLE001 - one record must never stop the batch
                results[i] = error(item.source, f"{item.source}: this record could not be read "
                                                f"({type(exc).__name__}: {exc}): please report it")
        decisions = self.engine.decide_many(cases, would_change=self.would_change)
        for i, case, request, decision in zip(where, cases, requests, decisions):
            source = chunk[i].source
            if isinstance(decision, PolicyError):
                results[i] = error(source, f"{source}: {decision}")
                continue
            try:
                results[i] = self._result(decision, case, request, source)
            except UserError as exc:
                results[i] = error(source, "; ".join(str(exc).splitlines()))
            except Exception as exc:  # noqa: BLE001 - one record must never stop the batch
                results[i] = error(source, f"{source}: this record could not be written "
                                           f"({type(exc).__name__}: {exc}): please report it")
        return [r for r in results if r is not None]


_decider: Callable[[list[Item]], list[Any]] | None = None  # set before the workers fork, inherited by them
_STOPPING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _work(chunk: list[Item]) -> tuple[str, Any]:
    """A chunk decided in a worker: ``("done", results)``, or ``("error", message)`` for an error
    the decider raised, as plain text: an exception might not survive pickling, and the pool
    would wait for its result for ever."""
    assert _decider is not None
    try:
        return "done", _decider(chunk)
    except UserError as exc:
        return "user", str(exc)
    except Exception as exc:  # noqa: BLE001 - whatever it is, it crosses the process boundary as text
        return "error", f"{type(exc).__name__}: {exc}"


def _results(chunk: list[Item], done: Any) -> list[Any]:
    """What a worker sent back for ``chunk``: its results, or an error record for each of its items."""
    try:
        kind, payload = done.get()
    except Exception as exc:  # noqa: BLE001 - the pool itself failed (a worker killed from outside)
        kind, payload = "error", f"{type(exc).__name__}: {exc}"
    if kind == "done":
        return payload
    if kind == "user":
        raise UserError(payload)
    failed = getattr(_decider, "failed", None) or _error
    return [failed(item.source, f"{item.source}: this record could not be decided ({payload}): please report it")
            for item in chunk]


def _worker_start(parent: int) -> None:
    """A worker leaves stopping to the parent: it ignores SIGINT and SIGHUP (a terminal sends them
    to every process), and SIGTERM, which the parent sends, ends it at once, mid-case if need be."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    die_with_parent(parent)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPPING)


class Stopped(BaseException):
    """SIGINT or SIGTERM: the run ends after the records already written."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class _Signals:
    """SIGINT, SIGTERM and SIGHUP end the run between records, never inside one."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.writing = False

    def _handler(self, signum: int, frame: object) -> None:
        if self.signum is not None:
            return  # already stopping: let the workers be stopped
        self.signum = signum
        if not self.writing:
            raise Stopped(signum)

    @contextmanager
    def installed(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {s: signal.signal(s, self._handler) for s in _STOPPING}
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        self.writing = True
        try:
            yield
        finally:
            self.writing = False
        if self.signum is not None:
            raise Stopped(self.signum)


# ---------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------


def run(items: Iterator[Item], out: IO[str], *, policy_ref: str, policies_dir: str | None,
        would_change: bool = False, jobs: int = 1, timeout: float | None = None,
        progress: Callable[[int], None] | None = None, chunk_size: int = CHUNK, fmt: str = "json",
        briefs: bool = False) -> Summary:
    """Decide every item, writing one line per item to ``out`` in input order.

    With ``timeout`` the run stops when the time is up, keeping every record
    already written; the rest are not written and ``Summary.timed_out`` is set.
    With ``briefs`` the summary keeps each record's brief, for ``engine.presenting.report``.
    Worker processes are used when ``jobs`` > 1 or a timeout is set (a worker
    can be stopped mid-case; this process could not).  SIGINT or SIGTERM ends
    the run between two records: every worker is stopped, the records written
    stay, and ``Summary.stopped`` names the signal.
    """
    summary = Summary(briefs=[] if briefs else None)
    start = time.perf_counter()
    deadline = None if timeout is None else start + timeout
    signals = _Signals()

    def emit(results: list[Result]) -> None:
        with signals.deferred():
            for result in results:
                out.write(result.line + "\n")
                summary.add(result)
            out.flush()
        if progress is not None:
            progress(len(results))

    try:
        with signals.installed():
            decider = Decider(policy_ref, policies_dir, would_change, fmt, briefs)
            if jobs <= 1 and timeout is None:
                for chunk in chunks(items, chunk_size):
                    emit(decider(chunk))
            else:
                # The policy is loaded and keyed by case here, once: a policy error is the
                # user's, reported once (exit 2), and the forked workers inherit the work.
                decider.engine.prepare_batch()
                summary.timed_out = not in_workers(items, decider, emit, deadline, max(jobs, 1), chunk_size)
    except Stopped as exc:
        summary.stopped = exc.signum
    summary.seconds = time.perf_counter() - start
    return summary


def in_workers(items: Iterator[Item], decider: Callable[[list[Item]], list[Any]],
               emit: Callable[[list[Any]], None], deadline: float | None, jobs: int, chunk_size: int = CHUNK) -> bool:
    """Chunks of ``items`` decided by ``decider`` in ``jobs`` forked workers, emitted in input order.

    False when the deadline came first (the chunks emitted so far stand).
    """
    global _decider
    _decider = decider
    # Blocked while the workers fork (a signal then would reach a worker before it is set
    # up), and until the pool is in the block that stops it.
    signal.pthread_sigmask(signal.SIG_BLOCK, _STOPPING)
    try:
        pool = multiprocessing.get_context("fork").Pool(jobs, _worker_start, (os.getpid(),))
    except BaseException:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPPING)
        raise
    pending: deque = deque()
    source = chunks(items, chunk_size)
    try:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPPING)
        exhausted = False
        while True:
            while not exhausted and len(pending) < 2 * jobs:
                chunk = next(source, None)
                if chunk is None:
                    exhausted = True
                    break
                pending.append((chunk, pool.apply_async(_work, (chunk,))))
            if not pending:
                break
            chunk, head = pending.popleft()
            wait = None if deadline is None else max(0.0, deadline - time.perf_counter())
            head.wait(wait)
            if not head.ready():
                return False
            emit(_results(chunk, head))
        return True
    finally:
        signal.pthread_sigmask(signal.SIG_BLOCK, _STOPPING)  # a second signal must not cut this short
        try:
            pool.terminate()
            pool.join()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPPING)
