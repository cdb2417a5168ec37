"""``necessity batch``: a case library decided in chunks, in input order.

Cases are read from a folder of case files or a JSON Lines file, grouped in
chunks, and each chunk is decided from one grounding (``Engine.decide_many``).
With ``--jobs N`` the chunks go to N worker processes; records are written in
input order whatever the order the workers finish in, so the output does not
depend on N (the reading and the workers: engine/deciding/many.py).  A case
that cannot be read or decided becomes an error record and the batch goes on.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO

from engine.deciding.errors import PolicyError
from engine.deciding.many import STOPPING, CHUNK, Item, chunks, in_workers, one_line_error, read_inputs
from engine.running.bundles import Bundles
from facts.load import CaseFileError, parse_case

__all__ = ["Decider", "Result", "Stopped", "Summary", "read_inputs", "record_line", "run"]


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
    With ``bundles`` (``engine/running/bundles.py``; the CLI hands in
    ``exchange.PAS``), a JSON input that names a resourceType is read as a PAS
    request Bundle, and ``fhir`` is written by it.  With ``briefs`` each result keeps what a --report shows of it.
    """

    def __init__(self, policy_ref: str, policies_dir: str | None, would_change: bool, fmt: str = "json",
                 briefs: bool = False, bundles: Bundles | None = None):
        from engine.deciding.policy import load
        from engine.deciding.solver import Engine

        self.engine = Engine(load(policy_ref, policies_dir))
        self.fmt = fmt
        self.would_change = would_change or fmt == "fhir"
        self.briefs = briefs
        self.bundles = bundles

    def _read(self, item: Item):
        """The case of one input, and the PAS request it came in (None for a case file)."""
        bundles = self.bundles
        if bundles is not None and item.fmt == "json" and item.text and item.text.lstrip()[:1] == "{":
            if bundles.looks_like_bundle(item.text):
                request = bundles.read(item.text, item.source)
                return request.case, request
        return parse_case(item.text or "", item.source, fmt=item.fmt), None

    def __call__(self, chunk: list[Item]) -> list[Result]:
        from engine.deciding.errors import UserError
        from engine.presenting.render import to_json
        from engine.presenting.report import brief

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
                results[i] = error(item.source, one_line_error(exc) if item.in_lines else exc.render())
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
            if request is not None:
                decision = self.bundles.noticed(decision, request)  # what the Bundle held beyond the case record
            if self.fmt == "fhir":
                line = self.bundles.response(decision, request, case, self.engine.policy, one_line=True)
            else:
                line = record_line(to_json(decision))
            results[i] = Result(
                line,
                decision.outcome,
                tuple(lv.determination for lv in decision.levels),
                tuple(it.determination for it in decision.items),
                brief(decision, source) if self.briefs else None,
            )
        return [r for r in results if r is not None]



class Stopped(BaseException):
    """SIGINT or SIGTERM: the run ends after the records already written."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class _Signals:
    """SIGINT and SIGTERM end the run between records, never inside one."""

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
        previous = {s: signal.signal(s, self._handler) for s in STOPPING}
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
        briefs: bool = False, bundles: Bundles | None = None) -> Summary:
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
            decider = Decider(policy_ref, policies_dir, would_change, fmt, briefs, bundles)
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
