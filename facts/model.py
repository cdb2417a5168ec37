"""The case record: what a case file may say, validated.

Three states matter for every fact and are kept apart here and in the atoms:

* a key that is absent (``None``) is **not documented**;
* ``false`` (or an empty list) is **documented false**: the record says no;
* ``true`` (or a value) is **documented true**.

Measurements keep the precision of the report up to one decimal place and are
emitted to ASP as integer tenths (3.5 mm becomes 35), because clingo only
compares integers.  The case model never judges: no threshold lives here.

The record's sections have modules of their own: values.py (dates, measures,
``Record``), request.py, imaging.py, clinical.py (clinical findings,
conservative care, history); this module holds the original assessment and
the ``Case`` that puts them together, and every name of the model is imported
from here as before.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Field,
    StrictStr,
    ValidationInfo,
    field_validator,
)

from facts.clinical import (
    BoneDensity,
    CareEpisode,
    Clinical,
    ConservativeCare,
    Diabetes,
    History,
    InflammatoryArthropathy,
    MotorWeakness,
    MrcGrade,
    PainScore,
    PriorSurgery,
    Radiculopathy,
    SiBlock,
    SiJoint,
    Smoking,
)
from facts.imaging import (
    Alignment,
    CobbCurve,
    ImagingStudy,
    LevelFindings,
    ModicChange,
    Spondylolisthesis,
    Stenosis,
    Vertebra,
)
from facts.request import DecompressionRequest, FacetResection, FusionRequest, ItemRequest, LevelRequest, Request
from facts.terms import (
    SPINAL_LEVELS,
    Item,
    Setting,
)
from facts.values import (
    CaseDate,
    Date,
    Degrees,
    Level,
    Millimetres,
    Note,
    Percent,
    Record,
    SignedDegrees,
    SignedMillimetres,
    Weeks,
    _known_level,
    emits,
    later,
    week_days,
)

__all__ = [  # the whole case model, as before its sections had modules of their own
    "Alignment",
    "Assessment",
    "BoneDensity",
    "CareEpisode",
    "Case",
    "CaseDate",
    "Clinical",
    "CobbCurve",
    "ConservativeCare",
    "Date",
    "DecompressionRequest",
    "Degrees",
    "Diabetes",
    "emits",
    "FacetResection",
    "FusionRequest",
    "History",
    "ImagingStudy",
    "InflammatoryArthropathy",
    "INPATIENT_ITEM",
    "ItemKey",
    "ItemRequest",
    "ItemVerdict",
    "later",
    "Level",
    "LevelFindings",
    "LevelRequest",
    "LevelVerdict",
    "Millimetres",
    "ModicChange",
    "MotorWeakness",
    "MrcGrade",
    "Note",
    "OutcomeVerdict",
    "PainScore",
    "Percent",
    "PriorSurgery",
    "Radiculopathy",
    "Record",
    "Request",
    "SiBlock",
    "SignedDegrees",
    "SignedMillimetres",
    "SiJoint",
    "Smoking",
    "Spondylolisthesis",
    "Stenosis",
    "Vertebra",
    "week_days",
    "Weeks",
]

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
