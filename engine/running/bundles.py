"""What running needs of a reader and writer of FHIR PAS Bundles, without importing one.

``engine.running`` and ``exchange/`` sit side by side above the engine and never
import each other: the command line hands ``exchange.PAS`` (which has these
methods) to ``explain`` and ``batch``.  Without one, every input is a case record
and there is no FHIR output.
"""

from __future__ import annotations

from typing import Any, Protocol


class Bundles(Protocol):
    def looks_like_bundle(self, text: str) -> bool:
        """Whether a JSON document is a FHIR resource (it names its resourceType) rather than a case record."""

    def read(self, text: str, source: str) -> Any:
        """The PAS request in ``text``: its ``.case`` (a ``facts.model.Case``) and ``.warnings``."""

    def noticed(self, decision: Any, request: Any) -> Any:
        """The decision with what the request held beyond its case record as notices."""

    def response(self, decision: Any, request: Any, case: Any, policy: Any, *, one_line: bool = False) -> str:
        """The PAS response Bundle for the decision, as JSON text (``request`` None: the case's own)."""
