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
from facts.values import Date, Level, Note, Percent, Record, emits

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


class Request(Record):
    date: Date | None = Field(None, json_schema_extra=emits("request_date"))
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
