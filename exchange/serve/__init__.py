"""``necessity serve``: the policy engine behind a Da Vinci PAS prior-authorization API (docs/serve.md).

- ``run.serve``: where it may listen, then uvicorn with the app of ``app``.
- ``app``: the routes (``Claim/$submit``, ``Claim/$inquire``, ``ClaimResponse``,
  ``Questionnaire``, ``metadata``), tokens (``auth``), limits.
- ``answer``: a request answered by the calls ``explain --format fhir`` makes.
- ``log``: the decision log (SQLite or PostgreSQL), ``keys``: what an inquiry
  or an update is matched on, ``library``: ``necessity log show|export``.
"""
