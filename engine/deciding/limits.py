"""A command's work in a child process, within a time limit and a memory limit.

clingo cannot interrupt its grounder: a policy whose rules never stop
grounding (``p(0). p(X+1) :- p(X).``) holds the process until memory runs
out, whatever time limit a solve is given.  So the commands that ground a
user's policy (``explain``, ``test``, ``audit-examples``, ``check``, ``diff``)
do their work in a forked child.  The child's address space is capped
(``resource.RLIMIT_AS``), and the parent kills it when ``--timeout`` runs
out.  Results come back as they are found, one pickled event at a time over
a pipe: small, plain values (witness cases, decisions), so that whatever was
answered before the limit is still reported, and identical whichever way the
work was run.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

#: The child's address space, in bytes: NECESSITY_MEMORY_MB overrides the 4 GiB default.
MEMORY_LIMIT = int(os.environ.get("NECESSITY_MEMORY_MB", "4096")) * 2**20


@dataclass(frozen=True)
class Stopped:
    """The last event of work that did not finish: why, in words for the user."""

    reason: str  # "time", "memory" or "crash"
    detail: str


class ChildError(Exception):
    """An error the work raised in the child, carried back by its message (the CLI prints it, exit 2)."""


def _child(job: Callable[[], Iterable[Any]], conn: Any, memory: int | None) -> None:
    os.setpgid(0, 0)  # a group of its own: the work may fork helpers, and they go with it
    if memory:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = memory if hard == resource.RLIM_INFINITY else min(memory, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        for event in job():
            conn.send(("event", event))
        conn.send(("done", None))
    except MemoryError:
        conn.send(("memory", ""))
    except RuntimeError as exc:  # clingo reports an allocation failure as std::bad_alloc
        conn.send(("memory", str(exc)) if "bad_alloc" in str(exc) else ("error", str(exc)))
    except Exception as exc:  # noqa: BLE001 - every error goes back to the parent, which decides
        from engine.deciding.errors import UserError
        from facts.load import CaseFileError

        if isinstance(exc, CaseFileError):
            conn.send(("error", f"error: {exc.render()}"))
        elif isinstance(exc, UserError):
            conn.send(("error", f"error: {exc}"))
        else:
            import traceback

            conn.send(("crash", "".join(traceback.format_exception(exc))))
    finally:
        conn.close()


def limited(job: Callable[[], Iterable[Any]], *, timeout: float | None = None,
            memory: int | None = MEMORY_LIMIT) -> Iterator[Any]:
    """The events ``job`` yields, produced in a forked child.

    Ends with a ``Stopped`` event when the child ran out of time or memory or
    died; raises ``ChildError`` with the message of an error the job raised.
    """
    ctx = multiprocessing.get_context("fork")
    reader, writer = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(job, writer, memory))
    process.start()
    writer.close()
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not reader.poll(remaining):
                yield Stopped("time", f"stopped after --timeout {timeout:g}s")
                return
            try:
                kind, payload = reader.recv()
            except EOFError:
                process.join()
                yield Stopped("crash", f"the worker process ended unexpectedly (exit {process.exitcode})")
                return
            if kind == "event":
                yield payload
            elif kind == "done":
                return
            elif kind == "memory":
                limit = f"{memory // 2**20} MB" if memory else "the machine's memory"
                yield Stopped("memory", f"ran out of memory (limit {limit}; set NECESSITY_MEMORY_MB to change it)")
                return
            elif kind == "error":
                raise ChildError(payload)
            else:
                raise ChildError(f"internal error, please report it:\n{payload}")
    finally:
        reader.close()
        try:
            os.killpg(process.pid, signal.SIGKILL)  # the child and any helper it forked
        except (ProcessLookupError, PermissionError):  # no group yet (or any more): the child alone
            if process.is_alive():
                process.kill()
        process.join()
