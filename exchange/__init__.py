"""FHIR prior authorization: Da Vinci PAS requests and responses, DTR questionnaires.

Typed at the edge, plain inside: a request Bundle is parsed with the FHIR R4B
models (fhir.resources) and turned into the same ``facts.model.Case`` a case
file gives; the engine never sees FHIR.  The response is built from the same
``Decision`` the JSON renderer reads.  Every code mapping is a row in
``exchange/data/*.csv`` (docs/fhir.md).  The engine does not import this
package; the CLI imports it when a command needs it.
"""

from __future__ import annotations

from typing import Any


def looks_like_bundle(text: str) -> bool:
    """Whether a JSON document is a FHIR resource (it names its resourceType) rather than a case record."""
    head = text.lstrip("\ufeff \t\r\n")
    if not head.startswith("{"):
        return False
    from exchange.strict import loads

    try:
        data = loads(head)
    except (ValueError, RecursionError):
        return False  # the case file reader says what is wrong with it
    return isinstance(data, dict) and "resourceType" in data


def response_text(decision: Any, request: Any, policy: Any, *, one_line: bool = False) -> str:
    """The PAS response Bundle for a decision under ``policy``, validated by the R4B models, as JSON text."""
    from exchange.bundle import dumps, line, validate
    from exchange.response import to_response

    model = validate(to_response(decision, request, policy), f"response to {decision.case}")
    return line(model) if one_line else dumps(model)
