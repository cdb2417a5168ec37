"""What a record can say at all: the measurements each kind of study can carry, the region of each level.

Two tables, read by two readers:

* the case model refuses a record that says what cannot be (facts.imaging,
  facts.clinical): a sagittal vertical axis "measured" on an MRI, a
  stenosis graded on flexion-extension films, a thoracic operation at L4-L5;
* ``plausibility()`` gives the same tables as facts to the case space that
  ``check`` and ``diff`` search (engine/analysing/space.lp), so that every
  witness is a case a clinician could see.

Only the impossible is here.  What is merely unusual (a Cobb angle read off
plain films that were not full length) is accepted: the case model has no
channel for warnings, so it refuses nothing it cannot call impossible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clingo import Function, String, Symbol

from facts.terms import Region, StudyType

#: Studies that image the spine in cross-section: the canal, the discs, the marrow.
CROSS_SECTIONAL = (StudyType.mri, StudyType.ct, StudyType.ct_myelogram)
#: Films in two positions, compared with each other: motion between them.
TWO_POSITIONS = (StudyType.flexion_extension_xray, StudyType.supine_standing_xray)
#: Plain films of the standing spine, on which global alignment is measured.
STANDING = (StudyType.xray, StudyType.standing_full_length)


@dataclass(frozen=True)
class Measure:
    """A field of an imaging study that only some kinds of study can carry."""

    section: str  # "levels" (a field of each level's findings) or "alignment"
    field: str  # the case-model field, also the name space.lp knows it by
    words: str  # what it is, as a message names it
    studies: tuple[StudyType, ...]  # the kinds of study that can carry it

    @property
    def where(self) -> str:
        return f"{self.section}[].{self.field}" if self.section == "levels" else f"{self.section}.{self.field}"


#: The measurements a study can carry only if it is of one of the kinds named.  A field not listed here
#: (spondylolisthesis, disc height, facet arthropathy, pseudarthrosis, descriptions) any study may carry.
MEASURES: tuple[Measure, ...] = (
    Measure("levels", "stenosis", "stenosis (or its absence)", CROSS_SECTIONAL),
    Measure("levels", "disc_herniation", "a disc herniation (or its absence)", CROSS_SECTIONAL),
    Measure("levels", "disc_bulge", "a disc bulge (or its absence)", CROSS_SECTIONAL),
    Measure("levels", "modic_change", "a Modic change (an MRI signal change of the endplates)", (StudyType.mri,)),
    Measure("levels", "translation_mm", "translation between two positions", TWO_POSITIONS),
    Measure("levels", "angulation_deg", "angulation between flexion and extension", (StudyType.flexion_extension_xray,)),
    Measure("levels", "dynamic_instability", "instability between two positions", TWO_POSITIONS),
    Measure("alignment", "cobb", "a Cobb angle", STANDING),
    Measure("alignment", "sva_mm", "a sagittal vertical axis", STANDING),
    # pelvic incidence does not change with position, and lordosis is measured supine too (lower): unusual off
    # standing films, not impossible
    Measure("alignment", "pi_ll_mismatch_deg", "a pelvic incidence-lumbar lordosis mismatch", STANDING + CROSS_SECTIONAL),
    Measure("alignment", "coronal_imbalance_mm", "a coronal imbalance", STANDING),
)

#: The regions of the spine each level lies in: T12-L1 is the thoracolumbar junction, the sacropelvic
#: segment is counted with the lumbar spine (an operation there is a lumbosacral one); no level of the
#: vocabulary is cervical.
LEVEL_REGIONS: dict[str, tuple[Region, ...]] = {
    "T10-T11": (Region.thoracic,),
    "T11-T12": (Region.thoracic,),
    "T12-L1": (Region.thoracic, Region.lumbar),
    **{lv: (Region.lumbar,) for lv in ("L1-L2", "L2-L3", "L3-L4", "L4-L5", "L5-S1", "S1-pelvis")},
}


def _names(studies: tuple[StudyType, ...]) -> str:
    names = [s.value for s in studies]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def can_show(study: StudyType | str, field: str) -> bool:
    """Whether a study of this kind can carry the field (of a level's findings, or of the alignment)."""
    return all(StudyType(study) in m.studies for m in MEASURES if m.field == field)


def implausible_measure(study: Any) -> tuple[tuple[str | int, ...], str] | None:
    """The first field an imaging study (``facts.imaging.ImagingStudy``) carries that no study of its kind
    can, as its place in the study and why; None when there is none."""
    for m in MEASURES:
        if study.study in m.studies:
            continue
        why = (f"{m.words} cannot be read on {study.study.value}: it is read on {_names(m.studies)}; "
               "give it under the study it was read on, or correct the study type")
        if m.section == "levels":
            for i, found in enumerate(study.levels):
                if getattr(found, m.field) is not None:
                    return ("levels", i, m.field), why
        elif study.alignment is not None and getattr(study.alignment, m.field) is not None:
            return ("alignment", m.field), why
    return None


def implausible_level(level: str, region: Region) -> str | None:
    """Why an operation in ``region`` cannot be at ``level``, or None when it can."""
    regions = LEVEL_REGIONS[level]
    if region in regions:
        return None
    lies = " and ".join(r.value for r in regions)
    return (f"{level} lies in the {lies} spine, not the {region.value}: correct the region or the level "
            "(leave the level out when the report does not give it)")


def plausibility() -> list[Symbol]:
    """The tables as facts for the case space: ``measured_on(Field, Study)`` for every restricted field and
    each kind of study that can carry it, ``level_region(Level, Region)`` for every level."""
    out = [Function("measured_on", [Function(m.field), Function(s.value)]) for m in MEASURES for s in m.studies]
    out += [Function("level_region", [String(lv), Function(r.value)]) for lv, rs in LEVEL_REGIONS.items() for r in rs]
    return out
