"""The case record's imaging: each study and its findings per level, curves and alignment.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    AfterValidator,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from pydantic_core import PydanticCustomError

from facts.plausible import implausible_measure
from facts.request import _no_repeats
from facts.terms import (
    SPINAL_LEVELS,
    VERTEBRAE,
    ListhesisDirection,
    ListhesisType,
    Side,
    StenosisGrade,
    StenosisZone,
    StudyType,
)
from facts.values import (
    Date,
    Degrees,
    Level,
    Millimetres,
    Note,
    Record,
    SignedDegrees,
    SignedMillimetres,
    emits,
)

# --------------------------------------------------------------------------
# Imaging
# --------------------------------------------------------------------------


class Stenosis(Record):
    zone: StenosisZone | None = Field(
        None, description="central, lateral_recess or foraminal; leave it out when the report gives none",
        json_schema_extra=emits("stenosis"),
    )
    side: Side | None = Field(None, json_schema_extra=emits("stenosis"))
    grade: StenosisGrade = Field(StenosisGrade.ungraded, json_schema_extra=emits("stenosis"))
    note: Note = None


class Spondylolisthesis(Record):
    present: StrictBool = Field(json_schema_extra=emits("level_finding"))
    meyerding_grade: Annotated[StrictInt, Field(ge=1, le=5)] | None = Field(
        None, json_schema_extra=emits("spondylolisthesis_grade")
    )
    slip_mm: Millimetres | None = Field(None, json_schema_extra=emits("spondylolisthesis_slip"))
    type: ListhesisType | None = Field(None, json_schema_extra=emits("spondylolisthesis_type"))
    direction: ListhesisDirection | None = Field(None, json_schema_extra=emits("spondylolisthesis_direction"))
    note: Note = None


class ModicChange(Record):
    present: StrictBool = Field(json_schema_extra=emits("level_finding"))
    type: Annotated[StrictInt, Field(ge=1, le=3)] | None = Field(None, json_schema_extra=emits("modic_type"))


class LevelFindings(Record):
    """What one study shows at one level."""

    level: Level = Field(json_schema_extra=emits("stenosis", "level_finding", "dynamic_translation", "dynamic_angulation"))
    stenosis: tuple[Stenosis, ...] | None = Field(None, json_schema_extra=emits("stenosis", "documented"))
    spondylolisthesis: Spondylolisthesis | None = None
    translation_mm: Millimetres | None = Field(None, json_schema_extra=emits("dynamic_translation"))
    angulation_deg: Degrees | None = Field(None, json_schema_extra=emits("dynamic_angulation"))
    disc_herniation: StrictBool | None = Field(None, json_schema_extra=emits("level_finding"))
    disc_bulge: StrictBool | None = Field(None, json_schema_extra=emits("level_finding"))
    disc_height_loss: StrictBool | None = Field(None, json_schema_extra=emits("level_finding"))
    modic_change: ModicChange | None = None
    facet_arthropathy: StrictBool | None = Field(None, json_schema_extra=emits("level_finding"))
    pseudarthrosis: StrictBool | None = Field(None, json_schema_extra=emits("level_finding"))
    dynamic_instability: StrictBool | None = Field(
        None, description="instability on films in two positions (flexion-extension, supine-standing) as the "
        "report states it; false for 'no instability on flexion-extension films'",
        json_schema_extra=emits("level_finding"),
    )
    note: Note = None


def _known_vertebra(value: str) -> str:
    canon = value.strip().upper()
    if canon in VERTEBRAE:
        return canon
    raise ValueError(f"unknown vertebra '{value}': use one of {VERTEBRAE[0]} to {VERTEBRAE[-1]}, e.g. T12 or L4")


Vertebra = Annotated[StrictStr, AfterValidator(lambda v: _known_vertebra(v))]


class CobbCurve(Record):
    """A measured curve and its extent: the end vertebrae as a report gives them
    (T12 to L4), or the first and last motion segments inside the curve."""

    angle_deg: Degrees = Field(json_schema_extra=emits("cobb_curve"))
    upper_vertebra: Vertebra | None = Field(
        None, description="the curve's upper end vertebra, e.g. T12", json_schema_extra=emits("cobb_curve_level"),
    )
    lower_vertebra: Vertebra | None = Field(
        None, description="the curve's lower end vertebra, e.g. L4", json_schema_extra=emits("cobb_curve_level"),
    )
    upper_level: Level | None = Field(
        None, description="the first motion segment inside the curve", json_schema_extra=emits("cobb_curve_level"),
    )
    lower_level: Level | None = Field(
        None, description="the last motion segment inside the curve", json_schema_extra=emits("cobb_curve_level"),
    )
    note: Note = None

    @model_validator(mode="after")
    def _extent(self) -> "CobbCurve":
        vertebrae = (self.upper_vertebra, self.lower_vertebra)
        levels = (self.upper_level, self.lower_level)
        if any(v is not None for v in vertebrae) and any(lv is not None for lv in levels):
            raise ValueError("give the curve's end vertebrae (upper_vertebra, lower_vertebra) or its end "
                             "motion segments (upper_level, lower_level), not both")
        if any(v is not None for v in vertebrae):
            if None in vertebrae:
                raise ValueError("give both upper_vertebra and lower_vertebra (e.g. T12 and L4)")
            if VERTEBRAE.index(self.upper_vertebra) >= VERTEBRAE.index(self.lower_vertebra):
                raise ValueError(f"upper_vertebra {self.upper_vertebra} is not above lower_vertebra "
                                 f"{self.lower_vertebra}: swap them")
        elif None in levels:
            raise ValueError("give the curve's extent: upper_vertebra and lower_vertebra as the report names "
                             "them (T12, L4), or upper_level and lower_level as motion segments (T12-L1, L3-L4)")
        elif SPINAL_LEVELS.index(self.upper_level) > SPINAL_LEVELS.index(self.lower_level):
            raise ValueError(
                f"upper_level {self.upper_level} lies below lower_level {self.lower_level}: swap them"
            )
        return self

    @property
    def segments(self) -> tuple[str, ...]:
        """The motion segments of the vocabulary inside the curve, cranial to caudal."""
        if self.upper_vertebra is not None:
            top, bottom = VERTEBRAE.index(self.upper_vertebra), VERTEBRAE.index(self.lower_vertebra)
            inside = {f"{VERTEBRAE[i]}-{VERTEBRAE[i + 1]}" for i in range(top, bottom)}
            return tuple(lv for lv in SPINAL_LEVELS if lv in inside)
        lo, hi = SPINAL_LEVELS.index(self.upper_level), SPINAL_LEVELS.index(self.lower_level)
        return SPINAL_LEVELS[lo : hi + 1]


class Alignment(Record):
    """Global alignment measured on one study.  A description is not a measurement."""

    cobb: tuple[CobbCurve, ...] | None = Field(None, json_schema_extra=emits("documented"))
    sva_mm: SignedMillimetres | None = Field(None, json_schema_extra=emits("sagittal_vertical_axis"))
    pi_ll_mismatch_deg: SignedDegrees | None = Field(None, json_schema_extra=emits("pi_ll_mismatch"))
    coronal_imbalance_mm: Millimetres | None = Field(None, json_schema_extra=emits("coronal_imbalance"))
    descriptions: tuple[str, ...] = Field((), json_schema_extra=emits("alignment_description"))


class ImagingStudy(Record):
    study: StudyType = Field(json_schema_extra=emits("imaging_study"))
    date: Date | None = Field(None, json_schema_extra=emits("imaging_date"))
    levels: tuple[LevelFindings, ...] = ()
    alignment: Alignment | None = None
    note: Note = None

    @field_validator("levels")
    @classmethod
    def _levels_once(cls, levels: tuple[LevelFindings, ...]) -> tuple[LevelFindings, ...]:
        _no_repeats([lv.level for lv in levels], "level")
        return levels

    @model_validator(mode="after")
    def _what_the_study_can_show(self) -> "ImagingStudy":
        found = implausible_measure(self)
        if found is not None:  # at the field itself, so that its line and element path are named
            at, why = found
            raise PydanticCustomError("implausible", why, {"at": at})
        return self
