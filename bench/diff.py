"""How long `necessity diff` takes for every pair of shipped policies, and `check` for each.

Prints, per pair, the median wall time (over --repeat runs, interleaved) of a
diff asked for --max witnesses, the witnesses found and whether the search
exhausted the bounds; then each policy's `check`.  The baseline in the same
run is the self-diff of the reference policy, which proves that no witness
exists: a pair's ratio against it says how much harder the pair is.
Usage: python bench/diff.py [--repeat N] [--max N]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.check import check  # noqa: E402
from engine.diff import diff  # noqa: E402
from engine.policy import load, shipped_policies  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max", type=int, default=10)
    args = parser.parse_args(argv)
    policies = {pid: load(pid) for pid in shipped_policies()}
    pairs = [("reference", "reference")] + list(itertools.combinations(sorted(policies), 2))
    times: dict[tuple[str, str], list[float]] = {p: [] for p in pairs}
    found: dict[tuple[str, str], tuple[int, bool]] = {}
    for _ in range(args.repeat):
        for a, b in pairs:
            start = time.perf_counter()
            result = diff(policies[a], policies[b], max_witnesses=args.max)
            times[(a, b)].append(time.perf_counter() - start)
            found[(a, b)] = (len(result.witnesses), result.complete)
    base = statistics.median(times[("reference", "reference")])
    print(f"necessity diff, median of {args.repeat} runs, --max {args.max} (seconds)")
    print(f"{'pair':<42}{'median s':>9}{'witnesses':>11}{'vs self-diff':>14}")
    for pair in pairs:
        med = statistics.median(times[pair])
        n, complete = found[pair]
        label = f"{pair[0]} / {pair[1]}" + (" (baseline)" if pair == ("reference", "reference") else "")
        print(f"{label:<42}{med:>9.2f}{n:>8}{'' if complete or n else ' (cut)':<3}{med / base:>13.1f}x")
    print(f"\nnecessity check, median of {args.repeat} runs (seconds)")
    for pid, policy in sorted(policies.items()):
        runs = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            check(policy)
            runs.append(time.perf_counter() - start)
        print(f"{pid:<42}{statistics.median(runs):>9.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
