"""The case record's clinical findings, conservative care, and history and risk factors.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    Strict,
    StrictBool,
    StrictInt,
    model_validator,
)
from pydantic_core import PydanticCustomError

from facts.plausible import implausible_level
from facts.terms import (
    Acuity,
    ArthropathyStatus,
    Basis,
    CareOutcome,
    CareSource,
    Course,
    Modality,
    MrcModifier,
    PainScale,
    Region,
    Side,
    SmokingStatus,
    SurgeryType,
    TherapyDelivery,
)
from facts.values import (
    Date,
    Level,
    Note,
    Percent,
    Record,
    Weeks,
    _measure,
    _one_decimal,
    emits,
    later,
    week_days,
)

# --------------------------------------------------------------------------
# Clinical
# --------------------------------------------------------------------------


class Radiculopathy(Record):
    present: StrictBool = Field(json_schema_extra=emits("finding"))
    side: Side | None = Field(None, json_schema_extra=emits("radiculopathy_side"))
    root: Annotated[str, Field(pattern=r"^[LS][1-5]$")] | None = Field(
        None, json_schema_extra=emits("radiculopathy_root")
    )
    basis: Basis | None = Field(None, json_schema_extra=emits("radiculopathy_basis"))
    acuity: Acuity | None = Field(None, json_schema_extra=emits("radiculopathy_acuity"))
    note: Note = None


_MRC_RE = re.compile(r"^([0-5])([+-]?)(?:/5)?$")


def _parse_mrc(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("give an MRC grade such as 4, '4-' or '4+/5'")
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, str):
        match = _MRC_RE.match(value.strip())
        if match:
            modifier = {"": "plain", "-": "minus", "+": "plus"}[match[2]]
            return {"grade": int(match[1]), "modifier": modifier}
        raise ValueError(f"'{value}' is not an MRC grade: write 0 to 5, optionally with - or +, e.g. '4-/5'")
    return value


class MrcGrade(Record):
    grade: Annotated[StrictInt, Field(ge=0, le=5)]
    modifier: MrcModifier = MrcModifier.plain

    def __str__(self) -> str:
        suffix = {"minus": "-", "plain": "", "plus": "+"}[self.modifier.value]
        return f"{self.grade}{suffix}/5"


class MotorWeakness(Record):
    present: StrictBool = Field(json_schema_extra=emits("finding"))
    mrc: Annotated[MrcGrade | None, BeforeValidator(_parse_mrc)] = Field(
        None, json_schema_extra=emits("motor_weakness_mrc")
    )
    side: Side | None = Field(None, json_schema_extra=emits("motor_weakness_side"))
    course: Course | None = Field(None, json_schema_extra=emits("motor_weakness_course"))
    note: Note = None


class PainScore(Record):
    scale: PainScale = Field(json_schema_extra=emits("pain_score"))
    score: Annotated[float, Strict(), Field(ge=0, le=10), AfterValidator(_one_decimal)] = Field(
        json_schema_extra=emits("pain_score")
    )


class Clinical(Record):
    radiculopathy: Radiculopathy | None = None
    neurogenic_claudication: StrictBool | None = Field(None, json_schema_extra=emits("finding"))
    motor_weakness: MotorWeakness | None = None
    sensory_deficit: StrictBool | None = Field(None, json_schema_extra=emits("finding"))
    reflex_change: StrictBool | None = Field(None, json_schema_extra=emits("finding"))
    myelopathy: StrictBool | None = Field(None, json_schema_extra=emits("finding"))
    bowel_bladder_dysfunction: StrictBool | None = Field(None, json_schema_extra=emits("finding"))
    cauda_equina_syndrome: StrictBool | None = Field(None, json_schema_extra=emits("finding"))
    tumor: StrictBool | None = Field(None, json_schema_extra=emits("finding"))
    infection: StrictBool | None = Field(None, json_schema_extra=emits("finding"))
    fracture: StrictBool | None = Field(None, json_schema_extra=emits("finding"))
    adl_limitation: StrictBool | None = Field(None, json_schema_extra=emits("finding"))
    limited_activities: tuple[Annotated[str, Field(min_length=1, max_length=200)], ...] | None = Field(
        None, description="the activities of daily living the record names as limited",
        json_schema_extra=emits("limited_activity", "documented"),
    )
    discogenic_pain: StrictBool | None = Field(None, json_schema_extra=emits("finding"))
    concordant_levels: tuple[Level, ...] | None = Field(
        None, description="levels whose imaging the record finds concordant with the symptoms",
        json_schema_extra=emits("concordant_level", "documented"),
    )
    pain_scores: tuple[PainScore, ...] | None = Field(None, json_schema_extra=emits("documented"))
    odi_pct: Percent | None = Field(None, json_schema_extra=emits("oswestry_disability_index"))
    note: Note = None


# --------------------------------------------------------------------------
# Conservative care
# --------------------------------------------------------------------------


class CareEpisode(Record):
    modality: Modality = Field(json_schema_extra=emits("care_episode"))
    delivery: TherapyDelivery | None = Field(None, json_schema_extra=emits("care_delivery"))
    start: Date | None = Field(None, json_schema_extra=emits("care_start"))
    end: Date | None = Field(None, json_schema_extra=emits("care_end"))
    weeks: Weeks | None = Field(None, json_schema_extra=emits("care_days"))
    sessions: Annotated[StrictInt, Field(ge=0, le=1000)] | None = Field(
        None, json_schema_extra=emits("care_sessions")
    )
    outcome: CareOutcome | None = Field(None, json_schema_extra=emits("care_outcome"))
    source: CareSource | None = Field(None, description="what documents the episode",
                                      json_schema_extra=emits("care_source"))
    note: Note = None

    @model_validator(mode="after")
    def _coherent(self) -> "CareEpisode":
        if self.delivery is not None and self.modality is not Modality.physical_therapy:
            raise ValueError("delivery describes physical therapy only: remove it or set modality: physical_therapy")
        if self.start and self.end and later(self.start, self.end):
            raise ValueError(f"episode ends ({self.end}) before it starts ({self.start})")
        if self.weeks is not None and self.start and self.end:
            least, most = self._date_span()
            if not least - 7 <= self.weeks * 7 <= most + 7:
                span = f"{least} days" if least == most else f"{least} to {most} days"
                raise ValueError(
                    f"weeks: {self.weeks} disagrees with start {self.start} and end {self.end} "
                    f"({span}): give the duration once or make them agree"
                )
        return self

    def _date_span(self) -> tuple[int, int]:
        """The fewest and most days between start and end, at the precision they are known to."""
        (start_first, start_last), (end_first, end_last) = self.start.span, self.end.span
        return max(0, (end_first - start_last).days), (end_last - start_first).days

    @property
    def days(self) -> tuple[int, int] | None:
        """The episode's length in days, as (fewest, most): stated weeks, else the span of its dates."""
        if self.weeks is not None:
            days = week_days(self.weeks)
            return days, days
        if self.start and self.end:
            return self._date_span()
        return None


class ConservativeCare(Record):
    total_weeks: Weeks | None = Field(
        None,
        description="the total span of nonoperative care when the record states it without dates",
        json_schema_extra=emits("conservative_care_total_days"),
    )
    episodes: tuple[CareEpisode, ...] | None = Field(
        None, description="every episode of nonoperative care; an empty list documents that none was given",
        json_schema_extra=emits("documented"),
    )
    note: Note = None

    @model_validator(mode="after")
    def _none_means_none(self) -> "ConservativeCare":
        if self.episodes == () and self.total_weeks:
            raise ValueError(f"episodes: [] says no nonoperative care was given, but total_weeks says "
                             f"{self.total_weeks}: list the episodes, or remove total_weeks")
        return self


# --------------------------------------------------------------------------
# History and risk
# --------------------------------------------------------------------------


class PriorSurgery(Record):
    type: SurgeryType = Field(json_schema_extra=emits("prior_surgery"))
    region: Region = Field(Region.lumbar, json_schema_extra=emits("prior_surgery"))
    level: Level | None = Field(None, json_schema_extra=emits("prior_surgery_level"))
    date: Date | None = Field(None, json_schema_extra=emits("prior_surgery_date"))
    description: str | None = Field(None, json_schema_extra=emits())
    note: Note = None

    @model_validator(mode="after")
    def _level_in_region(self) -> "PriorSurgery":
        why = None if self.level is None else implausible_level(self.level, self.region)
        if why is not None:  # at the level, so that its line and element path are named
            raise PydanticCustomError("implausible", why, {"at": ("level",)})
        return self


class Smoking(Record):
    status: SmokingStatus = Field(json_schema_extra=emits("smoking_status"))
    nicotine_free_weeks: Weeks | None = Field(None, json_schema_extra=emits("nicotine_free_days"))
    cotinine_ng_ml: _measure(0, 10000, "ng/mL") | None = Field(None, json_schema_extra=emits("cotinine"))


class Diabetes(Record):
    present: StrictBool = Field(json_schema_extra=emits("finding"))
    hba1c_pct: _measure(3, 20, "percent") | None = Field(None, json_schema_extra=emits("hba1c"))


class BoneDensity(Record):
    dexa_t_score: _measure(-10, 10, "standard deviations") | None = Field(None, json_schema_extra=emits("dexa_t_score"))
    osteoporosis: StrictBool | None = Field(None, json_schema_extra=emits("finding"))


class InflammatoryArthropathy(Record):
    kind: Annotated[str, Field(pattern=r"^[a-z][a-z_]*$", max_length=60)] = Field(
        json_schema_extra=emits("inflammatory_arthropathy")
    )
    status: ArthropathyStatus = Field(json_schema_extra=emits("inflammatory_arthropathy"))
    involves_si_joint: StrictBool | None = Field(None, json_schema_extra=emits("inflammatory_arthropathy_si_joint"))
    note: Note = None


class SiBlock(Record):
    relief_pct: Percent = Field(json_schema_extra=emits("si_diagnostic_block"))
    date: Date | None = Field(None, json_schema_extra=emits())
    note: Note = None


class SiJoint(Record):
    provocative_tests_positive: Annotated[StrictInt, Field(ge=0, le=10)] | None = Field(
        None, json_schema_extra=emits("si_provocative_tests")
    )
    provocative_tests_performed: Annotated[StrictInt, Field(ge=0, le=10)] | None = Field(
        None, json_schema_extra=emits("si_provocative_tests")
    )
    sacroiliitis_on_imaging: StrictBool | None = Field(None, json_schema_extra=emits("finding"))
    confirmed_diagnosis: StrictBool | None = Field(None, json_schema_extra=emits("finding"))
    diagnostic_blocks: tuple[SiBlock, ...] | None = Field(None, json_schema_extra=emits("documented"))
    note: Note = None

    @model_validator(mode="after")
    def _tests_add_up(self) -> "SiJoint":
        pos, done = self.provocative_tests_positive, self.provocative_tests_performed
        if pos is not None and done is not None and pos > done:
            raise ValueError(f"{pos} positive provocative tests out of {done} performed: correct one of them")
        if (pos is None) != (done is None):
            raise ValueError("give both provocative_tests_positive and provocative_tests_performed")
        return self


class History(Record):
    prior_surgeries: tuple[PriorSurgery, ...] | None = Field(None, json_schema_extra=emits("documented"))
    smoking: Smoking | None = None
    diabetes: Diabetes | None = None
    bmi: _measure(10, 100, "kg/m2") | None = Field(None, json_schema_extra=emits("body_mass_index"))
    bone_density: BoneDensity | None = None
    inflammatory_arthropathy: InflammatoryArthropathy | None = None
    si_joint: SiJoint | None = None
    behavioural_health_screening: StrictBool | None = Field(None, json_schema_extra=emits("finding"))
    alcohol_use_disorder: StrictBool | None = Field(None, json_schema_extra=emits("finding"))
    note: Note = None
