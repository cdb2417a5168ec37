"""The case record: what a case file may say, validated.

Three states matter for every fact and are kept apart here and in the atoms:

* a key that is absent (``None``) is **not documented**;
* ``false`` (or an empty list) is **documented false**: the record says no;
* ``true`` (or a value) is **documented true**.

Measurements keep the precision of the report up to one decimal place and are
emitted to ASP as integer tenths (3.5 mm becomes 35), because clingo only
compares integers.  The case model never judges: no threshold lives here.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    Strict,
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from facts.text import control_character
from facts.terms import (
    APPROACH_ALIASES,
    SACROPELVIC_LEVEL,
    SPINAL_LEVELS,
    VERTEBRAE,
    Acuity,
    Approach,
    ArthropathyStatus,
    Basis,
    CareOutcome,
    CareSource,
    Course,
    Decompression,
    GraftSource,
    Item,
    ListhesisDirection,
    ListhesisType,
    Modality,
    MrcModifier,
    PainScale,
    Region,
    Setting,
    Side,
    SmokingStatus,
    StenosisGrade,
    StenosisZone,
    StudyType,
    SurgeryType,
    TherapyDelivery,
)

# --------------------------------------------------------------------------
# Scalar types
# --------------------------------------------------------------------------


class CaseDate(BaseModel):
    """A calendar date, possibly known only to the month (``2025-06``).

    A month-precision date stands for the first day of that month in the
    atoms; ``precision`` keeps what the record actually said.
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    year: int
    month: int
    day: int
    precision: str  # "day" or "month"

    @property
    def date(self) -> dt.date:
        """The first day the date can be (the day itself, or the first of its month)."""
        return dt.date(self.year, self.month, self.day)

    @property
    def span(self) -> tuple[dt.date, dt.date]:
        """The earliest and latest day the date can be."""
        if self.precision == "month":
            last = calendar.monthrange(self.year, self.month)[1]
            return dt.date(self.year, self.month, 1), dt.date(self.year, self.month, last)
        return self.date, self.date

    def __str__(self) -> str:
        if self.precision == "month":
            return f"{self.year:04d}-{self.month:02d}"
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"


_DATE_RE = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")


def _parse_date(value: Any) -> Any:
    if isinstance(value, CaseDate):
        return value
    if isinstance(value, dt.datetime):
        raise ValueError("give a date (YYYY-MM-DD or YYYY-MM), not a date and time")
    if isinstance(value, dt.date):
        return CaseDate(year=value.year, month=value.month, day=value.day, precision="day")
    if isinstance(value, str):
        match = _DATE_RE.match(value.strip())
        if not match:
            raise ValueError(f"'{value}' is not a date: write YYYY-MM-DD, or YYYY-MM when only the month is known")
        year, month, day = int(match[1]), int(match[2]), match[3]
        try:
            dt.date(year, month, int(day) if day else 1)
        except ValueError as exc:
            raise ValueError(f"'{value}' is not a calendar date ({exc})") from None
        if day is None:
            return CaseDate(year=year, month=month, day=1, precision="month")
        return CaseDate(year=year, month=month, day=int(day), precision="day")
    raise ValueError("give a date as YYYY-MM-DD or YYYY-MM")


def later(a: CaseDate, b: CaseDate) -> bool:
    """Whether ``a`` is surely after ``b``, at the precision both are known to."""
    if "month" in (a.precision, b.precision):
        return (a.year, a.month) > (b.year, b.month)
    return a.date > b.date


def _not_in_future(value: CaseDate) -> CaseDate:
    today = dt.date.today()
    if later(value, CaseDate(year=today.year, month=today.month, day=today.day, precision="day")):
        raise ValueError(f"{value} is in the future (today is {today.isoformat()}): check the year")
    return value


Date = Annotated[CaseDate, BeforeValidator(_parse_date), AfterValidator(_not_in_future)]


def week_days(weeks: float) -> int:
    """Weeks as whole days, half a day rounding to even (1.5 weeks is 10 days)."""
    return int((Decimal(str(weeks)) * 7).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def _one_decimal(value: float) -> float:
    if Decimal(str(value)).as_tuple().exponent < -1:
        raise ValueError(f"{value} has more than one decimal place; round it to tenths")
    return value


def _measure(lo: float | None = None, hi: float | None = None, unit: str = "") -> Any:
    """A measurement with at most one decimal place, within a plausible range."""
    return Annotated[float, Strict(), Field(ge=lo, le=hi, description=unit), AfterValidator(_one_decimal)]


Millimetres = _measure(0, 300, "millimetres")
SignedMillimetres = _measure(-300, 300, "millimetres")
Degrees = _measure(0, 180, "degrees")
SignedDegrees = _measure(-90, 90, "degrees")
Percent = Annotated[float, Strict(), Field(ge=0, le=100), AfterValidator(_one_decimal)]
Weeks = _measure(0, 520, "weeks")
Level = Annotated[StrictStr, AfterValidator(lambda v: _known_level(v))]


def _known_level(value: str) -> str:
    if value in SPINAL_LEVELS:
        return value
    canon = value.strip().upper().replace("–", "-").replace(" ", "")
    for level in SPINAL_LEVELS:
        if level.upper() == canon:
            return level
    raise ValueError(
        f"unknown spinal level '{value}': use one of {', '.join(SPINAL_LEVELS)}"
    )


class Record(BaseModel):
    """Base of every part of a case: unknown keys and wrong types are errors, and
    no string holds a control character (facts/text.py), however the record was built."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    @field_validator("*", mode="after")
    @classmethod
    def _plain_text(cls, value: Any) -> Any:
        for text in (value,) if isinstance(value, str) else value if isinstance(value, tuple) else ():
            if isinstance(text, str) and (why := control_character(text)):
                raise ValueError(why)
        return value


Note = Annotated[
    str | None,
    Field(
        default=None,
        description="free text: where the fact comes from, e.g. 'attested by the assessment'",
        json_schema_extra={"emits": []},
    ),
]


def emits(*predicates: str, **extra: Any) -> Any:
    """Field metadata naming the predicates a field becomes (see facts.vocabulary)."""
    return {"emits": list(predicates), **extra}


# --------------------------------------------------------------------------
# Request
# --------------------------------------------------------------------------


class FacetResection(Record):
    left: Percent | None = Field(None, json_schema_extra=emits("planned_facet_resection"))
    right: Percent | None = Field(None, json_schema_extra=emits("planned_facet_resection"))


class DecompressionRequest(Record):
    technique: Decompression | None = Field(None, json_schema_extra=emits("decompression_technique"))
    facet_resection_pct: FacetResection | None = None
    pars_resection: StrictBool | None = Field(None, json_schema_extra=emits("planned_pars_resection"))
    corpectomy_pct: Percent | None = Field(
        None, description="planned resection of the vertebral body, in percent",
        json_schema_extra=emits("planned_corpectomy"),
    )


def _fusion_shorthand(value: Any) -> Any:
    """``fusion: true``, ``fusion: TLIF`` or ``fusion: [ALIF, posterolateral]`` for the full form."""
    if value is True:
        return {}
    if isinstance(value, str):
        return {"approaches": [_approach_name(value)]}
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return {"approaches": [_approach_name(v) for v in value]}
    return value


def _approach_name(value: str) -> str:
    """An approach as reports write it (TLIF, XLIF) in the vocabulary's spelling (tlif, llif)."""
    name = value.strip().lower().replace("-", "_").replace(" ", "_")
    return APPROACH_ALIASES.get(name, name)


def _approaches(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_approach_name(v) if isinstance(v, str) else v for v in value]
    return value


class FusionRequest(Record):
    approaches: Annotated[tuple[Approach, ...], BeforeValidator(_approaches)] = Field(
        (), description="alif, llif (XLIF, DLIF), tlif, plif or posterolateral; any case",
        json_schema_extra=emits("fusion_approach"),
    )
    instrumentation: StrictBool | None = Field(None, json_schema_extra=emits("fusion_instrumentation"))


def _decompression_shorthand(value: Any) -> Any:
    if value is True:
        return {}
    if isinstance(value, str):
        return {"technique": value}
    return value


class LevelRequest(Record):
    level: Level = Field(json_schema_extra=emits("requested"))
    decompression: Annotated[DecompressionRequest | None, BeforeValidator(_decompression_shorthand)] = Field(
        None, json_schema_extra=emits("requested")
    )
    fusion: Annotated[FusionRequest | None, BeforeValidator(_fusion_shorthand)] = Field(
        None, json_schema_extra=emits("requested")
    )
    note: Note = None

    @model_validator(mode="after")
    def _something_requested(self) -> "LevelRequest":
        if self.decompression is None and self.fusion is None:
            raise ValueError(f"level {self.level} requests neither decompression nor fusion: add one or remove the level")
        if self.level == SACROPELVIC_LEVEL and self.decompression is not None:
            raise ValueError("S1-pelvis is a fixation segment: request fusion there, not decompression")
        return self


class ItemRequest(Record):
    item: Item = Field(json_schema_extra=emits("requested_item"))
    level: Level | None = Field(None, json_schema_extra=emits("requested_item"))
    side: Side | None = Field(None, json_schema_extra=emits("requested_item_side"))
    source: GraftSource | None = Field(None, description="where an autograft is harvested",
                                       json_schema_extra=emits("requested_item_source"))
    note: Note = None

    @model_validator(mode="after")
    def _source_is_for_grafts(self) -> "ItemRequest":
        if self.source is not None and self.item is not Item.autograft:
            raise ValueError("source says where an autograft is harvested: remove it or request item: autograft")
        return self


#: Request identifiers a reviewer reads and no rule does: shown by the renderers, never emitted.
ContextText = Annotated[str | None, Field(default=None, min_length=1, max_length=200, json_schema_extra={"emits": []})]
#: A date of service may lie ahead of today (a planned operation).
ServiceDate = Annotated[CaseDate, BeforeValidator(_parse_date)]


class ServiceCode(Record):
    """A code of the requested service or its diagnosis, with its code system."""

    system: Annotated[str, Field(pattern=r"^(CPT|HCPCS|ICD-10-CM|ICD-10-PCS|SNOMED CT)$")] = Field(
        json_schema_extra={"emits": []}, description="CPT, HCPCS, ICD-10-CM, ICD-10-PCS or SNOMED CT")
    code: Annotated[str, Field(pattern=r"^[A-Za-z0-9.\-]{1,20}$")] = Field(json_schema_extra={"emits": []})
    display: ContextText = None


class Request(Record):
    date: Date | None = Field(None, json_schema_extra=emits("request_date"))
    member_id: ContextText = None
    member_name: ContextText = None
    birth_date: Date | None = Field(None, json_schema_extra={"emits": []})
    provider: ContextText = None
    facility: ContextText = None
    service_date: ServiceDate | None = Field(None, json_schema_extra={"emits": []})
    codes: tuple[ServiceCode, ...] = Field((), json_schema_extra={"emits": []})
    setting: Setting | None = Field(None, json_schema_extra=emits("requested_setting"))
    levels: tuple[LevelRequest, ...] = Field(min_length=1)
    items: tuple[ItemRequest, ...] = ()
    poor_graft_bed: StrictBool | None = Field(None, json_schema_extra=emits("finding"))
    autograft_unavailable: StrictBool | None = Field(
        None, description="no usable autograft (prior harvest, poor bone stock)", json_schema_extra=emits("finding"),
    )

    @field_validator("levels")
    @classmethod
    def _levels_once(cls, levels: tuple[LevelRequest, ...]) -> tuple[LevelRequest, ...]:
        _no_repeats([lv.level for lv in levels], "level")
        return levels

    @field_validator("items")
    @classmethod
    def _items_once(cls, items: tuple[ItemRequest, ...]) -> tuple[ItemRequest, ...]:
        _no_repeats([f"{i.item.value} at {i.level}" if i.level else i.item.value for i in items], "item")
        return items

    @model_validator(mode="after")
    def _items_at_requested_levels(self) -> "Request":
        requested = {lv.level for lv in self.levels}
        for item in self.items:
            if item.level is not None and item.level not in requested:
                raise ValueError(
                    f"{item.item.value} is requested at {item.level}, which the request does not name: "
                    f"add {item.level} to request.levels or correct the item's level"
                )
        return self


def _no_repeats(keys: list[str], what: str) -> None:
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            raise ValueError(f"{what} {key} is listed twice: merge the two entries")
        seen.add(key)


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
        if self.level is not None and self.region is Region.cervical:
            raise ValueError(f"level {self.level} is not cervical: drop the level or correct the region")
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


# --------------------------------------------------------------------------
# The original assessment's verdict (never emitted)
# --------------------------------------------------------------------------

#: The item the engine's core rules add for ``request.setting: inpatient``.
INPATIENT_ITEM = "inpatient_setting"

LevelVerdict = Literal["fusion", "decompression_only", "none"]
ItemVerdict = Literal["medically_necessary", "not_medically_necessary"]
OutcomeVerdict = Literal["approved", "partially_approved", "denied"]


def _item_key(value: str) -> str:
    """``item`` or ``item@level``, the way decisions name an item: ``interbody_device@L5-S1``."""
    name, sep, level = value.strip().partition("@")
    name = name.strip()
    known = [i.value for i in Item] + [INPATIENT_ITEM]
    if name not in known:
        raise ValueError(
            f"unknown item '{name}': write item or item@level, the item one of {', '.join(known)}"
        )
    if not sep:
        return name
    if name == INPATIENT_ITEM:
        raise ValueError(f"{INPATIENT_ITEM} is for the whole case: drop '@{level}'")
    return f"{name}@{_known_level(level.strip())}"


ItemKey = Annotated[StrictStr, AfterValidator(_item_key)]


def _verdict(**extra: Any) -> Any:
    return {"emits": [], **extra}


class Assessment(Record):
    """What the original assessment decided, kept beside the facts for ``necessity audit-examples``.

    Not a fact of the case: nothing here is emitted, so no policy can read it
    and it cannot change a decision.
    """

    source: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="the assessment the verdict comes from, e.g. its file name", json_schema_extra=_verdict()
    )
    levels: dict[Level, LevelVerdict] | None = Field(
        None, description="the assessment's determination per requested level", json_schema_extra=_verdict()
    )
    items: dict[ItemKey, ItemVerdict] | None = Field(
        None, description="the assessment's determination per requested item: item, or item@level",
        json_schema_extra=_verdict(),
    )
    outcome: OutcomeVerdict | None = Field(None, description="the assessment's overall outcome",
                                           json_schema_extra=_verdict())
    note: Note = None

    def __hash__(self) -> int:  # the mappings are dicts; a frozen record must still hash
        return hash((self.source, tuple((self.levels or {}).items()), tuple((self.items or {}).items()),
                     self.outcome, self.note))


def _level_order(level: str) -> int:
    return SPINAL_LEVELS.index(level)


def _request_keys(request: Request) -> tuple[set[str], set[str]]:
    levels = {lv.level for lv in request.levels}
    items = {it.item.value if it.level is None else f"{it.item.value}@{it.level}" for it in request.items}
    if request.setting is Setting.inpatient:
        items.add(INPATIENT_ITEM)
    return levels, items


# --------------------------------------------------------------------------
# The case
# --------------------------------------------------------------------------


class Case(Record):
    """One case record: the request and the documentation behind it."""

    case: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="the case id, used in output only", json_schema_extra=emits()
    )
    request: Request
    imaging: tuple[ImagingStudy, ...] | None = Field(None, json_schema_extra=emits("documented"))
    clinical: Clinical = Clinical()
    conservative_care: ConservativeCare = ConservativeCare()
    history: History = History()
    assessment: Assessment | None = None
    note: Note = None

    @field_validator("imaging")
    @classmethod
    def _imaging_before_the_request(cls, imaging: tuple["ImagingStudy", ...] | None,
                                    info: ValidationInfo) -> tuple["ImagingStudy", ...] | None:
        request = info.data.get("request")
        if imaging is None or request is None or request.date is None:
            return imaging
        for i, study in enumerate(imaging):
            if study.date is not None and later(study.date, request.date):
                raise ValueError(
                    f"imaging[{i}].date {study.date} is after request.date {request.date}: a request rests on "
                    "imaging done before it; correct one of the two dates"
                )
        return imaging

    @field_validator("assessment")
    @classmethod
    def _assessment_of_this_request(cls, assessment: Assessment | None, info: ValidationInfo) -> Assessment | None:
        request = info.data.get("request")
        if assessment is None or request is None:
            return assessment
        levels, items = _request_keys(request)
        for level in assessment.levels or {}:
            if level not in levels:
                named = ", ".join(sorted(levels, key=_level_order))
                raise ValueError(
                    f"levels: {level} is not a requested level (the request names {named}): "
                    "correct the level or add it to request.levels"
                )
        for key in assessment.items or {}:
            if key not in items:
                named = ", ".join(sorted(items)) or "no items"
                how = ("set request.setting: inpatient" if key == INPATIENT_ITEM
                       else "correct the key (item, or item@level as requested) or add the item to request.items")
                raise ValueError(f"items: {key} is not a requested item (the request names {named}): {how}")
        return assessment
