"""Closed vocabularies of the case model.

Every value here is emitted to ASP unchanged (as a constant), so the names are
the ones a policy analyst reads in rules: ``moderate_to_severe``,
``supervised_in_person``.  Spinal levels are the exception: they are emitted as
strings spelled the way reports spell them (``"L4-L5"``).
"""

from __future__ import annotations

from enum import Enum


class Term(str, Enum):
    """A closed set of ASP constants; ``str`` so YAML and JSON compare directly."""

    def __str__(self) -> str:  # pragma: no cover - cosmetic
        return self.value


#: Motion segments in cranial-to-caudal order, then the sacropelvic segment.
SPINAL_LEVELS: tuple[str, ...] = (
    "T10-T11",
    "T11-T12",
    "T12-L1",
    "L1-L2",
    "L2-L3",
    "L3-L4",
    "L4-L5",
    "L5-S1",
    "S1-pelvis",
)

#: Vertebrae a report may name as the end of a curve, cranial to caudal.  The
#: motion segment between two neighbours is spelled as in SPINAL_LEVELS.
VERTEBRAE: tuple[str, ...] = (
    *(f"T{n}" for n in range(1, 13)), *(f"L{n}" for n in range(1, 6)), "S1",
)

#: Levels that are thoracic or cross the thoracolumbar junction.
THORACOLUMBAR_LEVELS: frozenset[str] = frozenset({"T10-T11", "T11-T12", "T12-L1"})

#: The sacropelvic segment (pelvic, S2-alar-iliac or iliac fixation).
SACROPELVIC_LEVEL = "S1-pelvis"


class Decompression(Term):
    laminectomy = "laminectomy"
    laminotomy = "laminotomy"
    foraminotomy = "foraminotomy"


class Approach(Term):
    alif = "alif"
    llif = "llif"  # includes XLIF / DLIF, the lateral transpsoas approaches
    tlif = "tlif"
    plif = "plif"
    posterolateral = "posterolateral"


#: Names reports give approaches, beside the vocabulary's own (lower case).
APPROACH_ALIASES: dict[str, str] = {
    "xlif": "llif",  # extreme lateral interbody fusion: a lateral transpsoas approach
    "dlif": "llif",  # direct lateral interbody fusion: likewise
    "plf": "posterolateral",
    "posterolateral_fusion": "posterolateral",
}

#: Which column each approach reaches the spine from.  Anatomy, not policy:
#: emitted as ``approach_direction/2`` so that rules can say "combined anterior
#: and posterior" without listing approaches.
APPROACH_DIRECTION: dict[Approach, str] = {
    Approach.alif: "anterior",
    Approach.llif: "lateral",
    Approach.tlif: "posterior",
    Approach.plif: "posterior",
    Approach.posterolateral: "posterior",
}


class Item(Term):
    bone_marrow_aspirate = "bone_marrow_aspirate"
    rhbmp2 = "rhbmp2"
    allograft = "allograft"
    autograft = "autograft"
    cellular_bone_matrix = "cellular_bone_matrix"
    interbody_device = "interbody_device"
    cement_augmentation = "cement_augmentation"
    si_joint_fusion = "si_joint_fusion"
    interspinous_device = "interspinous_device"


class Setting(Term):
    inpatient = "inpatient"
    outpatient = "outpatient"


class Side(Term):
    left = "left"
    right = "right"
    bilateral = "bilateral"


class StudyType(Term):
    mri = "mri"
    ct = "ct"
    ct_myelogram = "ct_myelogram"
    xray = "xray"
    flexion_extension_xray = "flexion_extension_xray"
    supine_standing_xray = "supine_standing_xray"
    standing_full_length = "standing_full_length"


class StenosisZone(Term):
    central = "central"
    lateral_recess = "lateral_recess"
    foraminal = "foraminal"


class StenosisGrade(Term):
    none = "none"
    mild = "mild"
    mild_to_moderate = "mild_to_moderate"
    moderate = "moderate"
    moderate_to_severe = "moderate_to_severe"
    severe = "severe"
    #: stenosis reported present with no grade: emitted as such, so that a
    #: policy can treat it as "grade not documented" rather than as mild.
    ungraded = "ungraded"


class ListhesisType(Term):
    degenerative = "degenerative"
    isthmic = "isthmic"
    iatrogenic = "iatrogenic"


class ListhesisDirection(Term):
    anterolisthesis = "anterolisthesis"
    retrolisthesis = "retrolisthesis"


class Basis(Term):
    clinical = "clinical"
    emg = "emg"


class Acuity(Term):
    acute = "acute"
    chronic = "chronic"


class Course(Term):
    progressive = "progressive"
    stable = "stable"
    improving = "improving"


class MrcModifier(Term):
    minus = "minus"
    plain = "plain"
    plus = "plus"


class PainScale(Term):
    vas = "vas"
    nrs = "nrs"


class Modality(Term):
    physical_therapy = "physical_therapy"
    chiropractic = "chiropractic"
    nsaids = "nsaids"
    muscle_relaxants = "muscle_relaxants"
    opioids = "opioids"
    neuropathic_agents = "neuropathic_agents"
    oral_steroids = "oral_steroids"
    epidural_steroid_injection = "epidural_steroid_injection"
    facet_injection = "facet_injection"
    si_joint_injection = "si_joint_injection"
    activity_modification = "activity_modification"
    pain_management = "pain_management"


class TherapyDelivery(Term):
    """How physical therapy was given.  Left out when the record does not say."""

    supervised_in_person = "supervised_in_person"
    home_program = "home_program"
    virtual = "virtual"


class CareSource(Term):
    """What documents a care episode (payers may ask for PT notes or claims)."""

    pt_notes = "pt_notes"
    claims = "claims"
    clinician_note = "clinician_note"
    patient_report = "patient_report"


class GraftSource(Term):
    iliac_crest = "iliac_crest"
    local_bone = "local_bone"


class CareOutcome(Term):
    failed = "failed"
    partial_relief = "partial_relief"
    not_tolerated = "not_tolerated"
    ongoing = "ongoing"
    resolved = "resolved"


class SurgeryType(Term):
    laminectomy = "laminectomy"
    laminotomy = "laminotomy"
    foraminotomy = "foraminotomy"
    discectomy = "discectomy"
    fusion = "fusion"
    other = "other"


class Region(Term):
    cervical = "cervical"
    thoracic = "thoracic"
    lumbar = "lumbar"


class SmokingStatus(Term):
    current = "current"
    former = "former"
    never = "never"


class ArthropathyStatus(Term):
    """How firmly an inflammatory arthropathy is established in the record."""

    suspected = "suspected"  # stated, e.g. "baseline ankylosing spondylitis", not confirmed
    confirmed = "confirmed"
    excluded = "excluded"
