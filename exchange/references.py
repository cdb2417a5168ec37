"""References inside a Bundle resolved as FHIR R4 says (Bundle, "Resolving references in Bundles").

* an absolute reference (``http://example.org/fhir/Patient/x``, ``urn:uuid:...``)
  is the entry whose ``fullUrl`` is that text;
* a relative reference (``Patient/x``) made from an entry whose fullUrl is a
  RESTful URL (``http://example.org/fhir/Claim/c``) is that URL's base joined
  with the reference (``http://example.org/fhir/Patient/x``);
* failing that, a relative reference is the one entry whose resource has that
  type and id (what the IG's examples rely on when the referring entry's
  fullUrl is not RESTful), and only when exactly one entry does.
"""

from __future__ import annotations

import re
from typing import Iterable

#: A RESTful URL: the base, the resource type, the id (and an optional _history/version).
RESTFUL = re.compile(r"^(?P<base>(?:https?)://.+?)/(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]{1,64})?$")
RELATIVE = re.compile(r"^(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]{1,64})?$")


def is_absolute(reference: str) -> bool:
    return reference.startswith(("urn:uuid:", "urn:oid:")) or "://" in reference


def resolve(reference: str | None, referrer: str | None, entries: Iterable[tuple[str | None, str, str | None]]) -> str | None:
    """The fullUrl of the entry a reference made from the entry ``referrer`` (its fullUrl) points at, or None.

    ``entries`` gives each entry's fullUrl, resource type and resource id.
    """
    if not reference or reference.startswith("#"):
        return None
    entries = list(entries)
    urls = [url for url, _, _ in entries if url]
    if is_absolute(reference):
        return reference if reference in urls else None
    relative = RELATIVE.match(reference)
    if relative is None:
        return None
    restful = RESTFUL.match(referrer or "")
    if restful is not None:
        absolute = f"{restful['base']}/{reference}"
        if absolute in urls:
            return absolute
    matching = [url for url, kind, rid in entries if url and kind == relative["type"] and rid == relative["id"]]
    return matching[0] if len(matching) == 1 else None
