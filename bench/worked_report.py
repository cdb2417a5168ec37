"""The worked library report (issue 23) on a large library: its bytes and how soon it can be used.

Decides a generated library (bench/generate.py) once with briefs, writes the
report (``engine.presenting.report.to_html``: one file, the cases in a JSON
data block drawn a page at a time), and measures

* its size, and what the other layout would have cost: ``batch --report DIR/``
  writing one review page per case, estimated from the review pages
  (``explain --format html``) of a sample of the cases;
* in headless Chromium (tests/browser.py), from navigation to the page's
  script marking itself ready (``body[data-ready]``), the median of several
  loads, and the elements on the page then;
* filtering by a criterion and opening a case, each timed in the page.

Prints figures; asserts nothing.

Usage: python bench/worked_report.py [--n 2000] [--seed S] [--loads 5] [--would-change]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from browser import Browser  # noqa: E402
from engine.deciding.policy import load  # noqa: E402
from engine.deciding.solver import Engine  # noqa: E402
from engine.presenting.page import to_html as review_page  # noqa: E402
from engine.presenting.report import policy_ref, to_html as report  # noqa: E402
from engine.running import batch  # noqa: E402
from facts.load import parse_case  # noqa: E402
from generate import case_records  # noqa: E402


def say(text: str) -> None:
    print(text, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--policy", default="reference")
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--sample", type=int, default=40, help="cases whose review page is rendered for the DIR/ estimate")
    parser.add_argument("--would-change", action="store_true")
    args = parser.parse_args(argv)

    records = case_records(args.n, args.seed)
    texts = [json.dumps(rec, sort_keys=True) for rec in records]
    items = (batch.Item(f"gen.jsonl:{i + 1}", text, "json", in_lines=True) for i, text in enumerate(texts))
    start = time.perf_counter()
    summary = batch.run(items, io.StringIO(), policy_ref=args.policy, policies_dir=None, briefs=True,
                        would_change=args.would_change)
    decided = time.perf_counter() - start
    start = time.perf_counter()
    html = report(summary.briefs or [], policy_ref(load(args.policy)), "gen.jsonl", "out.jsonl", args.would_change)
    rendered = time.perf_counter() - start
    size = len(html.encode("utf-8"))
    data = html.split('id="report-data">', 1)[1].split("</script>", 1)[0]
    say(f"worked report, policy {args.policy}: {args.n} generated cases (seed {args.seed}), "
        f"{'with' if args.would_change else 'without'} --would-change")
    say(f"  decided in {decided:.1f} s; report rendered in {rendered * 1000:.0f} ms")
    say(f"  one file:               {size / 1024:8.0f} KiB ({size / args.n:.0f} bytes a case; "
        f"the cases' JSON block {len(data.encode()) / 1024:.0f} KiB)")

    engine = Engine(load(args.policy))
    step = max(1, len(records) // args.sample)
    sample = []
    for rec in records[::step][:args.sample]:
        try:
            case = parse_case(json.dumps(rec), "gen.json", fmt="json")
        except Exception:  # noqa: BLE001 - a record the model refuses has no review page
            continue
        sample.append(len(review_page(engine.decide(case, would_change=args.would_change)).encode("utf-8")))
    per_page = statistics.mean(sample)
    say(f"  DIR/ alternative:       {(per_page * args.n + size - len(data.encode())) / 1024:8.0f} KiB in all "
        f"({per_page / 1024:.0f} KiB a review page, mean of {len(sample)}), index alone "
        f"{(size - len(data.encode())) / 1024:.0f} KiB")

    with tempfile.TemporaryDirectory() as folder, Browser() as browser:
        path = Path(folder) / "r.html"
        path.write_text(html, encoding="utf-8")
        ready, elements = [], 0
        for _ in range(args.loads):
            tab = browser.open(path, 1280, 800)
            try:
                ready.append(tab.evaluate("performance.now()"))  # load event fired: the script has run
                assert tab.evaluate("document.body.dataset.ready") == "true"
                elements = tab.evaluate("document.getElementsByTagName('*').length")
                filter_ms = tab.evaluate("(() => { const t = performance.now(); const f = document.getElementById('filters');"
                                         " f.elements.criterion.selectedIndex = 1; f.dispatchEvent(new Event('change'));"
                                         " document.body.offsetHeight; return performance.now() - t; })()")
                open_ms = tab.evaluate("(() => { const t = performance.now();"
                                       " document.querySelector('#case-rows button.open').click();"
                                       " document.body.offsetHeight; return performance.now() - t; })()")
            finally:
                tab.close()
        say(f"  Chromium, median of {args.loads} loads: usable (load event, list drawn) after "
            f"{statistics.median(ready):.0f} ms; {elements} elements on the page")
        say(f"  filter by a criterion: {filter_ms:.1f} ms; open a case's review: {open_ms:.1f} ms (last load)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
