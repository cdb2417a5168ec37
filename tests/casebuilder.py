"""Small case records for tests, built from a baseline by overriding parts.

``baseline()`` is a case that meets every case-level criterion of the
reference policy (REF-D2, D3, D4a-d) with one requested level, L4-L5
(decompression and fusion), moderate central stenosis on MRI and nothing that
justifies fusion.  Tests change one thing and look at one criterion.
"""

from __future__ import annotations

import copy
from typing import Any

from engine.policy import load
from engine.solver import Engine
from facts import parse_case
from facts.model import Case

REQUEST_DATE = "2025-12-01"


def baseline() -> dict[str, Any]:
    return {
        "case": "baseline",
        "request": {
            "date": REQUEST_DATE,
            "levels": [{"level": "L4-L5", "decompression": "laminectomy", "fusion": {"approaches": ["tlif"]}}],
        },
        "imaging": [
            {"study": "mri", "date": "2025-10-01",
             "levels": [{"level": "L4-L5", "stenosis": [{"zone": "central", "grade": "moderate"}]}]},
        ],
        "clinical": {"radiculopathy": {"present": True}, "adl_limitation": True},
        "conservative_care": {
            "episodes": [
                {"modality": "physical_therapy", "delivery": "supervised_in_person", "start": "2025-06-01",
                 "end": "2025-08-01", "sessions": 12, "outcome": "failed"},
                {"modality": "nsaids", "start": "2025-05-01", "end": "2025-09-01", "outcome": "failed"},
            ]
        },
        "history": {"prior_surgeries": []},
    }


def merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``changes`` into a copy of ``base``; a value of None deletes the key."""
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def case_from(data: dict[str, Any]) -> Case:
    import json

    return parse_case(json.dumps(data), "test.json", fmt="json")


_ENGINES: dict[str, Engine] = {}


def engine(policy: str = "reference") -> Engine:
    if policy not in _ENGINES:
        _ENGINES[policy] = Engine(load(policy))
    return _ENGINES[policy]


def decide(data: dict[str, Any], policy: str = "reference", **kwargs: Any):
    return engine(policy).decide(case_from(data), **kwargs)


def status(decision, criterion: str, subject: str | None = None) -> str:
    """The status of ``criterion`` as reported for a level (or item key like 'rhbmp2')."""
    subjects = list(decision.levels) + list(decision.items)
    for s in subjects:
        name = getattr(s, "level", None) if hasattr(s, "requested") else (s.item if s.level is None else f"{s.item}@{s.level}")
        if subject is not None and name != subject:
            continue
        for c in s.criteria:
            if c.id == criterion:
                return c.status
    raise KeyError(f"{criterion} is not reported for {subject or 'any subject'}")
