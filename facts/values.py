"""The case record's building blocks: dates, measures, levels, and ``Record`` (a model that refuses unknown keys).

Measurements keep the precision of the report up to one decimal place and are
emitted to ASP as integer tenths (3.5 mm becomes 35), because clingo only
compares integers.  ``emits`` names the predicates a field becomes.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StrictStr,
    field_validator,
)

from facts.terms import (
    SPINAL_LEVELS,
)
from facts.text import control_character

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
