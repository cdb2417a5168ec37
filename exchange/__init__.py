"""FHIR prior authorization: Da Vinci PAS requests and responses, DTR questionnaires.

Typed at the edge, plain inside: a request Bundle is parsed with the FHIR R4B
models (fhir.resources) and turned into the same ``facts.model.Case`` a case
file gives; the engine never sees FHIR.  The response is built from the same
``Decision`` the JSON renderer reads.  Every code mapping is a row in
``exchange/data/*.csv`` (docs/fhir.md).  The engine does not import this
package; the CLI imports it when a command needs it, and hands ``PAS``
to ``engine.running`` for ``explain`` and ``batch``.
"""

from __future__ import annotations

from typing import Any


def looks_like_bundle(text: str) -> bool:
    """Whether a JSON document is a FHIR resource (it names its resourceType) rather than a case record."""
    head = text.lstrip("\ufeff \t\r\n")
    if not head.startswith("{"):
        return False
    import json

    try:
        data = json.loads(head)
    except (ValueError, RecursionError):
        return False  # the case file reader says what is wrong with it
    return isinstance(data, dict) and "resourceType" in data


def response_text(decision: Any, request: Any, policy: Any, *, one_line: bool = False) -> str:
    """The PAS response Bundle for a decision under ``policy``, validated by the R4B models, as JSON text."""
    from exchange.bundle import dumps, line, validate
    from exchange.response import to_response

    model = validate(to_response(decision, request, policy), f"response to {decision.case}")
    return line(model) if one_line else dumps(model)


class Pas:
    """This package's reader and writer of PAS Bundles, as ``engine.running`` asks for them
    (``engine/running/bundles.py``): the command line hands ``PAS`` to ``explain`` and ``batch``."""

    @staticmethod
    def looks_like_bundle(text: str) -> bool:
        return looks_like_bundle(text)

    @staticmethod
    def read(text: str, source: str) -> Any:
        from exchange.request import read_text

        return read_text(text, source)

    @staticmethod
    def noticed(decision: Any, request: Any) -> Any:
        from exchange.request import noticed

        return noticed(decision, request)

    @staticmethod
    def response(decision: Any, request: Any, case: Any, policy: Any, *, one_line: bool = False) -> str:
        from exchange.request import for_case

        return response_text(decision, request or for_case(case), policy, one_line=one_line)


PAS = Pas()
