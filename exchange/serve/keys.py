"""What a PAS request or inquiry is found by: the identifiers the IG matches on.

Read from the raw Bundle JSON (already validated by the reader for a
submission), never decided upon: these keys only index the decision log.

- An inquiry matches a logged request on the patient's member identifier AND
  the provider's identifier (PAS spec-53: "a match on the patient member or
  subscriber id (identifier on the Claim.patient) plus the ordering and/or
  rendering provider identifier, i.e., the provider's NPI"); the inquiry's
  own Claim.identifier is the inquiry's trace number and is not searched on.
  Items the inquiry names (other than ``not-applicable``) narrow the match to
  requests with one of those codes.
- An update (a PAS Claim Update) names the Claim it updates in
  ``Claim.related.claim``, included in the Bundle (spec-65); it is linked to
  the logged request whose Claim has one of that Claim's identifiers.

A key is ``system|value`` (``|value`` without a system).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MEMBER_TYPE = "MB"  # Patient.identifier.type of the member id (v2-0203)
NOT_APPLICABLE = "not-applicable"


@dataclass(frozen=True)
class Keys:
    """The identifiers of one request (or inquiry), as sets of ``system|value``."""

    patient: frozenset[str] = frozenset()
    provider: frozenset[str] = frozenset()
    claim: frozenset[str] = frozenset()
    related: frozenset[str] = frozenset()  # the identifiers of the Claim an update updates
    codes: frozenset[str] = frozenset()

    def pairs(self) -> list[tuple[str, str]]:
        """(kind, key) rows for the log's index of keys (the related Claim is the log's link, not a key)."""
        return sorted({(kind, key) for kind in ("patient", "provider", "claim", "code")
                       for key in getattr(self, "codes" if kind == "code" else kind)})


def _key(identifier: Any) -> str | None:
    if not isinstance(identifier, dict) or not isinstance(identifier.get("value"), str):
        return None
    system = identifier.get("system")
    return f"{system if isinstance(system, str) else ''}|{identifier['value']}"


def _identifiers(resource: Any) -> list[dict]:
    found = resource.get("identifier") if isinstance(resource, dict) else None
    if isinstance(found, dict):
        return [found]
    return [i for i in found if isinstance(i, dict)] if isinstance(found, list) else []


def _resolve(entries: list[dict], reference: Any) -> dict | None:
    """The resource a Reference points to inside the Bundle: by fullUrl, or by ``Type/id``."""
    if not isinstance(reference, dict) or not isinstance(reference.get("reference"), str):
        return None
    ref = reference["reference"]
    for entry in entries:
        url, resource = entry.get("fullUrl"), entry.get("resource")
        if not isinstance(resource, dict):
            continue
        if url == ref or (isinstance(url, str) and url.endswith("/" + ref)):
            return resource
        if ref == f"{resource.get('resourceType')}/{resource.get('id')}":
            return resource
    return None


def _of(entries: list[dict], reference: Any, member_only: bool = False) -> set[str]:
    """The keys of a referenced resource (and of the reference's own identifier)."""
    keys: set[str] = set()
    if isinstance(reference, dict) and (k := _key(reference.get("identifier"))):
        keys.add(k)
    resource = _resolve(entries, reference)
    identifiers = _identifiers(resource) if resource else []
    if member_only:
        members = [i for i in identifiers if any(
            c.get("code") == MEMBER_TYPE for c in ((i.get("type") or {}).get("coding") or []) if isinstance(c, dict))]
        identifiers = members or identifiers
    keys.update(k for i in identifiers if (k := _key(i)))
    return keys


def _codes(claim: dict) -> set[str]:
    out = set()
    for item in claim.get("item") or []:
        for coding in ((item or {}).get("productOrService") or {}).get("coding") or []:
            if isinstance(coding, dict) and isinstance(coding.get("code"), str) and coding["code"] != NOT_APPLICABLE:
                out.add(f"{coding.get('system') or ''}|{coding['code']}")
    return out


def keys_of(bundle: Any) -> Keys:
    """The keys of the first Claim of a request or inquiry Bundle (empty for anything else)."""
    entries = [e for e in (bundle.get("entry") or []) if isinstance(e, dict)] if isinstance(bundle, dict) else []
    claim = entries[0].get("resource") if entries else None
    if not isinstance(claim, dict) or claim.get("resourceType") != "Claim":
        return Keys()
    providers = _of(entries, claim.get("provider"))
    for member in claim.get("careTeam") or []:
        if isinstance(member, dict):
            providers |= _of(entries, member.get("provider"))
    related: set[str] = set()
    for link in claim.get("related") or []:
        if isinstance(link, dict):
            related |= _of(entries, link.get("claim"))
    return Keys(
        patient=frozenset(_of(entries, claim.get("patient"), member_only=True)),
        provider=frozenset(providers),
        claim=frozenset(k for i in _identifiers(claim) if (k := _key(i))),
        related=frozenset(related),
        codes=frozenset(_codes(claim)),
    )
