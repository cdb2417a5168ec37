"""Words for what a record lacks: each leaf of a formula the record is silent on (core.lp's ``lacking/3``).

A "not documented" sentence is built from these, so it names only what this
record does not document ("the record does not document an HbA1c level"), never
the policy's fixed ``documentation/2`` text, which a record may partly
contradict (issue 20, point 5).  The words describe; they decide nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from clingo import Symbol, SymbolType

from engine.deciding.evidence import _words

#: A measurement a figure reads (core.lp's ``measured/4``), as a thing the record can document.
MEASUREMENTS = {
    "mrc_grade": "an MRC grade of the motor weakness",
    "dexa_t_score": "a DEXA T-score",
    "si_block_relief": "the diagnostic SI joint blocks and their relief",
    "body_mass_index": "a body mass index",
    "oswestry_disability_index": "an Oswestry Disability Index score",
    "nicotine_free_days": "the time since the last nicotine use",
    "cotinine": "a cotinine level",
    "hba1c": "an HbA1c level",
    "si_positive_tests": "the SI joint provocative tests and how many were positive",
    "pain_vas": "a VAS pain score",
    "pain_nrs": "an NRS pain score",
    "pain_score": "a pain score",
    "limited_activities": "the activities of daily living that are limited",
    "care_span": "the dates or the total length of conservative care",
    "facet_resection": "the planned facet resection per side",
    "corpectomy": "the planned corpectomy",
}
#: A category ``is/2`` reads (core.lp's ``category/3``).
CATEGORIES = {
    "smoking_status": "smoking status",
    "motor_weakness_course": "the course of the motor weakness",
    "mrc_modifier": "whether the MRC grade carries a minus (4-/5 against 4/5)",
    "si_joint_arthropathy": "whether an inflammatory arthropathy of the SI joint is confirmed or excluded",
    "inflammatory_arthropathy": "whether an inflammatory arthropathy is confirmed or excluded",
}
#: A finding whose name does not read after "whether there is".
_WHETHER = {
    "tumor": "whether there is a tumor",
    "infection": "whether there is an infection",
    "fracture": "whether there is a fracture",
    "si_joint_diagnosis_confirmed": "whether the SI joint diagnosis is confirmed",
    "behavioural_health_screening": "whether a behavioural health screening was done",
    "poor_graft_bed": "whether the graft bed is poor",
    "autograft_unavailable": "whether autograft is unavailable",
}
_FIGURES = frozenset({"at_least", "at_most", "over", "under"})


def _name(sym: Symbol) -> str:
    return sym.string if sym.type == SymbolType.String else str(sym)


def _question(q: Symbol) -> str:
    """A policy's imaging question (``stenosis_grade``, ``spondylolisthesis_at``) in words."""
    words = _words(q) if q.type == SymbolType.Function and not q.arguments else str(q).replace("_", " ")
    return words[:-3] if words.endswith(" at") else words


def words(leaf: Symbol, scope: str) -> str:
    """What the record does not document, for one leaf of a formula at ``scope`` (a level, ``case``,
    an item): "an HbA1c level", "whether there is radiculopathy", "an imaging finding on stenosis
    grade at the level".  The words do not name the level: the criterion is shown under it, and a
    criterion lacking the same at two levels is said once."""
    name, a = leaf.name, leaf.arguments
    if name == "finding" and len(a) == 1:
        return _WHETHER.get(str(a[0]), f"whether there is {_words(a[0])}")
    if name in _FIGURES and len(a) == 2:
        if a[0].type == SymbolType.Function and a[0].name == "care_days" and a[0].arguments:
            return _care(a[0].arguments[0])
        return MEASUREMENTS.get(str(a[0]), _words(a[0]))
    if name == "is" and len(a) == 2:
        return CATEGORIES.get(str(a[0]), _words(a[0]))
    if name == "imaging" and a:
        at = " at the level" if len(a) == 1 and scope != "case" and "@" not in scope else ""
        return f"an imaging finding on {_question(a[0])}{at}"
    if name == "concordant" and not a:
        return "whether the level is concordant with the symptoms"
    if name in ("criterion", "satisfied") and len(a) == 1:
        return f"what {_name(a[0])} needs"
    return _words(leaf)


def _care(selection: Symbol) -> str:
    """``care(M, ...)``'s episodes, for a record that lists no care at all: "episodes of physical therapy
    and their length" (the delivery, outcome and sessions a selection keeps are the criterion's to say)."""
    modality = selection.arguments[0] if selection.type == SymbolType.Function and selection.arguments else None
    if modality is None or str(modality) == "any":
        return "episodes of conservative care and their length"
    return f"episodes of {_words(modality)} and their length"


def in_formula_order(leaves: Iterable[Symbol], formula: Symbol | None) -> list[Symbol]:
    """The leaves in the order the formula names them (its policy's order), each once."""
    order: dict[Symbol, int] = {}
    if formula is not None:
        for i, node in enumerate(_walk(formula)):
            order.setdefault(node, i)
    return sorted(set(leaves), key=lambda s: (order.get(s, len(order)), str(s)))


def _walk(node: Symbol) -> Iterator[Symbol]:
    yield node
    if node.type == SymbolType.Function:
        for arg in node.arguments:
            yield from _walk(arg)
