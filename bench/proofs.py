"""How long `necessity check P` and `necessity diff P P` take for every shipped policy, and what they prove.

For each shipped policy, `check` and the policy diffed with itself (a proof that
no witness exists) are run as the CLI runs them, each in a fresh process, with
the same --timeout in this tree and in the baseline: the tree at commit BASELINE
(by default main before the bounds took one value each side of an order,
when cigna-cmm-609's check ran out of its 300 s), checked out in a temporary
git worktree and run with this tree's Python.  The runs are interleaved, so
noise on this shared machine falls on both alike; the ratio is taken between
the medians of the same run.  Each line gives the outcome too: a faster search
that proves less is no gain.

    proved        exit 0: every claim proved (check), or equivalent (diff)
    not proved    exit 2: nothing found, but something not proved (a gap, or the time limit)
    findings      exit 1
    timeout       the process outlived --timeout + 60 s and was stopped

Usage: python bench/proofs.py [--repeat N] [--timeout S] [--baseline REV] [--no-baseline] [--only POLICY]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from baseline import baseline_tree  # noqa: E402
from engine.deciding.policy import shipped_policies  # noqa: E402

#: main with the regression: figures followed through heads and formulas (issues 20 and 24) merged
BASELINE = "a638596"

RUN = """
import sys
sys.path.insert(0, sys.argv[1])
sys.argv = ["necessity", *sys.argv[2:]]
from engine.cli import main
main()
"""

OUTCOMES = {0: "proved", 1: "findings", 2: "not proved"}


def run(tree: Path, command: str, policy: str, timeout: float) -> tuple[float, str]:
    """Wall time and outcome of one command, in a fresh process, on the tree's own policies."""
    folder = tree / "policies"
    args = [command, policy, policy] if command == "diff" else [command, policy]
    args += ["--policies-dir", str(folder), "--timeout", f"{timeout:g}"]
    start = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-c", RUN, str(tree), *args], capture_output=True, text=True,
                              cwd=tree, timeout=timeout + 60)
        outcome = OUTCOMES.get(done.returncode, f"exit {done.returncode}")
        if done.returncode == 2 and "stopped after --timeout" in done.stdout:
            outcome = "not proved (time limit)"
    except subprocess.TimeoutExpired:
        outcome = "timeout"
    return time.perf_counter() - start, outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=300.0, help="each command's --timeout (the CLI's default)")
    parser.add_argument("--baseline", default=BASELINE)
    parser.add_argument("--no-baseline", action="store_true", help="this tree only")
    parser.add_argument("--only", action="append", help="a policy to run (repeatable; default every shipped one)")
    args = parser.parse_args(argv)
    policies = args.only or sorted(shipped_policies())

    with baseline_tree(args.baseline, not args.no_baseline) as tree:
        print(f"necessity check P / diff P P, --timeout {args.timeout:g}, median of {args.repeat} interleaved "
              f"run(s), wall seconds")
        header = f"  {'command':<36}{'this tree':>10}  {'outcome':<24}"
        if tree is not None:
            header += f"{'baseline ' + args.baseline:>18}  {'outcome':<24}{'ratio':>7}"
        print(header)
        for command in ("check", "diff"):
            for pid in policies:
                here: list[tuple[float, str]] = []
                base: list[tuple[float, str]] = []
                for _ in range(args.repeat):
                    here.append(run(ROOT, command, pid, args.timeout))
                    if tree is not None:
                        base.append(run(tree, command, pid, args.timeout))
                h = statistics.median(t for t, _ in here)
                label = f"{command} {pid}" + (f" {pid}" if command == "diff" else "")
                line = f"  {label:<36}{h:>10.1f}  {here[-1][1]:<24}"
                if base:
                    b = statistics.median(t for t, _ in base)
                    line += f"{b:>18.1f}  {base[-1][1]:<24}{b / h:>6.1f}x"
                print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
