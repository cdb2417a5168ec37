"""What full explanations cost per case, against determinations only, in one run.

For every example, decide it repeatedly in three modes, interleaved so that
noise on this shared machine falls on all of them alike:

* ``determinations``: the plain solve, read for determinations only;
* ``why``: plus the criteria met / not met / not documented with evidence;
* ``full``: plus what would change each shortfall (the what-if solves).

Prints medians in milliseconds and the full/determinations ratio (target: at
most 3x).  Usage: python bench/explain.py [--repeat N] [CASE ...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.deciding.policy import load  # noqa: E402
from engine.deciding.solver import Engine  # noqa: E402
from facts import load_case  # noqa: E402

MODES = {
    "determinations": {"explain": False, "would_change": False},
    "why": {"explain": True, "would_change": False},
    "full": {"explain": True, "would_change": True},
}


def measure(engine: Engine, case, repeat: int) -> dict[str, float]:
    times: dict[str, list[float]] = {m: [] for m in MODES}
    for _ in range(repeat):
        for mode, kwargs in MODES.items():
            start = time.perf_counter()
            engine.decide(case, **kwargs)
            times[mode].append(time.perf_counter() - start)
    return {m: statistics.median(ts) * 1000 for m, ts in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--policy", default="reference")
    parser.add_argument("cases", nargs="*", type=Path)
    args = parser.parse_args(argv)
    cases = args.cases or sorted((ROOT / "examples").glob("source-*.yaml"))
    engine = Engine(load(args.policy))
    engine.decide(load_case(cases[0]))  # warm caches (parsed policy, core rules)
    print(f"explanation cost, policy {args.policy}, median of {args.repeat} runs per mode (ms)")
    print(f"{'case':<14}{'determinations':>15}{'why':>9}{'full':>9}{'full/det':>10}")
    ratios = []
    for path in cases:
        med = measure(engine, load_case(path), args.repeat)
        ratio = med["full"] / med["determinations"]
        ratios.append(ratio)
        print(f"{path.stem:<14}{med['determinations']:>15.2f}{med['why']:>9.2f}{med['full']:>9.2f}{ratio:>9.2f}x")
    print(f"{'median ratio':<14}{'':>33}{statistics.median(ratios):>9.2f}x   (max {max(ratios):.2f}x, target <= 3x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
