"""Numbers read exactly: a decimal literal as ``decimal.Decimal``, before any rounding.

A binary float cannot hold most decimals, and Python's reader rounds a long
literal to the nearest one: ``-2.4999999999999999999`` becomes -2.5 and
``11.99999999999999999999`` becomes 12.0, so a check of the decimal places
made on the float passes a value the record never gave (a T-score of -2.5
meets an osteoporosis threshold that -2.4999... does not).  Every reader of
numbers (case files in YAML and JSON, ``facts/document.py``; PAS bundles) reads
the literal's text here first: the exact value, refused when it has more
decimal places than the case model keeps, and only then a float, which then
holds the value exactly as far as the model reads it.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

#: Decimal places the case model keeps for every measurement (facts/values.py: tenths).
PLACES = 1
#: Digits a number may have before or after the point: more than any measurement in a case.
MAX_DIGITS = 15


class InexactNumber(ValueError):
    """A number the case model cannot keep exactly; its message says why and how to write it."""


def exact(text: str) -> Decimal:
    """The exact value of a decimal literal (``"-2.4999999999999999999"``, ``"1e-1"``, ``"12"``).

    Raises ``InexactNumber`` for text that is not a finite decimal literal.
    """
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, ValueError, TypeError):
        raise InexactNumber(f"{text[:40]!r} is not a number: write digits, with a point for decimals") from None
    if not value.is_finite():
        raise InexactNumber(f"{text[:40]} is not a finite number: write a number")
    return value


def kept(value: Decimal | str, places: int = PLACES) -> float:
    """``value`` as the float the case model keeps, refused (``InexactNumber``) when it has more
    than ``places`` decimal places or more than ``MAX_DIGITS`` digits: never rounded silently."""
    number = exact(value) if isinstance(value, str) else value
    if not number.is_finite():
        raise InexactNumber(f"{number} is not a finite number: write a number")
    shown = value if isinstance(value, str) else str(value)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    if number.is_zero():
        return 0.0
    sign, digits, exponent = number.normalize().as_tuple()
    whole = len(digits) + exponent  # digits before the point
    if whole > MAX_DIGITS:
        raise InexactNumber(f"{shown}: no field of a case holds a number this long; correct it")
    if -exponent > places:
        if places == 1:  # the wording of the case model's own check (facts/values.py)
            raise InexactNumber(f"{shown} has more than one decimal place; round it to tenths")
        raise InexactNumber(f"{shown} has more than {places} decimal places; round it to {places}")
    return float(number)
