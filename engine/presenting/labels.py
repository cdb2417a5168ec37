"""The words every rendering uses for the engine's names.

One table per kind of name, so that the terminal, the letter, the HTML page
and the FHIR response call a thing the same.  A name with no row is shown as
itself with underscores as spaces, never dropped.
"""

from __future__ import annotations

import re

ITEMS = {
    "bone_marrow_aspirate": "bone marrow aspirate",
    "rhbmp2": "rhBMP-2",
    "allograft": "allograft",
    "autograft": "autograft",
    "cellular_bone_matrix": "cellular bone matrix",
    "interbody_device": "interbody device",
    "cement_augmentation": "cement-augmented screws",
    "si_joint_fusion": "SI joint fusion",
    "interspinous_device": "interspinous device",
    "inpatient_setting": "inpatient stay",
}

DETERMINATIONS = {
    "fusion": "fusion",
    "decompression_only": "decompression only",
    "none": "none",
    "not_addressed": "not addressed (manual review)",
    "medically_necessary": "medically necessary",
    "not_medically_necessary": "not medically necessary",
}

OUTCOMES = {
    "approved": "approved",
    "partially_approved": "partially approved",
    "denied": "denied",
}

STATUSES = {
    "met": "met",
    "not_met": "not met",
    "not_documented": "not documented",
}

#: What a level's request is, in words.
PROCEDURES = {
    ("decompression",): "decompression",
    ("fusion",): "fusion",
    ("decompression", "fusion"): "decompression and fusion",
}


def words(name: str) -> str:
    return name.replace("_", " ")


def item(name: str, level: str | None = None) -> str:
    label = ITEMS.get(name, words(name))
    return f"{label} at {level}" if level else label


def determination(name: str) -> str:
    return DETERMINATIONS.get(name, words(name))


def outcome(name: str) -> str:
    return OUTCOMES.get(name, words(name))


def in_part(undecided: int) -> str:
    """What follows the outcome when some requested services were not decided (it holds only for the rest)."""
    if not undecided:
        return ""
    return f" for the items decided; {undecided} Claim item{'s' if undecided > 1 else ''} not decided (manual review)"


def status(name: str) -> str:
    return STATUSES.get(name, words(name))


def procedure(requested: tuple[str, ...]) -> str:
    return PROCEDURES.get(tuple(requested), " and ".join(requested))


def scope(name: str) -> str:
    """Where a criterion is judged, in words: ``the whole case``, ``L4-L5``, ``interbody device at L5-S1``."""
    if name == "case":
        return "the whole case"
    if name in _level_order():
        return name
    what, _, where = name.partition("@")
    return item(what, where or None)


def _level_order() -> dict[str, int]:
    from facts.terms import SPINAL_LEVELS

    return {lv: i for i, lv in enumerate(SPINAL_LEVELS)}


def level_key(name: str) -> tuple[int, str]:
    """Sorts levels cranial to caudal (L3-L4 before L4-L5 before L5-S1), anything else after."""
    order = _level_order()
    return (order.get(name, len(order)), name)


def anatomical(names) -> list[str]:
    return sorted(dict.fromkeys(names), key=level_key)


_DAYS = re.compile(r"\b(\d+) days\b")


def _in_weeks(match: re.Match) -> str:
    days = int(match.group(1))
    weeks, rest = divmod(days, 7)
    if not weeks:
        return match.group(0)
    return f"{weeks} week{'s' if weeks != 1 else ''}" + (f" {rest} day{'s' if rest != 1 else ''}" if rest else "")


def finding(text: str, fact: str = "", titles: dict[str, str] | None = None) -> str:
    """A piece of evidence as a reviewer reads it.

    Durations are in weeks, as the policies word them ("6 weeks 1 day", never
    "43 days" beside "at least 6 weeks"), and a documented absence reads as
    one: "documented as absent: ...", not "not in the record: ...", which
    would read as not documented.
    """
    text = _DAYS.sub(_in_weeks, text)
    text = _UNDATED.sub(lambda m: f"({m.group(1)}, study date not documented)", text)
    if titles and fact.startswith('part("'):
        cid = fact[len('part("'):].split('"', 1)[0]
        if cid in titles and text.startswith(cid):
            text = f"{cid} ({titles[cid]}){text[len(cid):]}"
    if fact.startswith("absent(") and text.startswith(ABSENT_LEAD):
        text = "documented as absent: " + text[len(ABSENT_LEAD):]
    return text


#: The leads of what a not documented criterion's explanation says it lacks (``missing``).
LACKS = "the record does not document"
SETTLES = "what would settle it:"
NEEDS = "needs:"


def missing(c) -> list[tuple[str, str]]:
    """What the explanation of a not documented criterion says it lacks, as (lead, words).

    Only what this record is silent on is said not documented: the leaves of the criterion's
    formula the record leaves open (``c.lacking``), never the policy's fixed ``documentation/2``
    text, which a record may partly contradict (issue 20, point 5).  That text is shown as what
    would settle a criterion the record leaves open, and, for a criterion of raw rules (which the
    engine cannot split), as what the criterion needs: a claim about the criterion, not the record.
    """
    if c.status != "not_documented" or c.waived_by:
        return []
    out = [(LACKS, "; ".join(e.text for e in c.lacking))] if c.lacking else []
    if c.documentation and c.unsettled:
        out.append((SETTLES, c.documentation))
    elif c.documentation and not c.lacking:
        out.append((NEEDS, c.documentation))
    return out


def _study_names() -> list[str]:
    from engine.deciding.evidence import _STUDY_NAMES

    return sorted(_STUDY_NAMES.values(), key=len, reverse=True)


#: A finding's study named without its date, "(MRI)": the date is said to be missing, not left out.
_UNDATED = re.compile(r"\((" + "|".join(re.escape(n) for n in _study_names()) + r")\)")

#: How the engine's evidence sentences start an absence it could not put in better words.
from engine.deciding.evidence import ABSENT_LEAD  # noqa: E402 - the engine writes it, this reads it
