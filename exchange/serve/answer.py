"""One request answered: the same steps as ``necessity explain --format fhir``.

``submit`` runs in the child process of ``engine.deciding.limits.limited``
(the time and memory limits of the command line): it reads the Bundle with
``exchange.PAS.read``, decides its case with ``engine.deciding.solver.decide``,
adds what the Bundle held beyond the case (``PAS.noticed``) and writes the
response with ``PAS.response``: the reader and writer the command line hands
to ``explain`` (engine/running/command.py), the same calls in the same
order, so the server's answer is the command line's, byte for byte.  Only a Bundle that
cannot be read becomes an OperationOutcome (PAS spec-35), naming the element.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any

from exchange.serve.keys import Keys, keys_of

SOURCE = "request"  # how messages name the body of a request
DECISION_TIME_ENV = "NECESSITY_DECISION_TIME"  # the time of decision the response writer reads (explain's too)


@dataclass(frozen=True)
class Answer:
    """What the server sends back and what the log keeps of it (plain values: it crosses a pipe)."""

    status: int  # 200: a PAS response Bundle; 400: an OperationOutcome
    body: str
    keys: Keys = Keys()
    outcome: str | None = None  # the decision's outcome
    response_id: str | None = None  # the ClaimResponse's id
    seconds: float = 0.0  # reading, deciding and writing, in the child


def outcome_of(problems: list[tuple[str, str]], code: str = "invalid") -> str:
    """An OperationOutcome with one issue per problem, the element path as its expression."""
    issues = []
    for where, what in problems or [("", "the request cannot be read")]:
        issue: dict[str, Any] = {"severity": "error", "code": code, "diagnostics": f"{where}: {what}" if where else what}
        if where.startswith("Bundle"):
            issue["expression"] = [where]
        issues.append(issue)
    return json.dumps({"resourceType": "OperationOutcome", "issue": issues}, indent=2, ensure_ascii=False) + "\n"


def unreadable(problems: list[tuple[str, str]]) -> Answer:
    return Answer(400, outcome_of(problems))


def problems_of(exc: Exception) -> list[tuple[str, str]]:
    """The (element path, message) problems of a reading error."""
    from exchange.bundle import BundleError
    from facts.load import CaseFileError

    if isinstance(exc, BundleError):
        return list(exc.problems)
    if isinstance(exc, CaseFileError):
        return [(p.path or "Bundle", p.message) for p in exc.problems]
    return [("Bundle", str(exc).removeprefix(f"{SOURCE}: "))]


def submit(text: str, policy: Any, decided: str | None = None) -> Answer:
    """The answer to a ``Claim/$submit`` body under ``policy`` (run it inside ``limited``).

    ``decided``, the time of decision (a FHIR instant), is given to the response writer as
    ``explain`` is given it: by ``$NECESSITY_DECISION_TIME``; set here only in the child process
    ``limited`` forks, so ``explain`` with the logged time writes the same bytes.
    """
    from engine.deciding.errors import UserError
    from engine.deciding.solver import decide
    from exchange import PAS
    from facts.load import CaseFileError

    started = time.perf_counter()
    if decided is not None:
        os.environ[DECISION_TIME_ENV] = decided
    try:
        request = PAS.read(text, SOURCE)
    except (UserError, CaseFileError) as exc:
        return unreadable(problems_of(exc))
    except Exception as exc:  # noqa: BLE001 - a body the reader fails on is still one it cannot read (as batch says)
        return unreadable([("Bundle", f"this request could not be read ({type(exc).__name__}): check it is a PAS "
                                      "request Bundle; if it is one, please report it")])
    case = request.case
    # as explain does (engine/running/command.py): a request the policy decides nothing of has no case record
    decision = decide(policy, case) if case is not None else PAS.undecided(request, policy)
    decision = PAS.noticed(decision, request)
    body = PAS.response(decision, request, case, policy)
    resource = json.loads(body)["entry"][0]["resource"]
    return Answer(200, body, keys_of(json.loads(text)), decision.outcome, resource.get("id"),
                  time.perf_counter() - started)


def inquiry_keys(text: str) -> Keys | Answer:
    """The keys of a ``Claim/$inquire`` body, or the OperationOutcome of one that cannot be read."""
    from exchange.bundle import BundleError, validate

    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return unreadable([(f"line {exc.lineno}", f"not valid JSON: {exc.msg} (column {exc.colno}): fix it there")])
    except RecursionError:
        return unreadable([("Bundle", "nested too deeply to be a FHIR Bundle: check its brackets")])
    try:
        bundle = validate(data, SOURCE)
    except BundleError as exc:
        return unreadable(list(exc.problems))
    first = bundle.entry[0].resource if bundle.entry else None
    if first is None or first.get_resource_type() != "Claim":
        return unreadable([("Bundle.entry[0].resource", "a PAS inquiry Bundle starts with its Claim: put the Claim first")])
    keys = keys_of(data)
    if not keys.patient:
        return unreadable([("Bundle.entry[0].resource.patient",
                            "an inquiry names the patient by member identifier: include the Patient with its identifier")])
    if not keys.provider:
        return unreadable([("Bundle.entry[0].resource.provider", "an inquiry names the provider by identifier (NPI): "
                            "include the provider's Organization or Practitioner with its identifier")])
    return keys
