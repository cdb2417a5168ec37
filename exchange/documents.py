"""What documentation a policy needs: the case fields it reads, as a DTR Questionnaire.

The fields come from the policy's own rules (engine.analysing.reads.case_reads: which
case predicates its rule bodies read, and for which criterion) matched with
the atoms each field becomes (facts.footprint): nothing is listed by hand, so
a policy that starts reading ``finding(tumor, _)`` asks for
``clinical.tumor`` the next time the questionnaire is written.
"""

from __future__ import annotations

from engine.deciding.policy import Policy
from engine.analysing.reads import case_reads
from exchange import form
from exchange.tables import Row, table
from facts.footprint import footprints, matches

#: Each criterion is named beside the fields it reads (id, title, citation).
Readers = dict[str, list[tuple[str, str, str]]]


def fields_read(policy: Policy) -> tuple[set[str], Readers]:
    """Every case field the policy's rules read, or the engine's core reads beside them (the study dates it
    settles disagreeing studies with), and the criteria that read each."""
    from engine.deciding import core

    reads = case_reads(policy) + case_reads(list(core.statements_beside_formulas()))
    fields: set[str] = set()
    readers: Readers = {}
    for path, patterns in footprints().items():
        for read in reads:
            if any(matches(p, read.predicate, read.fixed) for p in patterns):
                fields.add(path)
                if read.criterion is not None:
                    c = policy.criterion(read.criterion)
                    entry = (c.id, c.title, c.citation)
                    if entry not in readers.setdefault(path, []):
                        readers[path].append(entry)
    order = {c.id: i for i, c in enumerate(policy.criteria)}
    for entries in readers.values():
        entries.sort(key=lambda e: order.get(e[0], len(order)))
    return fields, readers


def asked(fields: set[str]) -> set[str]:
    """The fields the questionnaire asks: those the Claim does not carry."""
    claim = form.CLAIM_FIELDS
    return {f for f in fields if not any(f == c or f.startswith(c + ".") or f.startswith(c + "[]") for c in claim)}


def questionnaire(policy: Policy) -> dict:
    """The DTR Questionnaire of the documentation ``policy`` reads."""
    fields, readers = fields_read(policy)
    title = policy.header.get("title") or policy.id
    return form.questionnaire(
        url=f"urn:necessity:questionnaire:{policy.id}",
        version=policy.version,
        title=f"Documentation for {title}",
        wanted=asked(fields),
        readers=readers,
        description=(f"The case documentation {policy.id} {policy.version} reads, generated from the policy by "
                     "`necessity fhir questionnaire`. Each item's linkId is the case field's path; the Claim "
                     "carries the request itself (date, setting, services, items). Unanswered means not "
                     "documented; answered false or no entries means documented absent."),
    )


def full_questionnaire() -> dict:
    """The Questionnaire of every field of the case record (the one `fhir bundle` answers)."""
    return form.questionnaire(
        url="urn:necessity:questionnaire:case-record",
        version="1",
        title="Lumbar spine surgery case record",
        wanted=None,
        readers={},
        description="Every field of the case record beyond what the Claim carries (see docs/case-format.md).",
    )


#: The attachment codes of the policies answered in this process, by the policy object they were made for.
_CODES: dict[int, tuple[Policy, dict[str, Row]]] = {}


def attachment_codes(policy: Policy) -> dict[str, Row]:
    """For each criterion: the LOINC attachment code to request its documentation with (attachments.csv).

    The first row whose field is a prefix of a field the criterion reads;
    the row with no field for a criterion that reads none of them.
    """
    held = _CODES.get(id(policy))
    if held is not None and held[0] is policy:
        return held[1]
    _, readers = fields_read(policy)
    rows = table("attachments")
    fallback = general_attachment()
    codes: dict[str, Row] = {}
    for c in policy.criteria:
        paths = sorted(p for p, entries in readers.items() if any(e[0] == c.id for e in entries))
        codes[c.id] = next((r for r in rows if r["field"] and any(p.startswith(r["field"]) for p in paths)), fallback)
    _CODES[id(policy)] = (policy, codes)
    return codes


def attachment_for(field: str) -> Row:
    """The code that asks for the documentation of one case field: the first row whose field is a prefix of it."""
    return next((r for r in table("attachments") if r["field"] and field.startswith(r["field"])), general_attachment())


def general_attachment() -> Row:
    """The code that asks for the medical records as a whole (the row with no field)."""
    return next(r for r in table("attachments") if r["field"] == "")
