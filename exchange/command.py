"""``necessity fhir questionnaire`` and ``necessity fhir bundle``: the DTR Questionnaire of a policy, a PAS
request Bundle of a case file, validated by the FHIR R4B models and written whole."""

from __future__ import annotations

from typing import Any


def questionnaire(console: Any, policy_ref: str, policies_dir: str | None, *, all_fields: bool, out_path: str) -> int:
    """The questionnaire of what the policy reads (``all_fields``: of every case field), to ``out_path``."""
    from engine.deciding import load
    from engine.presenting import refuse_inputs
    from exchange.bundle import dumps, validate
    from exchange.documents import full_questionnaire
    from exchange.documents import questionnaire as of_policy

    policy = None if all_fields else load(policy_ref, policies_dir)
    if out_path != "-" and policy is not None:
        refuse_inputs(out_path, "--out", [(policy.folder, "policy")], written="the questionnaire")
    resource = full_questionnaire() if policy is None else of_policy(policy)
    console.write(out_path, dumps(validate(resource, "questionnaire", "Questionnaire")))
    return 0


def bundle(console: Any, case_file: str, *, out_path: str) -> int:
    """The PAS request Bundle of a case file, to ``out_path``."""
    from engine.presenting import refuse_inputs
    from exchange.bundle import dumps, validate
    from exchange.request import to_bundle
    from facts import load_case

    if out_path != "-":
        refuse_inputs(out_path, "--out", [(case_file, "case file")], written="the Bundle")
    case = load_case(case_file)
    console.write(out_path, dumps(validate(to_bundle(case), case_file)))
    return 0
