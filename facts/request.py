"""The case record's request: the levels (decompression, fusion) and items the surgeon asks for, and where.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    Field,
    StrictBool,
    field_validator,
    model_validator,
)

from facts.terms import (
    APPROACH_ALIASES,
    SACROPELVIC_LEVEL,
    Approach,
    Decompression,
    GraftSource,
    Item,
    Setting,
    Side,
)
from facts.values import CaseDate, Date, Level, Note, Percent, Record, _parse_date, emits

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
