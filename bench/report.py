"""What the HTML pages cost, against the run or the format they come with, in one run.

* ``batch --report``: ``engine.running.batch.run`` over a generated library
  (bench/generate.py) in this process, without briefs, and with briefs plus
  the report rendered (``engine.presenting.report.to_html``), interleaved so that noise on
  this shared machine falls on both; the ratio is the report's cost.
* the review page: rendering one decision (examples/source-003.yaml, decided
  once) as JSON and as HTML; the ratio is the page's cost over the contract.
* the cold start of ``necessity explain --format html`` against ``--format
  json`` (subprocesses): what importing Jinja2 adds.

Prints medians and ratios; the records written with and without briefs are
compared byte for byte (a difference makes the exit status 1).

Usage: python bench/report.py [--n N] [--seed S] [--repeat N]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.running import batch  # noqa: E402
from engine.presenting.page import to_html as page  # noqa: E402
from engine.deciding.policy import load  # noqa: E402
from engine.presenting.render import RENDERERS  # noqa: E402
from engine.presenting.report import policy_ref, to_html as report  # noqa: E402
from engine.deciding.solver import Engine  # noqa: E402
from facts import load_case  # noqa: E402
from generate import case_records  # noqa: E402

NECESSITY = ROOT / ".venv" / "bin" / "necessity"
EXAMPLE = "examples/source-003.yaml"


def say(text: str) -> None:
    print(text, flush=True)


def run_batch(policy_ref_: str, texts: list[str], briefs: bool) -> tuple[float, str, int]:
    """Seconds for a run over ``texts`` (and its report, with ``briefs``), its records, the page's bytes."""
    items = (batch.Item(f"gen.jsonl:{i + 1}", text, "json", in_lines=True) for i, text in enumerate(texts))
    out = io.StringIO()
    start = time.perf_counter()
    summary = batch.run(items, out, policy_ref=policy_ref_, policies_dir=None, briefs=briefs)
    size = 0
    if briefs:
        size = len(report(summary.briefs or [], policy_ref(load(policy_ref_)), "gen.jsonl", "out.jsonl").encode())
    return time.perf_counter() - start, out.getvalue(), size


def median_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def cold(argv: list[str], runs: int) -> float:
    times = []
    for round_ in range(runs + 1):
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
        if round_:
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="generated cases in the library")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--policy", default="reference")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    say(f"batch --report, policy {args.policy}: {args.n} generated cases (seed {args.seed}), 1 job, "
        f"median of {args.repeat} runs per mode")
    records = case_records(args.n, args.seed)  # a record the case model refuses is an error record: listed too
    texts = [json.dumps(rec, sort_keys=True) for rec in records]
    seconds: dict[bool, list[float]] = {False: [], True: []}
    differing, size = 0, 0
    for round_ in range(args.repeat):
        plain_s, plain_out, _ = run_batch(args.policy, texts, briefs=False)
        report_s, report_out, size = run_batch(args.policy, texts, briefs=True)
        seconds[False].append(plain_s)
        seconds[True].append(report_s)
        differing += plain_out != report_out
        say(f"  run {round_ + 1}/{args.repeat}: records only {plain_s:.2f} s; with the report {report_s:.2f} s")
    plain, with_report = statistics.median(seconds[False]), statistics.median(seconds[True])
    say(f"{'mode':<46}{'cases/s':>10}")
    say(f"{'batch, records only':<46}{args.n / plain:>10.0f}")
    say(f"{'batch, records and --report':<46}{args.n / with_report:>10.0f}")
    say(f"{'with --report / records only (time)':<46}{with_report / plain:>9.2f}x")
    say(f"{'report size':<46}{size / 1024:>9.0f} KiB ({size / args.n:.0f} bytes per case)")
    say(f"{'records differing with --report':<46}{differing:>10}")

    decision = Engine(load(args.policy)).decide(load_case(ROOT / EXAMPLE))
    page(decision)  # load the templates once
    as_json = median_ms(lambda: RENDERERS["json"](decision, None), 50)
    as_html = median_ms(lambda: page(decision), 50)
    say(f"rendering {EXAMPLE}, median of 50 (ms)")
    say(f"{'json':<46}{as_json:>10.2f}")
    say(f"{'html':<46}{as_html:>10.2f}")
    say(f"{'html / json':<46}{as_html / as_json:>9.2f}x")

    say("cold start, median of 7 runs (ms)")
    base = cold([str(NECESSITY), "explain", EXAMPLE, "--format", "json"], 7)
    html = cold([str(NECESSITY), "explain", EXAMPLE, "--format", "html"], 7)
    say(f"{'necessity explain --format json':<46}{base:>10.0f}")
    say(f"{'necessity explain --format html':<46}{html:>10.0f}")
    say(f"{'html / json':<46}{html / base:>9.2f}x")
    return 1 if differing else 0


if __name__ == "__main__":
    raise SystemExit(main())
