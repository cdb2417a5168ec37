"""How long `necessity diff` takes, against the search it replaced, and `check` and `diff --cases`.

1. `diff reference aetna-cpb-0743 --max N` in this tree, and the same diff in the
   baseline: the search as it was at commit BASELINE (one optimising search over
   all differences), checked out in a temporary git worktree and run with this
   tree's Python.  The runs are interleaved, so noise on this shared machine falls
   on both alike; the ratio is taken between the medians of the same run.  The
   first witness's time is reported too (this tree streams witnesses).
2. Every other pair of shipped policies, and each policy diffed with itself (a
   proof that no witness exists), in this tree only.
3. `check` on each shipped policy.
4. `diff --cases` on a seeded library from bench/generate.py (--cases N records),
   with one worker and with every core.

Every search runs in a fresh process of its own, as the CLI runs it: clingo keeps
every symbol a process creates, so a search that followed others in one process
would pay for theirs.

Usage: python bench/diff.py [--repeat N] [--max N] [--baseline REV] [--no-baseline] [--cases N]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from baseline import baseline_tree  # noqa: E402
from engine.deciding.many import read_inputs  # noqa: E402
from engine.analysing.impact import impact  # noqa: E402
from engine.deciding.policy import shipped_policies  # noqa: E402

#: main before issue 12: the diff that optimised one search over every difference
BASELINE = "f22f2cd"

BASELINE_RUN = """
import sys, time
sys.path.insert(0, sys.argv[1])
from engine.analysing.diff import diff
from engine.deciding.policy import load
a, b = load(sys.argv[3]), load(sys.argv[4])
start = time.perf_counter()
result = diff(a, b, max_witnesses=int(sys.argv[2]))
print(time.perf_counter() - start, 0.0, len(result.witnesses))
"""

HERE_RUN = """
import sys, time
sys.path.insert(0, sys.argv[1])
from engine.analysing.diff import diff_events
from engine.deciding.policy import load
a, b = load(sys.argv[3]), load(sys.argv[4])
start = time.perf_counter()
first, witnesses = None, 0
for event in diff_events(a, b, max_witnesses=int(sys.argv[2])):
    if event[0] == "witness":
        witnesses += 1
        first = time.perf_counter() - start if first is None else first
print(time.perf_counter() - start, first or 0.0, witnesses)
"""

CHECK_RUN = """
import sys, time
sys.path.insert(0, sys.argv[1])
from engine.analysing.check import check
from engine.deciding.policy import load
policy = load(sys.argv[2])
start = time.perf_counter()
check(policy)
print(time.perf_counter() - start)
"""


def _timed(script: str, tree: Path, *args: object) -> list[float]:
    """The numbers a script prints, run in a fresh process with this tree's Python and packages."""
    out = subprocess.run([sys.executable, "-c", script, str(tree), *map(str, args)], capture_output=True,
                         text=True, check=True, cwd=tree).stdout.split()
    return [float(x) for x in out]


def run_baseline(tree: Path, max_witnesses: int, a: str = "reference", b: str = "aetna-cpb-0743") -> tuple[float, float, int]:
    total, first, witnesses = _timed(BASELINE_RUN, tree, max_witnesses, a, b)
    return total, first, int(witnesses)


def run_here(max_witnesses: int, a: str = "reference", b: str = "aetna-cpb-0743") -> tuple[float, float, int]:
    total, first, witnesses = _timed(HERE_RUN, ROOT, max_witnesses, a, b)
    return total, first, int(witnesses)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max", type=int, default=20)
    parser.add_argument("--baseline", default=BASELINE)
    parser.add_argument("--no-baseline", action="store_true", help="skip the baseline (it takes minutes a run)")
    parser.add_argument("--cases", type=int, default=10_000)
    args = parser.parse_args(argv)
    policies = sorted(shipped_policies())

    # 1. this tree against the baseline, interleaved
    here: list[tuple[float, float, int]] = []
    base: list[tuple[float, float, int]] = []
    with baseline_tree(args.baseline, not args.no_baseline) as tree:
        for _ in range(args.repeat):
            here.append(run_here(args.max))
            if tree is not None:
                base.append(run_baseline(tree, args.max))
    total = statistics.median(t for t, _, _ in here)
    first = statistics.median(f for _, f, _ in here)
    print(f"necessity diff reference aetna-cpb-0743 --max {args.max}, median of {args.repeat} interleaved runs")
    print(f"  {'this tree':<44}{total:>8.1f} s  {here[-1][2]:>3} witnesses, the first after {first:.1f} s")
    if base:
        b_total = statistics.median(t for t, _, _ in base)
        print(f"  {'baseline ' + args.baseline + ' (one optimising search)':<44}{b_total:>8.1f} s  {base[-1][2]:>3} witnesses")
        print(f"  {'ratio baseline / this tree':<44}{b_total / total:>8.1f}x")

    # 2. every pair, and each policy with itself
    print(f"\nnecessity diff, this tree, median of {args.repeat} runs, --max {args.max} (seconds)")
    pairs = [(p, p) for p in policies] + list(itertools.combinations(policies, 2))
    for a, b in pairs:
        runs = [run_here(args.max, a, b) for _ in range(args.repeat)]
        med = statistics.median(t for t, _, _ in runs)
        print(f"  {a + ' / ' + b:<44}{med:>8.1f} s  {runs[-1][2]:>3} witnesses")

    # 3. check
    print(f"\nnecessity check, median of {args.repeat} runs (seconds)")
    for pid in policies:
        runs = [_timed(CHECK_RUN, ROOT, pid)[0] for _ in range(args.repeat)]
        print(f"  {pid:<44}{statistics.median(runs):>8.1f} s")

    # 4. diff --cases on a seeded library
    with tempfile.TemporaryDirectory(prefix="necessity-cases-") as tmp:
        library = Path(tmp) / "cases.jsonl"
        subprocess.run([sys.executable, str(ROOT / "bench" / "generate.py"), str(args.cases), "--jsonl", str(library)],
                       check=True)
        print(f"\nnecessity diff reference aetna-cpb-0743 --cases ({args.cases} generated cases, seed 2026)")
        for jobs in (1, os.cpu_count() or 1):
            items, _ = read_inputs(library)
            start = time.perf_counter()
            result = impact(items, "reference", "aetna-cpb-0743", jobs=jobs)
            seconds = time.perf_counter() - start
            print(f"  --jobs {jobs:<37}{seconds:>8.1f} s  {args.cases / seconds:>6.0f} cases/s, "
                  f"{result.changed} changed")
    print(json.dumps({"diff_s": total, "first_witness_s": first,
                      "baseline_s": statistics.median(t for t, _, _ in base) if base else None}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
