"""`necessity serve` under load on loopback, then killed mid-load.

1. Baseline, in this process: each request Bundle answered by the calls
   ``explain --format fhir`` makes (exchange.serve.answer.submit), no HTTP,
   no log, no decision process; the median per request.
2. Load: a server process (``necessity serve``, its log in a fresh SQLite
   file, or ``--database postgresql://...``), 16 client threads sending a
   bounded number of requests for at most 60 s; requests/s, p50/p95/p99
   latency, and every answer compared byte for byte with what
   ``necessity explain --format fhir`` prints for the same Bundle.
3. Kill: a server under the same load is sent SIGKILL; then every request it
   answered 200 must be in its log, with the very response sent.

The Bundles: the hand-written one in tests/data and one made by
``necessity fhir bundle`` from each example case.  Exit 1 if any answer
differs from explain, any request failed, or the log lost an answer.
With ``--baseline REV`` the load runs alternate between this tree's server and
REV's (checked out beside, bench/baseline.py), A B B A, and the medians of
each and their ratios are printed: on a shared machine only figures taken in
the same run compare.  Every answer of both is compared with this tree's
``explain``.
Usage: python bench/serve.py [--requests N] [--clients N] [--seconds S] [--database URL] [--baseline REV [--rounds N]]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from baseline import baseline_tree  # noqa: E402

CLI = [sys.executable, "-m", "engine.cli"]
RECORD = "X-Necessity-Record"
#: one time of decision for the server and explain alike, so that their answers can be compared byte for byte
DECIDED = {"NECESSITY_DECISION_TIME": "2026-01-05T14:30:00Z"}


def bundles() -> list[str]:
    """The request Bundles, as JSON text."""
    out = [(ROOT / "tests" / "data" / "pas-request-multilevel-fusion.json").read_text()]
    for case in sorted((ROOT / "examples").glob("source-*.yaml")):
        made = subprocess.run([*CLI, "fhir", "bundle", str(case)], capture_output=True, text=True, cwd=ROOT, check=True)
        out.append(made.stdout)
    return out


def explained(texts: list[str], folder: Path) -> list[str]:
    """What ``necessity explain --format fhir`` prints for each Bundle."""
    out = []
    for i, text in enumerate(texts):
        path = folder / f"request-{i}.json"
        path.write_text(text)
        done = subprocess.run([*CLI, "explain", str(path), "--format", "fhir"], capture_output=True, text=True,
                              cwd=ROOT, check=True, env={**os.environ, **DECIDED})
        out.append(done.stdout)
    return out


def baseline(texts: list[str], repeat: int) -> tuple[float, float]:
    """Median seconds per request answered in this process (after one warm-up round), wall and CPU."""
    from engine.deciding.policy import load
    from exchange.serve.answer import submit

    policy = load("reference")
    for text in texts:
        submit(text, policy)
    times, cpu = [], []
    for _ in range(repeat):
        for text in texts:
            start, start_cpu = time.perf_counter(), time.process_time()
            submit(text, policy)
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
    return statistics.median(times), statistics.median(cpu)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, database: str, folder: Path, tree: Path = ROOT):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (folder / "server.err").open("ab")
        env = {**os.environ, **DECIDED, "PYTHONPATH": str(tree)}  # the engine of ``tree`` (this one, or the baseline's)
        self.process = subprocess.Popen([*CLI, "serve", "--port", str(self.port), "--database", database],
                                        cwd=folder, stdout=self.log, stderr=self.log, env=env)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server stopped (exit {self.process.returncode}): see {folder / 'server.err'}")
            try:
                if httpx.get(f"{self.url}/metadata", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise SystemExit("the server did not answer within 120 s")

    def cpu(self) -> tuple[float, float]:
        """CPU seconds (user and system) so far of the server process itself, and of its decision
        processes: those running now and those that ended."""
        def stat(pid: int | str) -> list[str]:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()

        fields = stat(self.process.pid)
        own, children = int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])  # utime stime; cutime cstime
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = stat(entry.name)
                except OSError:  # ended meanwhile
                    continue
                if fields[1] == str(self.process.pid):  # a running child: its own utime and stime
                    children += int(fields[11]) + int(fields[12])
        tick = os.sysconf("SC_CLK_TCK")
        return own / tick, children / tick

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(60)
        self.log.close()


class Load:
    """``clients`` threads sending requests round-robin over the Bundles, until ``total`` or the deadline."""

    def __init__(self, url: str, texts: list[str], expected: list[str], total: int, clients: int, seconds: float):
        self.url, self.texts, self.expected = url, texts, expected
        self.total, self.clients, self.seconds = total, clients, seconds
        self.lock = threading.Lock()
        self.sent = 0
        self.latencies: list[float] = []
        self.answered: list[tuple[str, str]] = []  # (record id, response text) of every 200
        self.errors: list[str] = []
        self.mismatches = 0
        self.stop = threading.Event()

    def _next(self) -> int | None:
        with self.lock:
            if self.sent >= self.total or self.stop.is_set() or time.monotonic() > self.deadline:
                return None
            self.sent += 1
            return self.sent - 1

    def _client(self) -> None:
        with httpx.Client(timeout=120) as http:
            while (n := self._next()) is not None:
                i = n % len(self.texts)
                start = time.perf_counter()
                try:
                    answer = http.post(f"{self.url}/Claim/$submit", content=self.texts[i].encode(),
                                       headers={"Content-Type": "application/fhir+json"})
                except httpx.HTTPError as exc:
                    with self.lock:
                        self.errors.append(type(exc).__name__)
                    if self.stop.is_set():
                        return
                    continue
                elapsed = time.perf_counter() - start
                with self.lock:
                    if answer.status_code != 200:
                        self.errors.append(f"HTTP {answer.status_code}")
                        continue
                    self.latencies.append(elapsed)
                    self.answered.append((answer.headers[RECORD], answer.text))
                    self.mismatches += answer.text != self.expected[i]

    def run(self, until: threading.Event | None = None) -> float:
        self.deadline = time.monotonic() + self.seconds
        threads = [threading.Thread(target=self._client) for _ in range(self.clients)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return time.perf_counter() - start


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def kill_check(database: str, folder: Path, texts: list[str], expected: list[str], clients: int) -> bool:
    from exchange.serve.log import DecisionLog

    server = Server(database, folder)
    load = Load(server.url, texts, expected, 10**6, clients, 60)
    runner = threading.Thread(target=load.run)
    runner.start()
    while len(load.answered) < 40 and runner.is_alive():
        time.sleep(0.05)
    with load.lock:
        in_flight = load.sent - len(load.answered) - len(load.errors)
    server.stop(signal.SIGKILL)
    load.stop.set()
    runner.join()
    log = DecisionLog(database)
    lost = [rid for rid, text in load.answered if (r := log.get(rid)) is None or r.response != text]
    log.close()
    print(f"kill -9 under load: {len(load.answered)} answered 200 before the kill, about {in_flight} in flight; "
          f"{len(load.answered) - len(lost)} of {len(load.answered)} in the log with the response sent"
          f"{'' if not lost else f'; LOST {len(lost)}'}")
    return not lost


@dataclass
class Run:
    """One load run on one server: its figures."""

    tree: str
    answered: int
    sent: int
    wall: float
    latencies: list[float]
    cpu_own: float
    cpu_children: float
    errors: list[str]
    mismatches: int

    @property
    def rate(self) -> float:
        return self.answered / self.wall if self.wall else 0.0

    def p(self, q: float) -> float:
        return percentile(self.latencies, q) if self.latencies else float("nan")

    @property
    def cpu(self) -> float:
        """CPU seconds a decision: the server process and its decision processes."""
        return (self.cpu_own + self.cpu_children) / self.answered if self.answered else float("nan")

    def line(self) -> str:
        n = self.answered
        return (f"{self.tree}: answered {n} of {self.sent} in {self.wall:.1f} s: {self.rate:.1f} decisions/s; latency "
                f"p50 {self.p(50) * 1000:.0f} ms, p95 {self.p(95) * 1000:.0f} ms, p99 {self.p(99) * 1000:.0f} ms; "
                f"server CPU {self.cpu * 1000:.0f} ms a decision ({self.cpu_own / max(n, 1) * 1000:.0f} in the "
                f"server process, {self.cpu_children / max(n, 1) * 1000:.0f} in the decision processes); errors "
                f"{len(self.errors)}{' ' + str(sorted(set(self.errors))) if self.errors else ''}; differing from "
                f"explain: {self.mismatches}")


def load_run(label: str, tree: Path, database: str, folder: Path, texts: list[str], expected: list[str],
             args: argparse.Namespace) -> Run:
    server = Server(database, folder, tree)
    load = Load(server.url, texts, expected, args.requests, args.clients, args.seconds)
    cpu_before = server.cpu()
    wall = load.run()
    cpu_after = server.cpu()
    server.stop()
    return Run(label, len(load.latencies), load.sent, wall, load.latencies, cpu_after[0] - cpu_before[0],
               cpu_after[1] - cpu_before[1], load.errors, load.mismatches)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="at most this many requests a run (default 1000)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60.0, help="at most this long a run (default 60)")
    parser.add_argument("--database", default=None, help="a postgresql:// URL (default: a fresh SQLite file)")
    parser.add_argument("--repeat", type=int, default=5, help="baseline rounds over the Bundles")
    parser.add_argument("--baseline", metavar="REV", default=None,
                        help="also load a server of this commit (checked out beside), runs interleaved")
    parser.add_argument("--rounds", type=int, default=None, help="load runs a tree (default 1; 2 with --baseline)")
    args = parser.parse_args(argv)
    rounds = args.rounds or (2 if args.baseline else 1)
    with tempfile.TemporaryDirectory(prefix="necessity-bench-serve-") as work, \
            baseline_tree(args.baseline or "HEAD", args.baseline is not None) as base:
        folder = Path(work)
        texts = bundles()
        expected = explained(texts, folder)
        one, one_cpu = baseline(texts, args.repeat)
        load_before = os.getloadavg()[0]
        runs: list[Run] = []
        trees = [("this tree", ROOT)] + ([(f"baseline {args.baseline}", base)] if base is not None else [])
        for r in range(rounds):
            for label, tree in (trees if r % 2 == 0 else trees[::-1]):  # A B B A: the load falls on both alike
                database = args.database or str(folder / f"load-{len(runs)}.sqlite")
                runs.append(load_run(label, tree, database, folder, texts, expected, args))
                print(runs[-1].line(), flush=True)
        print(f"necessity serve on loopback, {args.clients} clients, {len(texts)} Bundles round-robin, log "
              f"{'PostgreSQL' if args.database else 'SQLite'}; {os.cpu_count()} cores, load average "
              f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after (the machine is shared)")
        print(f"one process (no HTTP, no log, no decision process), this tree: median {one * 1000:.0f} ms a request "
              f"({one_cpu * 1000:.0f} ms CPU), {1 / one:.1f} requests/s on one core")
        medians = {}
        for label, _ in trees:
            mine = [run for run in runs if run.tree == label]
            medians[label] = {what: statistics.median(f(run) for run in mine) for what, f in (
                ("decisions/s", lambda run: run.rate), ("p50 s", lambda run: run.p(50)),
                ("p99 s", lambda run: run.p(99)), ("CPU s a decision", lambda run: run.cpu))}
            m = medians[label]
            print(f"{label}, median of {len(mine)}: {m['decisions/s']:.1f} decisions/s, p50 {m['p50 s'] * 1000:.0f} ms, "
                  f"p99 {m['p99 s'] * 1000:.0f} ms, server CPU {m['CPU s a decision'] * 1000:.0f} ms a decision, so at "
                  f"most {os.cpu_count() / m['CPU s a decision']:.0f} decisions/s if this machine's {os.cpu_count()} "
                  "cores were ours alone (an estimate from CPU time, not a measurement)")
        if base is not None:
            a, b = medians["this tree"], medians[f"baseline {args.baseline}"]
            print(f"this tree / baseline: decisions/s {a['decisions/s'] / b['decisions/s']:.2f}x, p99 "
                  f"{a['p99 s'] / b['p99 s']:.2f}x, CPU a decision {a['CPU s a decision'] / b['CPU s a decision']:.2f}x")
        kept = kill_check(args.database or str(folder / "kill.sqlite"), folder, texts, expected, args.clients)
    clean = all(run.answered and not run.errors and not run.mismatches for run in runs)
    return 0 if clean and kept else 1


if __name__ == "__main__":
    raise SystemExit(main())
