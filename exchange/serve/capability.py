"""``GET /metadata``: the CapabilityStatement of the server, naming the PAS profiles and operations it serves."""

from __future__ import annotations

from typing import Any

PAS = "http://hl7.org/fhir/us/davinci-pas"
DTR = "http://hl7.org/fhir/us/davinci-dtr"


def _profile(name: str) -> str:
    return f"{PAS}/StructureDefinition/{name}"


def capability_statement(policy: Any, engine_version: str, date: str, secured: bool) -> dict[str, Any]:
    """What this server does, for the policy it decides under (the same document for the same arguments)."""
    security: dict[str, Any] = {
        "cors": False,
        "description": ("Bearer tokens (RFC 6750) from the --tokens file; /metadata needs none." if secured
                        else "No tokens: the server listens on the loopback interface only."),
    }
    if secured:
        security["service"] = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                            "code": "OAuth", "display": "OAuth"}],
                                "text": "Bearer token"}]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": date,
        "publisher": "necessity",
        "kind": "instance",
        "instantiates": [f"{PAS}/CapabilityStatement/IntermediaryCapabilities"],
        "software": {"name": "necessity", "version": engine_version},
        "implementation": {"description": f"Prior authorization decided under {policy.id} {policy.version} "
                                          f"(effective {policy.effective}), explained from its criteria"},
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [{
            "mode": "server",
            "security": security,
            "resource": [
                {
                    "type": "Claim",
                    "supportedProfile": [_profile("profile-claim"), _profile("profile-claim-update"),
                                         _profile("profile-claim-inquiry")],
                    "operation": [
                        {"name": "submit", "definition": f"{PAS}/OperationDefinition/Claim-submit",
                         "documentation": "A PAS Request Bundle in (profile-pas-request-bundle); a PAS Response "
                                          "Bundle out (profile-pas-response-bundle). A PAS Claim Update "
                                          "(Claim.related.claim) is decided again and linked to the request it updates."},
                        {"name": "inquire", "definition": f"{PAS}/OperationDefinition/Claim-inquiry",
                         "documentation": "A PAS Inquiry Request Bundle in; a Parameters of the current response "
                                          "Bundle of each request matched on the patient's member identifier and "
                                          "the provider's identifier."},
                    ],
                },
                {
                    "type": "ClaimResponse",
                    "supportedProfile": [_profile("profile-claimresponse")],
                    "interaction": [{"code": "read"}],
                },
                {
                    "type": "Questionnaire",
                    "supportedProfile": [f"{DTR}/StructureDefinition/dtr-std-questionnaire"],
                    "interaction": [{"code": "read"}],
                },
            ],
        }],
    }
