"""Long-lived decision processes: forked once, with the policy loaded and warm, each deciding one request at a time.

A fork per request cost the server more than the decision did: the fork, the
pages the child copies on write, what the child remembers (decoded atoms,
model classes) lost at its exit.  Here ``count`` worker processes are forked
when the server starts and answer request after request over a pipe.  Each
keeps the limits a forked command has (``engine.deciding.limits``): its
address space is capped for its whole life (NECESSITY_MEMORY_MB), it is in a
process group of its own, and it dies with the server, SIGKILL included.  A
request that runs past ``timeout`` has its worker's group killed; a worker
that ran out of memory or ended is replaced by a fresh fork, so that a
hostile request costs one worker, never the server; so is a worker that
has used half the room its cap left it (``RETIRE_AT``), after its answer.

The replacements are forked by one thread that lives as long as the pool:
the kernel ends a child (``PR_SET_PDEATHSIG``) when the thread that forked
it ends, and the threads that carry requests come and go.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from engine.deciding.limits import SIGNALS, ChildError, Stopped, ended, enter_child, failure, memory_stopped

logger = logging.getLogger("necessity.serve")

#: A worker that has used this share of the room its cap left it when it started retires after its answer:
#: what one request left behind must not make a later one run out of memory.
RETIRE_AT = 0.5


def _address_space() -> int:
    """This process's address space in bytes (what RLIMIT_AS caps)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _serve(job: Callable[[Any], Any], conn: Any, memory: int | None, parent: int) -> None:
    """A worker: each payload received answered by ``job``, until the pipe closes, the work ran out of
    memory or crashed, or the worker retires (each of these ends it, and the server forks a new one)."""
    enter_child(memory, parent)
    start = _address_space()
    retire_at = start + RETIRE_AT * (memory - start) if memory else None
    while True:
        try:
            payload = conn.recv()
        except (EOFError, OSError):
            return
        try:
            kind, value = "done", job(payload)
        except Exception as exc:  # noqa: BLE001 - every error goes back to the server, which decides
            kind, value = failure(exc)
        retiring = kind not in ("done", "error") or (retire_at is not None and _address_space() > retire_at)
        conn.send((kind, value, retiring))
        if retiring:
            return


class _Worker:
    def __init__(self, process: Any, conn: Any):
        self.process, self.conn = process, conn

    def end(self) -> None:
        """Kill the worker's group (its helpers with it) and wait for it."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            if self.process.is_alive():
                self.process.kill()
        self.process.join()
        self.conn.close()


class Workers:
    """``count`` decision processes; ``run(payload)`` is ``job(payload)`` answered by one of them.

    ``run`` blocks while every worker is busy (callers bound their own
    concurrency to ``count``).  It returns ``job``'s value, or a ``Stopped``
    when the request ran past ``timeout``, out of memory, or its worker
    ended; it raises ``ChildError`` with the message of an error ``job``
    raised (``"error: ..."`` for the user's).
    """

    def __init__(self, job: Callable[[Any], Any], count: int, *, timeout: float | None, memory: int | None):
        self.job, self.count, self.timeout, self.memory = job, count, timeout, memory
        self.parent = os.getpid()
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._wanted: queue.Queue[bool] = queue.Queue()
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._spawner = threading.Thread(target=self._spawn_loop, name="necessity-workers", daemon=True)
        self._spawner.start()
        for _ in range(count):
            self._wanted.put(True)

    # -- forking, in the spawner thread only --------------------------------

    def _spawn_loop(self) -> None:
        # Blocked in this thread for good: a signal is the main thread's, and a child forked here
        # has them blocked until it is in its own group (enter_child unblocks them).
        signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
        while self._wanted.get():
            with self._lock:
                if self._closed:
                    return
                try:
                    worker = self._fork()
                except OSError as exc:  # no process to be had now (EAGAIN, ENOMEM): try again shortly
                    logger.error("could not start a decision process (%s); trying again", type(exc).__name__)
                    time.sleep(1.0)
                    self._wanted.put(True)
                    continue
                self._all.add(worker)
            self._idle.put(worker)

    def _fork(self) -> _Worker:
        ctx = multiprocessing.get_context("fork")
        mine, theirs = ctx.Pipe(duplex=True)
        process = ctx.Process(target=_serve, args=(self.job, theirs, self.memory, self.parent), daemon=False)
        process.start()
        try:
            os.setpgid(process.pid, process.pid)  # as the child does: whichever runs first
        except OSError:  # set already, or the child is gone
            pass
        theirs.close()
        return _Worker(process, mine)

    def _replace(self, worker: _Worker) -> None:
        worker.end()
        with self._lock:
            self._all.discard(worker)
        if not self._closed:
            self._wanted.put(True)

    # -- requests -----------------------------------------------------------

    def run(self, payload: Any) -> Any:
        try:  # callers bound their concurrency to ``count``: one waits here only while a worker is replaced
            worker = self._idle.get(timeout=self.timeout)
        except queue.Empty:
            return Stopped("crash", f"no decision process could be started within --timeout {self.timeout:g}s")
        try:
            worker.conn.send(payload)
        except (BrokenPipeError, ConnectionResetError, OSError):  # it ended while idle
            code = worker.process.exitcode
            self._replace(worker)
            return ended(code)
        if not worker.conn.poll(self.timeout):
            self._replace(worker)
            return Stopped("time", f"stopped after --timeout {self.timeout:g}s")
        try:
            kind, value, retiring = worker.conn.recv()
        except (EOFError, OSError):
            worker.process.join()
            code = worker.process.exitcode
            self._replace(worker)
            return ended(code)
        if retiring:
            self._replace(worker)
        else:
            self._idle.put(worker)
        if kind == "done":
            return value
        if kind == "memory":
            return memory_stopped(self.memory)
        if kind == "error":
            raise ChildError(value)
        raise ChildError(f"internal error, please report it:\n{value}")

    def pids(self) -> list[int]:
        """The worker processes now running (for tests)."""
        with self._lock:
            return sorted(w.process.pid for w in self._all)

    def wait_ready(self, seconds: float = 60.0) -> bool:
        """Whether all ``count`` workers are forked, waiting at most ``seconds``."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self._lock:
                if len(self._all) >= self.count:
                    return True
            time.sleep(0.01)
        return False

    def close(self) -> None:
        """Kill every worker; nothing is forked after."""
        with self._lock:
            self._closed = True
            workers = list(self._all)
            self._all.clear()
        self._wanted.put(False)
        for worker in workers:
            worker.end()
