"""How reading a PAS request Bundle grows with its size: it must be linear (issue 21).

Builds requests of N Claim items (half unmapped codes, half decompressions at
levels named by body-site text) and N/2 unknown QuestionnaireResponse items,
for N up to the item limit (exchange/strict.py MAX_ITEMS), reads each with
``exchange.request.read_text`` and adds its notices to a decision
(``noticed``), interleaving the sizes so that noise on this shared machine
falls on all of them alike.  Prints the median per size, the time per item,
and the ratio of the largest size's time per item to the smallest's (about 1
when linear; a quadratic path doubles it with every doubling of N).

Usage: python bench/fhir_read.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.deciding.decision import Decision, PolicyRef  # noqa: E402
from exchange.request import noticed, read_text  # noqa: E402
from exchange.strict import MAX_ITEMS  # noqa: E402

LEVELS = ["L1-L2", "L2-L3", "L3-L4", "L4-L5", "L5-S1"]


def request(n: int) -> str:
    items = []
    for i in range(n):
        code, site = ("22899", None) if i % 2 else ("63047", {"text": LEVELS[i % len(LEVELS)].replace("-L", "/")})
        item = {"sequence": i + 1, "productOrService": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": code}]}}
        if site:
            item["bodySite"] = site
        items.append(item)
    claim = {"resourceType": "Claim", "id": "c", "status": "active", "use": "preauthorization",
             "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]},
             "patient": {"reference": "Patient/p"}, "created": "2025-11-03", "insurer": {"reference": "Organization/o"},
             "provider": {"reference": "Organization/o"},
             "priority": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority", "code": "normal"}]},
             "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": "Coverage/v"}}], "item": items}
    answers = {"resourceType": "QuestionnaireResponse", "id": "q", "status": "completed",
               "subject": {"reference": "Patient/p"},
               "item": [{"linkId": f"unknown.{i}", "answer": [{"valueBoolean": True}]} for i in range(n // 2)]}
    return json.dumps({"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "http://x/Claim/c", "resource": claim},
        {"fullUrl": "http://x/Patient/p", "resource": {"resourceType": "Patient", "id": "p"}},
        {"fullUrl": "http://x/Organization/o", "resource": {"resourceType": "Organization", "id": "o"}},
        {"fullUrl": "http://x/QuestionnaireResponse/q", "resource": answers}]})


def once(text: str) -> float:
    start = time.perf_counter()
    req = read_text(text, "bench")
    base = Decision("c", PolicyRef("p", "1", "2025-01-01"), "approved", (), (), notices=req.notices)
    noticed(base, req)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sizes = [MAX_ITEMS // 8, MAX_ITEMS // 4, MAX_ITEMS // 2, MAX_ITEMS]
    texts = {n: request(n) for n in sizes}
    times: dict[int, list[float]] = {n: [] for n in sizes}
    for _ in range(args.repeat):
        for n in sizes:
            times[n].append(once(texts[n]))
    per_item = {}
    print(f"{'items':>6} {'median ms':>10} {'us/item':>8}")
    for n in sizes:
        median = statistics.median(times[n])
        per_item[n] = median / n
        print(f"{n:>6} {median * 1000:>10.1f} {per_item[n] * 1e6:>8.0f}")
    print(f"ratio of time per item, {sizes[-1]} items against {sizes[0]}: {per_item[sizes[-1]] / per_item[sizes[0]]:.2f} "
          "(about 1: linear)")


if __name__ == "__main__":
    main()
