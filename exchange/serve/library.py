"""``necessity log show`` and ``necessity log export``: the decision log read back.

``export`` writes the answered submissions as a case library, one case record
a line (JSON Lines): the case each request Bundle was decided on, read again
by the same reader (exchange.request), so that ``necessity batch`` and
``necessity diff A B --cases`` decide real traffic.  Each case's id is the
log record's id, so a change the diff reports is found with ``log show``.
"""

from __future__ import annotations

import datetime
import enum
import json
from typing import IO, Any

from engine.deciding.errors import UserError
from exchange.serve.log import DecisionLog, record_json


def show(record_id: str, database: str | None) -> str:
    """A record of the log as JSON."""
    log = DecisionLog(database, create=False)
    try:
        record = log.get(record_id.strip())
    finally:
        log.close()
    if record is None:
        raise UserError(f"{record_id}: no such record in the decision log: the id is the {'X-Necessity-Record'} "
                        "header of the answer, or a case id of `necessity log export`")
    return record_json(record)


def _plain(value: Any) -> Any:
    """A case model's value as a case file writes it (dates as YYYY-MM-DD or YYYY-MM, enums by value)."""
    from pydantic import BaseModel

    from facts.model import CaseDate

    if isinstance(value, CaseDate):
        return str(value)
    if isinstance(value, BaseModel):
        fields = type(value).model_fields
        return {(info.alias or name): _plain(getattr(value, name)) for name, info in fields.items()
                if getattr(value, name) is not None}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


def case_record(case: Any, case_id: str) -> dict[str, Any]:
    """The case record of a case, under another id; checked to read back as the same case."""
    from facts.load import parse_case

    record = _plain(case)
    record["case"] = case_id
    again = parse_case(json.dumps(record), case_id, fmt="json")
    if again != case.model_copy(update={"case": case_id}):
        raise UserError(f"{case_id}: the case record does not read back as the case it was decided on: please report it")
    return record


def since_value(since: str | None) -> str | None:
    """``--since`` as the log's time text (ISO 8601, UTC): a date or a date and time."""
    if since is None:
        return None
    try:
        if len(since) == 10:
            return datetime.date.fromisoformat(since).isoformat()
        moment = datetime.datetime.fromisoformat(since.replace("Z", "+00:00"))
    except ValueError:
        raise UserError(f"--since {since}: give a date (2026-12-01) or a time (2026-12-01T08:00:00Z)") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds") + "Z"


def export(database: str | None, since: str | None, out: IO[str]) -> tuple[int, list[str]]:
    """Write the answered submissions received since ``since`` as case records, one a line.

    Returns how many were written, and why each record that could not be written was not (a request
    that no longer reads): those are left out, never guessed.  A request the policy decided nothing of
    (every item pended, no case record) has no case to write and is passed over.
    """
    from exchange import PAS
    from facts.load import CaseFileError

    start = since_value(since)
    log = DecisionLog(database, create=False)
    count, left_out = 0, []
    try:
        for record in log.since(start):
            try:
                case = PAS.read(record.request, f"record {record.id}").case
                if case is None:
                    continue
                line = json.dumps(case_record(case, record.id), ensure_ascii=True, separators=(",", ":"))
            except (UserError, CaseFileError) as exc:
                left_out.append(str(exc).splitlines()[0])
                continue
            out.write(line + "\n")
            count += 1
    finally:
        log.close()
    return count, left_out
