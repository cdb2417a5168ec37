"""The decision log: every request the server answered, appended and committed before the answer is sent.

One table of records (request, response, policy id, version and hash of its
text, engine version, timings, the id of the token that asked) and one of
keys (the identifiers an inquiry or an update is matched on, exchange.serve.keys).
SQLAlchemy Core, so the same statements run on SQLite (the default: one file,
WAL, ``synchronous=FULL``, so a committed record survives ``kill -9`` and a
power cut) and on PostgreSQL (several server processes behind one balancer).
A record is never changed: an update of a pended request is a new record whose
``updates`` names the record it updates.
"""

from __future__ import annotations

import datetime
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from engine.deciding.errors import UserError
from exchange.serve.keys import Keys

DEFAULT_FILE = "necessity-log.sqlite"

_meta = sa.MetaData()
records = sa.Table(
    "necessity_decisions", _meta,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("received", sa.String(32), nullable=False, index=True),  # ISO 8601 UTC, microseconds: sorts as text
    sa.Column("operation", sa.String(16), nullable=False),  # submit, inquire
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("token", sa.String(64)),  # the token's id, never the token
    sa.Column("policy_id", sa.String(200), nullable=False),
    sa.Column("policy_version", sa.String(200), nullable=False),
    sa.Column("policy_hash", sa.String(64), nullable=False),
    sa.Column("engine_version", sa.String(64), nullable=False),
    sa.Column("decided", sa.String(32)),  # the time of the decision
    sa.Column("seconds_decide", sa.Float),  # reading, deciding, writing (the child's own clock)
    sa.Column("seconds_total", sa.Float),  # from the request read to the record appended
    sa.Column("outcome", sa.String(64)),
    sa.Column("response_id", sa.String(64), index=True),
    sa.Column("updates", sa.String(32), index=True),  # the record this one updates (a PAS Claim Update)
    sa.Column("request", sa.Text, nullable=False),
    sa.Column("response", sa.Text, nullable=False),
)
keys = sa.Table(
    "necessity_keys", _meta,
    sa.Column("record", sa.String(32), sa.ForeignKey("necessity_decisions.id"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # patient, provider, claim, code
    sa.Column("value", sa.String(512), nullable=False),
    sa.Index("necessity_keys_lookup", "kind", "value"),
)


@dataclass(frozen=True)
class Record:
    """One logged request and its answer."""

    id: str
    received: str
    operation: str
    status: int
    token: str | None
    policy_id: str
    policy_version: str
    policy_hash: str
    engine_version: str
    decided: str | None
    seconds_decide: float | None
    seconds_total: float | None
    outcome: str | None
    response_id: str | None
    updates: str | None
    request: str
    response: str

    def summary(self) -> dict[str, Any]:
        """Everything but the request and response texts."""
        return {k: v for k, v in self.__dict__.items() if k not in ("request", "response")}


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def instant() -> str:
    """Now as a FHIR instant to the second (the time of decision a response carries)."""
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def new_id() -> str:
    return uuid.uuid4().hex


def url_of(database: str | None) -> str:
    """A SQLAlchemy URL for ``--database``: a ``postgresql://`` URL, a ``sqlite:///`` URL or a file path."""
    if not database:
        database = DEFAULT_FILE
    if database.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + database.split("://", 1)[1]
    if database.startswith("postgresql+psycopg://") or database.startswith("sqlite:///"):
        return database
    if "://" in database:
        raise UserError(f"--database {database}: not a postgresql:// URL nor a SQLite file path: give one of them")
    return "sqlite:///" + str(Path(database).resolve())


def shown(url: str) -> str:
    """The log as it may be printed: a SQLite file by its path, a URL without its password."""
    if url.startswith("sqlite:///"):
        return url.removeprefix("sqlite:///")
    return sa.engine.make_url(url).render_as_string(hide_password=True).replace("postgresql+psycopg://", "postgresql://")


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # a commit is on disk before it returns
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _with(kind: str, values: frozenset[str]) -> sa.Select:
    """The ids of the records with one of these keys of this kind."""
    return sa.select(keys.c.record).where(keys.c.kind == kind, keys.c.value.in_(sorted(values)))


class DecisionLog:
    """The log at a database URL (``url_of``); the tables are created when missing."""

    def __init__(self, database: str | None, *, create: bool = True):
        self.url = url_of(database)
        if self.url.startswith("sqlite:///") and not create:
            path = self.url.removeprefix("sqlite:///")
            if not os.path.exists(path):
                raise UserError(f"--database {database or DEFAULT_FILE}: no such log file: give the file "
                                "`necessity serve` named when it started")
        try:
            self.engine = sa.create_engine(self.url, pool_pre_ping=not self.url.startswith("sqlite"))
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise UserError(f"--database: cannot use {shown(self.url)} ({exc})") from None
        if self.url.startswith("sqlite"):
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            _meta.create_all(self.engine)
        except sa.exc.SQLAlchemyError as exc:
            raise UserError(f"--database {shown(self.url)}: cannot open the decision log "
                            f"({type(exc.orig or exc).__name__}: {str(exc.orig or exc).strip().splitlines()[0]})") from None

    def close(self) -> None:
        self.engine.dispose()

    # -- writing -------------------------------------------------------------

    def append(self, record: Record, found_by: Keys | None = None) -> None:
        """Append a record (and its keys) and commit: when this returns, the record is on disk."""
        with self.engine.begin() as conn:
            conn.execute(records.insert().values(**record.__dict__))
            pairs = found_by.pairs() if found_by is not None else []
            if pairs:
                conn.execute(keys.insert(), [{"record": record.id, "kind": k, "value": v} for k, v in pairs])

    # -- reading -------------------------------------------------------------

    def get(self, record_id: str) -> Record | None:
        with self.engine.connect() as conn:
            row = conn.execute(records.select().where(records.c.id == record_id)).first()
        return Record(**row._mapping) if row is not None else None

    def latest_response(self, response_id: str) -> Record | None:
        """The latest answered submission whose ClaimResponse has this id."""
        q = (records.select().where(records.c.response_id == response_id, records.c.status == 200,
                                    records.c.operation == "submit")
             .order_by(records.c.received.desc(), records.c.id.desc()).limit(1))
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        return Record(**row._mapping) if row is not None else None


    def updated(self, related: frozenset[str], patient: frozenset[str]) -> str | None:
        """The record a PAS Claim Update updates: the latest answered submission whose Claim has one of the
        related Claim's identifiers (and the same patient), or None."""
        if not related:
            return None
        with self.engine.connect() as conn:
            q = (sa.select(records.c.id).where(
                records.c.status == 200, records.c.operation == "submit",
                records.c.id.in_(_with("claim", related)),
                *([records.c.id.in_(_with("patient", patient))] if patient else []))
                .order_by(records.c.received.desc(), records.c.id.desc()).limit(1))
            return conn.execute(q).scalar()

    def inquire(self, found_by: Keys) -> list[Record]:
        """The current answer of each logged request an inquiry matches: same patient member id and provider
        id (and one of the inquiry's item codes, when it names any), not since updated; oldest first."""
        with self.engine.connect() as conn:
            later = sa.select(records.c.updates).where(records.c.updates.is_not(None), records.c.status == 200)
            where = [records.c.status == 200, records.c.operation == "submit",
                     records.c.id.in_(_with("patient", found_by.patient)),
                     records.c.id.in_(_with("provider", found_by.provider)),
                     records.c.id.not_in(later)]
            if found_by.codes:
                where.append(records.c.id.in_(_with("code", found_by.codes)))
            rows = conn.execute(records.select().where(*where).order_by(records.c.received, records.c.id)).all()
        return [Record(**row._mapping) for row in rows]

    def since(self, start: str | None, operation: str = "submit") -> Iterator[Record]:
        """The answered records of an operation received at or after ``start`` (ISO date or time), oldest first."""
        q = records.select().where(records.c.status == 200, records.c.operation == operation)
        if start:
            q = q.where(records.c.received >= start)
        with self.engine.connect() as conn:
            for row in conn.execute(q.order_by(records.c.received, records.c.id)):
                yield Record(**row._mapping)

    def ids(self) -> set[str]:
        with self.engine.connect() as conn:
            return set(conn.execute(sa.select(records.c.id)).scalars())


def record_json(record: Record) -> str:
    """``necessity log show``: a record as JSON, its request and response as the JSON they are."""
    def parsed(text: str) -> Any:
        try:
            return json.loads(text)
        except ValueError:
            return text

    out = {**record.summary(), "request": parsed(record.request), "response": parsed(record.response)}
    return json.dumps(out, indent=2, ensure_ascii=False) + "\n"
