"""Hold two texts of one policy to the same answers, byte for byte.

Decides every golden case (policies/*/tests), every example (examples/*.yaml)
and a seeded generated library (bench/generate.py) under policy folder OLD and
policy folder NEW, and compares the JSON of each decision (evidence included:
it is rendered into sentences) and every criterion's status.  Prints how many
cases were compared and every case that differs; exits 1 if any does.  A
case whose what-if search stopped at MAX_ALTERNATIVES equally small sets is
marked: which of them are listed follows the solver's search order, which
any change to the program text may change.

A policy rewritten (in formula form, say) replaces its old text only when
this prints no difference.

Usage: python bench/equivalence.py OLD_FOLDER NEW_FOLDER [--generated N] [--seed S] [--ignore lacking]

A criterion rewritten from raw rules into a formula gains a ``lacking`` list
(what the record does not document, named from the formula's leaves), which
raw rules cannot give: ``--ignore lacking`` compares everything else.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from engine.authoring.golden import golden_case, load_golden  # noqa: E402
from engine.deciding.policy import load  # noqa: E402
from engine.deciding import solver  # noqa: E402
from engine.deciding.solver import Engine  # noqa: E402
from engine.presenting.render import dumps, to_json  # noqa: E402
from facts import load_case  # noqa: E402
from facts.load import parse_case  # noqa: E402
from generate import case_records  # noqa: E402


def cases(generated: int, seed: int, kinds: frozenset[str] = frozenset({"golden", "example"})):
    """(label, case) for every golden, example and generated record."""
    if "golden" in kinds:
        for path in sorted((ROOT / "policies").glob("*/tests/*.yaml")):
            yield f"golden {path.relative_to(ROOT)}", golden_case(load_golden(path))
    if "example" in kinds:
        for path in sorted((ROOT / "examples").glob("*.yaml")):
            yield f"example {path.relative_to(ROOT)}", load_case(path)
    for i, record in enumerate(case_records(generated, seed)):
        yield f"generated {record['case']}", parse_case(json.dumps(record), f"gen:{i}", fmt="json")


_largest = [0]  # the most optimal models one solve returned while deciding the current case
_solve = solver._Grounded.solve


def _counting_solve(self, *args, **kwargs):
    found = _solve(self, *args, **kwargs)
    _largest[0] = max(_largest[0], len(found))
    return found


solver._Grounded.solve = _counting_solve


def _without(value, keys: frozenset[str]):
    """``value`` with every object member named in ``keys`` left out, at any depth."""
    if isinstance(value, dict):
        return {k: _without(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [_without(v, keys) for v in value]
    return value


def answer(engine: Engine, case, ignore: frozenset[str] = frozenset()) -> tuple[str, bool]:
    """The decision's JSON (less the members named in ``ignore``) and statuses, and whether a what-if
    search stopped at MAX_ALTERNATIVES (then which of the equally small sets are listed follows the
    solver's search order)."""
    _largest[0] = 0
    d = engine.decide(case)
    text = dumps(_without(to_json(d), ignore)) + "".join(f"status {c} {s} {st}\n" for c, s, st in d.statuses)
    return text, _largest[0] >= solver.MAX_ALTERNATIVES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--generated", type=int, default=300)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--show", type=int, default=3, help="how many differing cases to print in full")
    parser.add_argument("--skip", action="append", default=[], choices=["golden", "example"],
                        help="leave the goldens or the examples out (for a quick run)")
    parser.add_argument("--ignore", action="append", default=[], metavar="MEMBER",
                        help="leave this JSON member out of the comparison wherever it occurs, e.g. lacking: what a "
                             "formula names as lacking, which a criterion of raw rules cannot (docs/json.md)")
    args = parser.parse_args(argv)
    ignore = frozenset(args.ignore)
    old, new = Engine(load(args.old)), Engine(load(args.new))
    counts = {"golden": 0, "example": 0, "generated": 0}
    differing = []
    for label, case in cases(args.generated, args.seed, frozenset({"golden", "example"}) - set(args.skip)):
        counts[label.split()[0]] += 1
        (a, cut_a), (b, cut_b) = answer(old, case, ignore), answer(new, case, ignore)
        if a != b:
            differing.append(label + (f" (a what-if search stopped at {solver.MAX_ALTERNATIVES} equally small sets)"
                                      if cut_a or cut_b else ""))
            if len(differing) <= args.show:
                sys.stdout.write(f"--- {label}\n" + "".join(difflib.unified_diff(
                    a.splitlines(True), b.splitlines(True), "old", "new", n=2)))
    total = sum(counts.values())
    print(f"{args.old} vs {args.new}: {total} cases compared ({counts['golden']} goldens, "
          f"{counts['example']} examples, {counts['generated']} generated, seed {args.seed}"
          + (f"; {', '.join(sorted(ignore))} left out" if ignore else "") + "); "
          f"{len(differing)} differ")
    for label in differing:
        print(f"  differs: {label}")
    return 1 if differing else 0


if __name__ == "__main__":
    raise SystemExit(main())
