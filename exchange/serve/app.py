"""The HTTP API (Starlette): PAS ``Claim/$submit`` and ``Claim/$inquire``, reads, and the metadata.

Every POST is appended to the decision log and committed before its answer
is sent (exchange.serve.log); a response the log could not keep is never
sent (503).  Deciding happens in ``workers`` long-lived decision processes
(exchange.serve.workers), forked when the server starts with the policy
loaded, each request within the time and memory limits of the command line
(engine.deciding.limits); a worker a request stopped is replaced.  The
server's own log (stderr) has one line a request: method, route, status,
milliseconds, the token's id and the record's id; never a token, never case
content, never a traceback.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from engine.deciding.limits import memory_limit
from exchange.serve import log as decision_log
from exchange.serve.answer import DECISION_TIME_ENV, Answer, inquiry_keys, outcome_of, submit
from exchange.serve.auth import Token, find, read_tokens
from exchange.serve.keys import Keys
from exchange.serve.workers import Workers

FHIR_JSON = "application/fhir+json"
RECORD_HEADER = "X-Necessity-Record"  # the id of the log record of a POST (`necessity log show ID`)
logger = logging.getLogger("necessity.serve")
WARM_TYPES = ("Observation", "QuestionnaireResponse", "Condition", "Procedure", "DocumentReference", "Practitioner",
              "PractitionerRole", "Organization", "Coverage", "Patient", "Encounter", "Location", "ServiceRequest",
              "CommunicationRequest", "OperationOutcome", "HumanName", "Quantity")


@dataclass(frozen=True)
class Settings:
    """What ``necessity serve`` was given."""

    policy_ref: str = "reference"
    policies_dir: str | None = None
    database: str | None = None
    tokens: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    timeout: float = 30.0
    workers: int = 0  # decision processes: decisions at once (0: two per core)
    tls_cert: str | None = None
    tls_key: str | None = None
    insecure_listen: bool = False


class Refused(Exception):
    """A request answered with an OperationOutcome before any work: status, issue code, message."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.headers = status, code, headers or {}


def fhir(body: str | dict, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    text = body if isinstance(body, str) else json.dumps(body, indent=2, ensure_ascii=False) + "\n"
    return Response(text.encode("utf-8"), status_code=status, media_type=FHIR_JSON, headers=headers)


def refusal(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return fhir(outcome_of([("", message)], code), status, headers)


def policy_hash(policy: Any) -> str:
    """SHA-256 of the policy's text: its files, by name, in order."""
    import hashlib

    h = hashlib.sha256()
    for path in sorted(policy.files, key=lambda p: p.name):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def engine_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("necessity")
    except PackageNotFoundError:
        return "unknown"


def warm_bundle() -> str:
    """The small request the server warms up on, as Bundle text (made without the policy)."""
    from exchange.bundle import dumps, validate
    from exchange.claim import to_bundle
    from facts.load import parse_case

    case = parse_case(json.dumps({"case": "warm-up", "request": {"date": "2025-01-02", "levels": [
        {"level": "L4-L5", "decompression": "laminectomy", "fusion": {"approaches": ["posterolateral"]}}]}}),
        "warm-up", fmt="json")
    return dumps(validate(to_bundle(case), "warm-up"))


def warm_up(policy: Any, *, timeout: float | None, memory: int | None) -> None:
    """Decide one small request in this process, so that what the first decision builds (model classes,
    tables) is built once here, and every decision process forked from it starts with it.

    The policy is the user's: it is first tried on that request in a forked child within the limits of a
    decision (``timeout``, ``memory``), so that a policy that never stops grounding fails the start with
    one line (``UserError``, exit 2) instead of holding it for ever.  Deciding is deterministic: what
    finished there finishes here.
    """
    from engine.deciding.core import statements
    from engine.deciding.errors import UserError
    from engine.deciding.limits import ChildError, Stopped, limited
    from exchange import PAS

    # First what needs no grounding of the policy (the reader's and the writer's models, the engine's core),
    # built here so that the try below, and every decision process, start with it: the try is then one
    # warm decision, well within any --timeout.
    text = warm_bundle()
    request = PAS.read(text, "warm-up")
    PAS.response(PAS.undecided(request, policy), request, request.case, policy)
    statements()
    where = f"--policy {policy.folder}: the warm-up decision (a small request, decided before the server listens)"
    try:
        for event in limited(lambda: [submit(text, policy).status], timeout=timeout, memory=memory):
            if isinstance(event, Stopped):
                raise UserError(f"{where} {event.detail.removeprefix('stopped: ')}: a request would be stopped "
                                "the same way; check the policy for rules that never stop grounding "
                                "(necessity lint)")
    except ChildError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "failed"
        raise UserError(f"{where} failed: {first.removeprefix('error: ')}") from None
    submit(text, policy)
    from fhir.resources.R4B import get_fhir_model_class

    for name in WARM_TYPES:  # the models of what requests hold beyond the warm-up's Bundle
        get_fhir_model_class(name)


def decide_in_worker(policy: Any, payload: tuple[str, str]) -> Answer:
    """A ``Claim/$submit`` body decided at a time of decision, in a decision process."""
    text, decided = payload
    return submit(text, policy, decided)


class Service:
    """The state the routes share: the policy, the log, the tokens, the limits."""

    def __init__(self, settings: Settings, *, warm: bool = True):
        from engine.deciding.policy import load
        from facts.load import MAX_BYTES

        self.settings = settings
        self.policy = load(settings.policy_ref, settings.policies_dir)
        memory = memory_limit()
        if warm:  # before the log is opened: a server that does not start leaves no log
            warm_up(self.policy, timeout=settings.timeout, memory=memory)
        self.policy_hash = policy_hash(self.policy)
        self.engine_version = engine_version()
        self.tokens: tuple[Token, ...] | None = read_tokens(settings.tokens) if settings.tokens else None
        self.max_bytes = MAX_BYTES  # the command line's limit on a case file (facts.load)
        self.log = decision_log.DecisionLog(settings.database)
        self.started = decision_log.now()
        workers = settings.workers or 2 * (os.cpu_count() or 1)
        self.deciding = anyio.CapacityLimiter(workers)
        self.questionnaires: dict[str, str] = {}
        #: a time of decision fixed as explain's is, by $NECESSITY_DECISION_TIME (for tests: same bytes as explain)
        self.fixed_time = os.environ.get(DECISION_TIME_ENV) or None
        # forked last: each worker starts with the policy loaded and warm
        self.workers = Workers(functools.partial(decide_in_worker, self.policy), workers,
                               timeout=settings.timeout, memory=memory)
        self.workers.wait_ready()  # before the server listens (a request would wait for them all the same)

    def close(self) -> None:
        self.workers.close()
        self.log.close()

    # -- the parts of a request ---------------------------------------------

    def caller(self, request: Request, scope: str) -> Token | None:
        """The token of the request, if it may do ``scope``; None when the server takes no tokens."""
        if self.tokens is None:
            return None
        token = find(self.tokens, request.headers.get("authorization"))
        if token is None:
            raise Refused(401, "login", "a bearer token is required: send 'Authorization: Bearer TOKEN'",
                          {"WWW-Authenticate": 'Bearer realm="necessity"'})
        if scope not in token.scopes:
            raise Refused(403, "forbidden", f"this token may not {scope}: its scopes are {', '.join(sorted(token.scopes))}")
        return token

    async def body(self, request: Request) -> str:
        """The body as text, refused (413) past the limit before it is all read, (400) when not UTF-8."""
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise Refused(413, "too-costly", f"the request is over {self.max_bytes} bytes; a PAS request is a few "
                          "kilobytes: send the documentation a request needs")
        size, chunks = 0, []
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_bytes:
                raise Refused(413, "too-costly", f"the request is over {self.max_bytes} bytes; a PAS request is a "
                              "few kilobytes: send the documentation a request needs")
            chunks.append(chunk)
        try:
            return b"".join(chunks).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise Refused(400, "structure", f"the body is not UTF-8 text (byte {exc.start}): send FHIR JSON in UTF-8")

    def record(self, operation: str, received: str, started: float, token: Token | None, request_text: str,
               status: int, response: str, **fields: Any) -> decision_log.Record:
        p = self.policy
        return decision_log.Record(
            id=decision_log.new_id(), received=received, operation=operation, status=status,
            token=token.id if token else None, policy_id=p.id, policy_version=p.version,
            policy_hash=self.policy_hash, engine_version=self.engine_version,
            decided=fields.get("decided"), seconds_decide=fields.get("seconds_decide"),
            seconds_total=round(time.perf_counter() - started, 6), outcome=fields.get("outcome"),
            response_id=fields.get("response_id"), updates=fields.get("updates"),
            request=request_text, response=response)

    async def keep(self, record: decision_log.Record, found_by: Keys | None = None) -> None:
        """Append and commit the record (in a thread: the commit waits for the disk); an answer the log
        could not keep is not sent (503)."""
        import sqlalchemy

        try:
            await anyio.to_thread.run_sync(lambda: self.log.append(record, found_by))
        except sqlalchemy.exc.SQLAlchemyError as exc:
            logger.error("the decision log could not keep record %s (%s)", record.id, type(exc).__name__)
            raise Refused(503, "transient", "the decision log could not keep the answer, so it is not sent: "
                          "try again") from None

    def decide(self, text: str, decided: str) -> Answer:
        """``answer.submit`` in a decision process (exchange.serve.workers), within --timeout and the memory limit."""
        from engine.deciding.limits import ChildError, Stopped

        try:
            answer = self.workers.run((text, decided))
            if isinstance(answer, Stopped):
                code = "timeout" if answer.reason == "time" else "exception"
                return Answer(503, outcome_of([("", f"not decided: {answer.detail}; try again later")], code))
        except ChildError as exc:
            first = str(exc).splitlines()[0] if str(exc) else ""
            if first.startswith("error:"):  # a UserError of the engine: said as the command line says it
                return Answer(400, outcome_of([("Bundle", first.removeprefix("error: "))], "processing"))
            return Answer(500, outcome_of([("", "internal error while deciding: the request is in the decision "
                                                "log; please report its record id")], "exception"))
        return answer


# ---------------------------------------------------------------------------
# routes
# ---------------------------------------------------------------------------


def _service(request: Request) -> Service:
    return request.app.state.service


async def claim_submit(request: Request) -> Response:
    s = _service(request)
    started, received = time.perf_counter(), decision_log.now()
    token = s.caller(request, "submit")
    text = await s.body(request)
    decided = s.fixed_time or decision_log.instant()
    answer = await anyio.to_thread.run_sync(s.decide, text, decided, limiter=s.deciding)
    updates = None
    if answer.status == 200 and answer.keys.related:
        updates = await anyio.to_thread.run_sync(lambda: s.log.updated(answer.keys.related, answer.keys.patient))
    record = s.record("submit", received, started, token, text, answer.status, answer.body, decided=decided,
                      seconds_decide=round(answer.seconds, 6), outcome=answer.outcome,
                      response_id=answer.response_id, updates=updates)
    await s.keep(record, answer.keys if answer.status == 200 else None)
    request.state.record = record.id
    return fhir(answer.body, answer.status, {RECORD_HEADER: record.id})


async def claim_inquire(request: Request) -> Response:
    s = _service(request)
    started, received = time.perf_counter(), decision_log.now()
    token = s.caller(request, "inquire")
    text = await s.body(request)
    found = await anyio.to_thread.run_sync(inquiry_keys, text, limiter=s.deciding)
    if isinstance(found, Answer):
        status, body, found_by = found.status, found.body, None
    else:
        matches = await anyio.to_thread.run_sync(lambda: s.log.inquire(found))
        parameters = {"resourceType": "Parameters",
                      "parameter": [{"name": "responseBundle", "resource": json.loads(m.response)} for m in matches]}
        status, body, found_by = 200, json.dumps(parameters, indent=2, ensure_ascii=False) + "\n", found
    record = s.record("inquire", received, started, token, text, status, body)
    await s.keep(record, found_by)
    request.state.record = record.id
    return fhir(body, status, {RECORD_HEADER: record.id})


async def claim_response(request: Request) -> Response:
    s = _service(request)
    s.caller(request, "read")
    rid = request.path_params["id"]
    found = await anyio.to_thread.run_sync(lambda: s.log.latest_response(rid))
    if found is None:
        return refusal(404, "not-found", f"no ClaimResponse {rid}: it is the id of a ClaimResponse a $submit returned")
    return fhir(json.loads(found.response)["entry"][0]["resource"])


async def questionnaire(request: Request) -> Response:
    from engine.deciding.policy import load, shipped_policies
    from exchange.bundle import dumps, validate
    from exchange.documents import questionnaire as dtr_questionnaire

    s = _service(request)
    s.caller(request, "read")
    name = request.path_params["policy"]
    if name not in s.questionnaires:
        shipped = shipped_policies(s.settings.policies_dir)
        if name not in shipped:
            return refusal(404, "not-found", f"no policy {name}: the policies are {', '.join(shipped)}")
        policy = load(name, s.settings.policies_dir)
        s.questionnaires[name] = dumps(validate(dtr_questionnaire(policy), "questionnaire", "Questionnaire"))
    return fhir(s.questionnaires[name])


async def metadata(request: Request) -> Response:
    from exchange.serve.capability import capability_statement

    s = _service(request)
    return fhir(capability_statement(s.policy, s.engine_version, s.started[:10], s.tokens is not None))


# ---------------------------------------------------------------------------
# errors and the server's own log
# ---------------------------------------------------------------------------


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    return refusal(exc.status, exc.code, str(exc), exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not-found", 405: "not-supported"}.get(exc.status_code, "processing")
    what = {404: f"no such endpoint {request.url.path}: see GET /metadata",
            405: f"{request.method} is not supported on {request.url.path}: see GET /metadata"}
    return refusal(exc.status_code, code, what.get(exc.status_code, str(exc.detail)), dict(exc.headers or {}))


async def _internal(request: Request, exc: Exception) -> Response:
    logger.error("internal error %s on %s %s", type(exc).__name__, request.method, _route(request))
    return refusal(500, "exception", "internal error: the server could not answer; nothing was decided")


def _route(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", None) or "(no route)"


class _AccessLog:
    """One line a request on the server's log: never the path's parameters, a token or the body."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), {"code": 0}

        async def sending(message: dict) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception:  # noqa: BLE001 - answered by _internal already; re-raised only for servers to log it
            pass  # and this server logs no traceback (it may quote case content): _internal logged its type
        finally:
            route = getattr(scope.get("route"), "path", None) or "(no route)"
            state = scope.get("state") or {}
            logger.info("%s %s %s %.1f ms%s", scope["method"], route, status["code"],
                        1000 * (time.perf_counter() - started),
                        f" record {state['record']}" if "record" in state else "")


def create_app(service: Service) -> Any:
    routes = [
        Route("/Claim/$submit", claim_submit, methods=["POST"]),
        Route("/Claim/$inquire", claim_inquire, methods=["POST"]),
        Route("/ClaimResponse/{id}", claim_response, methods=["GET"]),
        Route("/Questionnaire/{policy}", questionnaire, methods=["GET"]),
        Route("/metadata", metadata, methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers={Refused: _refused, HTTPException: _http_error,
                                                       Exception: _internal})
    app.state.service = service
    return _AccessLog(app)
