"""Batch throughput against deciding case by case, and the command's cold start, in one run.

Generates a case library with bench/generate.py and decides it, under one
policy, in three modes interleaved so that noise on this shared machine falls
on all of them alike:

* ``naive``: what ``necessity explain --format json`` does per case, minus
  what would change: the case parsed, ``Engine(policy).decide`` with a fresh
  grounding, the explanation rendered as a JSON record (measured on a subset);
* ``batch, 1 job``: ``engine.running.batch.run`` in this process, a grounding per chunk;
* ``batch, N jobs``: the same with one worker process per core.

Every mode renders the same records (checked on the naive subset).  Then the
cold start of ``necessity explain`` and of ``necessity --help`` (subprocesses).
Prints medians in cases/s and milliseconds with the targets beside them: at
least 2000 cases/s per core, batch at least 5x naive, cold start under 300 ms.

Usage: python bench/batch.py [--n N] [--seed S] [--policy ID] [--repeat N] [--naive N]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.running import batch  # noqa: E402
from engine.deciding.policy import Policy, load  # noqa: E402
from engine.presenting.render import to_json  # noqa: E402
from engine.deciding.solver import Engine  # noqa: E402
from facts.load import parse_case  # noqa: E402
from generate import case_records, validate  # noqa: E402

NECESSITY = ROOT / ".venv" / "bin" / "necessity"
COLD_COMMANDS = {
    "necessity explain examples/source-003.yaml": [str(NECESSITY), "explain", "examples/source-003.yaml"],
    "necessity --help": [str(NECESSITY), "--help"],
}
COLD_RUNS = 7


def say(text: str) -> None:
    print(text, flush=True)


def naive(policy: Policy, texts: list[str]) -> tuple[float, list[str]]:
    """Seconds to decide ``texts`` one at a time, and the records rendered."""
    lines = []
    start = time.perf_counter()
    for i, text in enumerate(texts):
        case = parse_case(text, f"gen:{i}", fmt="json")
        lines.append(batch.record_line(to_json(Engine(policy).decide(case, would_change=False))))
    return time.perf_counter() - start, lines


def batched(policy_ref: str, texts: list[str], jobs: int) -> tuple[float, batch.Summary, list[str]]:
    """Seconds for ``engine.running.batch.run`` over ``texts`` with ``jobs`` workers, its summary and records."""
    items = (batch.Item(f"gen.jsonl:{i + 1}", text, "json", in_lines=True) for i, text in enumerate(texts))
    out = io.StringIO()
    start = time.perf_counter()
    summary = batch.run(items, out, policy_ref=policy_ref, policies_dir=None, jobs=jobs)
    return time.perf_counter() - start, summary, out.getvalue().splitlines()


def cold_starts(runs: int) -> dict[str, float]:
    """Median wall time (ms) of each command in COLD_COMMANDS, run alternately after one warm-up each."""
    times: dict[str, list[float]] = {label: [] for label in COLD_COMMANDS}
    for round_ in range(runs + 1):
        for label, argv in COLD_COMMANDS.items():
            start = time.perf_counter()
            done = subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            elapsed = time.perf_counter() - start
            if done.returncode != 0:
                raise SystemExit(f"{label} exited {done.returncode}: {done.stderr.strip()}")
            if round_:  # the first round only warms the file cache
                times[label].append(elapsed)
    return {label: statistics.median(ts) * 1000 for label, ts in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="generated cases to decide in batch")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--policy", default="reference")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--naive", type=int, default=200, help="cases decided one by one (a subset)")
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    modes = {"naive": "naive", "batch1": "batch, 1 job", "batchN": f"batch, {cores} jobs"}

    say(f"batch throughput, policy {args.policy}: {args.n} generated cases (seed {args.seed}), "
        f"naive on the first {min(args.naive, args.n)}, {cores} cores, median of {args.repeat} runs per mode")
    records = case_records(args.n, args.seed)
    validate(records)
    texts = [json.dumps(rec, sort_keys=True) for rec in records]
    subset = texts[:args.naive]
    policy = load(args.policy)
    Engine(policy).decide(parse_case(subset[0], "gen:0", fmt="json"), would_change=False)  # warm imports and caches

    rates: dict[str, list[float]] = {mode: [] for mode in modes}
    summary = None
    mismatches = 0
    for round_ in range(args.repeat):
        seconds, naive_lines = naive(policy, subset)
        rates["naive"].append(len(subset) / seconds)
        for mode, jobs in (("batch1", 1), ("batchN", cores)):
            seconds, summary, lines = batched(args.policy, texts, jobs)
            rates[mode].append(len(texts) / seconds)
            mismatches += sum(a != b for a, b in zip(naive_lines, lines[:len(subset)]))
        say(f"  run {round_ + 1}/{args.repeat}, cases/s: "
            + "; ".join(f"{modes[m]} {rates[m][-1]:.0f}" for m in modes))

    med = {mode: statistics.median(rs) for mode, rs in rates.items()}
    assert summary is not None
    say("  outcomes: " + " · ".join(f"{k} {v}" for k, v in sorted(summary.outcomes.items()))
        + f"; errors {summary.errors}; records differing from naive {mismatches}")
    say(f"{'mode':<46}{'cases/s':>10}{'per core':>10}")
    say(f"{modes['naive']:<46}{med['naive']:>10.0f}{med['naive']:>10.0f}")
    say(f"{modes['batch1']:<46}{med['batch1']:>10.0f}{med['batch1']:>10.0f}   (target >= 2000 per core)")
    say(f"{modes['batchN']:<46}{med['batchN']:>10.0f}{med['batchN'] / cores:>10.0f}   (target >= 2000 per core)")
    say(f"{'batch, 1 job / naive':<46}{med['batch1'] / med['naive']:>9.2f}x   (target >= 5x)")
    say(f"{f'batch, {cores} jobs / naive':<46}{med['batchN'] / med['naive']:>9.2f}x")

    say(f"cold start, median of {COLD_RUNS} runs (ms)")
    for label, ms in cold_starts(COLD_RUNS).items():
        target = "   (target < 300 ms)" if "explain" in label else ""
        say(f"{label:<46}{ms:>10.0f}{target}")
    return 1 if summary.errors or mismatches else 0


if __name__ == "__main__":
    raise SystemExit(main())
