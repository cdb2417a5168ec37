"""The words every rendering uses for the engine's names.

One table per kind of name, so that the terminal, the letter, the HTML page
and the FHIR response call a thing the same.  A name with no row is shown as
itself with underscores as spaces, never dropped.
"""

from __future__ import annotations

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
