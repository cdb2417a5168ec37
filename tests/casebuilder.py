"""Small case records for tests, built from a baseline by overriding parts.

``baseline()`` is a case that meets every case-level criterion of the
reference policy (REF-D2, D3, D4a-d) with one requested level, L4-L5
(decompression and fusion), moderate central stenosis on MRI and nothing that
justifies fusion.  Tests change one thing and look at one criterion.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from engine.deciding.policy import load
from engine.deciding.solver import Engine
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


@dataclass(frozen=True)
class Expectation:
    """One case and what a criterion and its subject must come to."""

    name: str  # what the case shows, e.g. "translation 3.0 mm"
    data: dict[str, Any]
    criterion: str
    subject: str  # a level ("L4-L5") or an item key ("rhbmp2", "interbody_device@L4-L5")
    status: str
    determination: str


def determination_of(decision, subject: str) -> str:
    if "@" in subject:
        item, level = subject.split("@")
        return decision.item(item, level).determination
    if any(lv.level == subject for lv in decision.levels):
        return decision.level(subject).determination
    return decision.item(subject).determination


def reported(decision, subject: str) -> str:
    for s in list(decision.levels) + list(decision.items):
        key = s.level if hasattr(s, "requested") else (s.item if s.level is None else f"{s.item}@{s.level}")
        if key == subject:
            return ", ".join(f"{c.id}={c.status}" for c in s.criteria) or "(none)"
    return "(subject not in the decision)"


def check(row: Expectation) -> None:
    """Decide the case; the criterion's status and the subject's determination must be as expected."""
    decision = decide(row.data)
    actual_det = determination_of(decision, row.subject)
    try:
        actual = status(decision, row.criterion, row.subject)
    except KeyError:
        actual = "not reported"
    assert (actual, actual_det) == (row.status, row.determination), (
        f"case {row.name!r}, {row.criterion} at {row.subject}\n"
        f"  expected: {row.criterion} {row.status}; {row.subject} -> {row.determination}\n"
        f"  actual:   {row.criterion} {actual}; {row.subject} -> {actual_det}\n"
        f"  criteria reported at {row.subject}: {reported(decision, row.subject)}"
    )


#: Fusion requested at L4-L5; every fusion criterion refuted by a documented finding, supervised physical
#: therapy (REF-D4a) not documented: documentation would give decompression only, and nothing would give fusion.
ONLY_DECOMPRESSION_WITHIN_REACH = {
    "request": {"levels": [{"level": "L4-L5", "fusion": True, "decompression": {
        "technique": "laminectomy", "facet_resection_pct": {"left": 10, "right": 10}, "pars_resection": False}}]},
    "imaging": [
        {"study": "mri", "date": "2025-10-01", "levels": [{"level": "L4-L5", "spondylolisthesis": {"present": False},
                                                          "stenosis": [{"zone": "central", "grade": "severe"}]}]},
        {"study": "flexion_extension_xray", "date": "2025-10-01",
         "levels": [{"level": "L4-L5", "translation_mm": 1, "angulation_deg": 2}]},
        {"study": "standing_full_length", "date": "2025-10-01", "alignment": {"cobb": [], "sva_mm": 10}},
    ],
    "conservative_care": {"episodes": [{"modality": "nsaids", "outcome": "failed"}], "total_weeks": 12},
}
