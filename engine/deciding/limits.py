"""A command's work in a child process, within a time limit and a memory limit.

clingo cannot interrupt its grounder: a policy whose rules never stop
grounding (``p(0). p(X+1) :- p(X).``) holds the process until memory runs
out, whatever time limit a solve is given.  So the commands that ground a
user's policy (``explain``, ``test``, ``audit-examples``, ``check``, ``diff``,
``lint``, and ``batch``'s first grounding) do their work in a forked child.
The child's address space is capped (``resource.RLIMIT_AS``), and the parent
kills it when ``--timeout`` runs out.  Results come back as they are found,
one pickled event at a time over a pipe: small, plain values (witness cases,
decisions), so that whatever was answered before the limit is still
reported, and identical whichever way the work was run.

The child never outlives its parent.  It runs in a process group of its own
(the helpers it forks go with it), and two things end that group: while the
work runs, SIGTERM, SIGHUP and SIGINT to the parent kill the child's group
before ``Interrupted`` is raised in the parent (the command then says it was
stopped, exit 128 + the signal); and on Linux the child asks the kernel to
kill it when its parent dies whatever the way, SIGKILL included
(``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

#: The signals that stop a command, its children with it.
SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)

#: NECESSITY_MEMORY_MB: the child's address space in megabytes (default 4 GiB), within these bounds.
DEFAULT_MEMORY_MB = 4096
MIN_MEMORY_MB = 64
MAX_MEMORY_MB = 1 << 20  # 1 TiB


def memory_limit() -> int:
    """The child's address space in bytes, from NECESSITY_MEMORY_MB (read when a command runs).

    A value that is not a whole number of megabytes within the bounds is
    refused (``UserError``): 0 or -1 never silently lift the cap.
    """
    raw = os.environ.get("NECESSITY_MEMORY_MB")
    if raw is None or raw.strip() == "":
        return DEFAULT_MEMORY_MB * 2**20
    text = raw.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 8) or not MIN_MEMORY_MB <= int(text) <= MAX_MEMORY_MB:
        from engine.deciding.errors import UserError

        shown = ascii(raw) if not raw.isprintable() or len(raw) > 40 else raw
        raise UserError(f"NECESSITY_MEMORY_MB={shown[:40]}: give a whole number of megabytes from {MIN_MEMORY_MB} "
                        f"to {MAX_MEMORY_MB} (default {DEFAULT_MEMORY_MB}); the memory limit cannot be switched "
                        "off, only raised")
    return int(text) * 2**20


@dataclass(frozen=True)
class Stopped:
    """The last event of work that did not finish: why, in words for the user."""

    reason: str  # "time", "memory", "signal" or "crash"
    detail: str


class ChildError(Exception):
    """An error the work raised in the child, carried back by its message (the CLI prints it, exit 2)."""


class Interrupted(BaseException):
    """SIGTERM, SIGHUP or SIGINT stopped the command; every child it started is already killed.

    A ``BaseException``, like ``KeyboardInterrupt``: no ``except Exception``
    on the way up may take it for an error of the work.
    """

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def status(self) -> int:
        """The exit status of a process ended by the signal, as a shell reports it."""
        return 128 + self.signum


_groups: set[int] = set()  # the process groups of the children running now
_installed = 0  # how many ``stop_children_on_signals`` blocks are open


def _on_signal(signum: int, frame: object) -> None:
    kill_children()
    raise Interrupted(signum)


def kill_children() -> None:
    """Kill every child process group ``limited`` started and that still runs."""
    for group in list(_groups):
        try:
            os.killpg(group, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


@contextmanager
def stop_children_on_signals() -> Iterator[None]:
    """While the block runs, SIGTERM, SIGHUP and SIGINT kill the children and raise ``Interrupted``.

    Only the main thread can set signal handlers; elsewhere the block changes
    nothing, and the children still die with the process (``die_with_parent``).
    """
    global _installed
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in SIGNALS}
    for s in SIGNALS:
        if previous[s] is not signal.SIG_IGN:  # nohup: a hang-up was meant to be ignored
            signal.signal(s, _on_signal)
    _installed += 1
    try:
        yield
    finally:
        _installed -= 1
        for s, handler in previous.items():
            signal.signal(s, handler)


def die_with_parent(parent: int) -> None:
    """In a forked child: end when ``parent`` ends, even by SIGKILL (Linux: ``PR_SET_PDEATHSIG``).

    The kernel sends the signal when the thread that forked the child ends:
    fork from a thread that lives as long as the child's work.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        try:
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
        except (OSError, AttributeError):  # no prctl to call: the parent's handlers remain
            pass
    if os.getppid() != parent:  # the parent ended before the line above
        os._exit(1)


def enter_child(memory: int | None, parent: int) -> None:
    """In a forked child, first: the default signal actions, a process group of its own (the work may
    fork helpers, and they go with it), death with ``parent``, and the address space capped at ``memory``."""
    for s in SIGNALS:  # the parent's handlers are not this process's: a signal ends it
        signal.signal(s, signal.SIG_DFL)
    os.setpgid(0, 0)
    die_with_parent(parent)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
    if memory:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = memory if hard == resource.RLIM_INFINITY else min(memory, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def failure(exc: Exception) -> tuple[str, str]:
    """An error the work raised in the child, as the message the parent reads: ``("memory", ...)``,
    ``("error", "error: ...")`` for the user's (said as the command line says it), ``("crash", traceback)``."""
    if isinstance(exc, MemoryError):
        return "memory", ""
    if isinstance(exc, RuntimeError):  # clingo reports an allocation failure as std::bad_alloc
        return ("memory", str(exc)) if "bad_alloc" in str(exc) else ("error", str(exc))
    from engine.deciding.errors import UserError
    from facts.load import CaseFileError

    if isinstance(exc, CaseFileError):
        return "error", f"error: {exc.render()}"
    if isinstance(exc, UserError):
        return "error", f"error: {exc}"
    import traceback

    return "crash", "".join(traceback.format_exception(exc))


def memory_stopped(memory: int | None) -> Stopped:
    limit = f"{memory // 2**20} MB" if memory else "the machine's memory"
    return Stopped("memory", f"ran out of memory (limit {limit}; set NECESSITY_MEMORY_MB to change it)")


def ended(exitcode: int | None) -> Stopped:
    """Why a child process ended before its answer: a signal, or a crash."""
    if exitcode is not None and exitcode < 0 and -exitcode in {int(s) for s in SIGNALS} | {signal.SIGKILL}:
        return Stopped("signal", f"stopped: the worker process was ended by {signal.Signals(-exitcode).name}")
    return Stopped("crash", f"the worker process ended unexpectedly (exit {exitcode})")


def _child(job: Callable[[], Iterable[Any]], conn: Any, memory: int | None, parent: int) -> None:
    enter_child(memory, parent)
    try:
        for event in job():
            conn.send(("event", event))
        conn.send(("done", None))
    except Exception as exc:  # noqa: BLE001 - every error goes back to the parent, which decides
        conn.send(failure(exc))
    finally:
        conn.close()


def limited(job: Callable[[], Iterable[Any]], *, timeout: float | None = None,
            memory: int | None | bool = True) -> Iterator[Any]:
    """The events ``job`` yields, produced in a forked child.

    ``memory`` is the child's address space in bytes (``True``: NECESSITY_MEMORY_MB
    or 4 GiB; ``None``: no cap).  Ends with a ``Stopped`` event when the child
    ran out of time or memory or died; raises ``ChildError`` with the message
    of an error the job raised, and ``Interrupted`` when a signal stopped the
    command (the child is killed first).
    """
    if memory is True:
        memory = memory_limit()
    ctx = multiprocessing.get_context("fork")
    reader, writer = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(job, writer, memory, os.getpid()))
    with stop_children_on_signals():
        # Blocked while the child forks and until its group is known: a signal in between
        # would be handled before there is a group to kill (the child unblocks them itself).
        signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
        try:
            process.start()
            try:
                os.setpgid(process.pid, process.pid)  # as the child does: whichever runs first
            except OSError:  # the child has set it already, or is gone
                pass
            _groups.add(process.pid)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
        writer.close()
        try:
            yield from _events(process, reader, timeout, memory)
        finally:
            reader.close()
            try:
                os.killpg(process.pid, signal.SIGKILL)  # the child and any helper it forked
            except (ProcessLookupError, PermissionError):  # no group yet (or any more): the child alone
                if process.is_alive():
                    process.kill()
            process.join()
            _groups.discard(process.pid)


def _events(process: Any, reader: Any, timeout: float | None, memory: int | None) -> Iterator[Any]:
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not reader.poll(remaining):
            yield Stopped("time", f"stopped after --timeout {timeout:g}s")
            return
        try:
            kind, payload = reader.recv()
        except EOFError:
            process.join()
            yield ended(process.exitcode)
            return
        if kind == "event":
            yield payload
        elif kind == "done":
            return
        elif kind == "memory":
            yield memory_stopped(memory)
            return
        elif kind == "error":
            raise ChildError(payload)
        else:
            raise ChildError(f"internal error, please report it:\n{payload}")



def meanwhile(compute: Callable[[], Any]) -> Callable[[], Any]:
    """``compute`` started in a forked process while the caller works on.

    Returns a function that waits for what the child sent: None when no fork
    could be made or the child ended without an answer (the caller computes it
    itself then).  Its ``cancel()`` stops a child no longer wanted.  The child
    dies with this process, however that one ends.
    """
    try:
        ctx = multiprocessing.get_context("fork")
        reader, writer = ctx.Pipe(duplex=False)
        process = ctx.Process(target=_meanwhile_child, args=(compute, writer, os.getpid()), daemon=True)
        process.start()
        writer.close()
    except (OSError, ValueError, AssertionError):  # no fork here
        nothing = lambda: None  # noqa: E731
        nothing.cancel = lambda: None  # type: ignore[attr-defined]
        return nothing

    def wait() -> Any:
        try:
            return reader.recv()
        except EOFError:
            return None
        finally:
            reader.close()
            process.join()

    def cancel() -> None:
        if process.is_alive():
            process.terminate()
        process.join()
        reader.close()

    wait.cancel = cancel  # type: ignore[attr-defined]
    return wait


def _meanwhile_child(compute: Callable[[], Any], conn: Any, parent: int) -> None:
    die_with_parent(parent)
    try:
        conn.send(compute())
    finally:
        conn.close()
