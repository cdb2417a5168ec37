"""What a payer issues with a decision beside the review actions: when, under which numbers, for how long.

* The time of decision (``ClaimResponse.created``, ``Bundle.timestamp``):
  now, or the instant given in ``$NECESSITY_DECISION_TIME`` (or passed in),
  so that tests and re-runs can give the same bytes for the same input.
* Authorization numbers: derived from the request's identifiers (the Claim's
  identifier, else the case id) and the Claim item's sequence, never random:
  the same request gets the same numbers.
* The validity period of an approval: from the day of decision for the days
  ``exchange/data/authorization.csv`` gives (a payer setting, not a medical rule).
* The disposition: what the items' review actions say, in words.
* Process notes of a bounded length: a long note is split at its ``; ``
  boundaries into parts that each say which part they are.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import re
from typing import Any, Iterable

from engine.deciding.errors import UserError
from exchange.tables import table

DECISION_TIME_ENV = "NECESSITY_DECISION_TIME"
#: A FHIR instant: a full date, a time to the second, and a zone.
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
#: The longest process note written; a longer one is split (ClaimResponse.processNote.text).
NOTE_LIMIT = 480


def decision_time(given: str | None = None) -> str:
    """The time of decision as a FHIR instant: ``given``, else ``$NECESSITY_DECISION_TIME``, else now (UTC)."""
    if given is None:
        given = os.environ.get(DECISION_TIME_ENV) or None
        origin = f"${DECISION_TIME_ENV}"
    else:
        origin = "the decision time"
    if given is None:
        return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    if not _INSTANT.match(given):
        raise UserError(f"{origin}: '{given}' is not an instant: write a date, a time to the second and a zone, "
                        "as 2026-01-05T14:30:00Z")
    try:
        datetime.datetime.fromisoformat(given.replace("Z", "+00:00"))
    except ValueError:
        raise UserError(f"{origin}: '{given}' is not a real date and time: correct it (2026-01-05T14:30:00Z)") from None
    return given


def validity_days() -> int:
    """How many days an approval is valid for (authorization.csv, row ``validity_days``)."""
    row = next(r for r in table("authorization") if r["setting"] == "validity_days")
    return int(row["value"])


def validity(decided: str) -> dict[str, str]:
    """The period an approval issued at ``decided`` is valid: its day, and the last day it covers."""
    day = datetime.date.fromisoformat(decided[:10])
    return {"start": day.isoformat(), "end": (day + datetime.timedelta(days=validity_days() - 1)).isoformat()}


def reference_number(request_key: str, *parts: Any) -> str:
    """A stable number for the request (``preAuthRef``) or one of its items: a digest of its identifiers."""
    text = "|".join([request_key, *map(str, parts)])
    return "NEC" + hashlib.sha256(text.encode()).hexdigest()[:12].upper()


#: How each review action is said in a disposition, in the order they are listed.
SAID = {"certified": "certified", "modified": "modified (a different service authorised)",
        "pended": "pended for review", "not_certified": "not certified"}


def disposition(actions: Iterable[tuple[str, str]]) -> str:
    """What the review actions say: ``all items pended for review``, or each action with its items.

    ``actions`` holds (what, action): ``item 3`` and its review action.
    """
    by: dict[str, list[str]] = {}
    for what, action in actions:
        by.setdefault(action, []).append(what)
    if len(by) == 1:
        action, whats = next(iter(by.items()))
        return f"{'the request' if len(whats) == 1 else f'all {len(whats)} requested services'}: {SAID[action]}"
    return "; ".join(f"{SAID[a]}: {_listed(by[a])}" for a in SAID if a in by)


def _listed(whats: list[str]) -> str:
    """``items 1, 2 and 6``, ``item 3``, then what is not a Claim item (``inpatient setting``)."""
    numbers = [w.removeprefix("item ") for w in whats if w.removeprefix("item ").isdigit()]
    others = [w for w in whats if not w.removeprefix("item ").isdigit()]
    said = [f"item{'s' if len(numbers) > 1 else ''} {', '.join(numbers)}"] if numbers else []
    return ", ".join(said + others)


def _clauses(text: str, room: int) -> list[str]:
    """The ``; ``-separated clauses of a note, a clause longer than ``room`` cut at spaces."""
    out = []
    for clause in text.split("; "):
        while len(clause) > room:
            cut = clause.rfind(" ", 0, room)
            cut = cut if cut > 0 else room
            out.append(clause[:cut])
            clause = clause[cut:].lstrip()
        out.append(clause)
    return out


def split(text: str, limit: int = NOTE_LIMIT) -> list[str]:
    """A note in parts of at most ``limit`` characters, cut at ``; `` where it can be (``(part 2 of 3)``)."""
    if len(text) <= limit:
        return [text]
    room = limit - len(" (part 99 of 99)")
    pieces: list[str] = []
    for clause in _clauses(text, room):
        if pieces and len(pieces[-1]) + 2 + len(clause) <= room:
            pieces[-1] += "; " + clause
        else:
            pieces.append(clause)
    return [f"{p} (part {n} of {len(pieces)})" for n, p in enumerate(pieces, start=1)]
