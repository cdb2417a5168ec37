"""What a reviewer needs around a decision that the decision itself does not hold.

The request's identifiers (member, birth date, provider, facility, service
codes, service date) when the case record has them, the time the decision was
made (given, never read from the clock here, so that the same input gives the
same bytes), the policy's appeal-rights text from its header, and
every note the case record carries, an attested one marked as such.  Nothing
here decides: it is read from the case record and the policy and shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: A note that starts so marks a fact entered from an assessment's conclusion (docs/case-format.md).
ATTESTED = "attested"


@dataclass(frozen=True)
class Code:
    system: str
    code: str
    display: str = ""


@dataclass(frozen=True)
class Note:
    where: str  # the record's path to the entry, in words: "conservative care, episode 1"
    text: str

    @property
    def attested(self) -> bool:
        return self.text.strip().lower().startswith(ATTESTED)


@dataclass(frozen=True)
class Context:
    request_date: str = ""
    member_id: str = ""
    member_name: str = ""
    birth_date: str = ""
    provider: str = ""
    facility: str = ""
    service_date: str = ""
    codes: tuple[Code, ...] = ()
    decided_at: str = ""
    appeal_rights: str = ""
    notes: tuple[Note, ...] = ()

    @property
    def identifiers(self) -> list[tuple[str, str]]:
        """(label, value) for every identifier the record has, in a fixed order."""
        pairs = [("Member", self.member_name), ("Member id", self.member_id), ("Date of birth", self.birth_date),
                 ("Provider", self.provider), ("Facility", self.facility), ("Request date", self.request_date),
                 ("Service date", self.service_date), ("Decision time", self.decided_at)]
        return [(k, v) for k, v in pairs if v]

    @property
    def code_text(self) -> list[str]:
        return [f"{c.system} {c.code}" + (f" ({c.display})" if c.display else "") for c in self.codes]


def _text(value: Any) -> str:
    if value is None:
        return ""
    iso = getattr(value, "isoformat", None)
    return iso() if callable(iso) else str(getattr(value, "value", value))


def _date(value: Any) -> str:
    """A case date (day or month precision) as the record wrote it."""
    if value is None:
        return ""
    if hasattr(value, "precision"):
        if value.precision == "month":
            return f"{value.year:04d}-{value.month:02d}"
        return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
    return _text(value)


_SYSTEMS = {"cpt": "CPT", "icd10": "ICD-10-CM", "icd-10-cm": "ICD-10-CM", "hcpcs": "HCPCS"}


def _notes(node: Any, where: str, out: list[Note]) -> None:
    """Every ``note`` in the case record, depth first, with the path to it in words."""
    from pydantic import BaseModel

    if isinstance(node, BaseModel):
        note = getattr(node, "note", None)
        if isinstance(note, str) and note.strip():
            out.append(Note(where or "the case", note))
        for name in type(node).model_fields:
            if name == "note":
                continue
            _notes(getattr(node, name), f"{where}, {name.replace('_', ' ')}" if where else name.replace("_", " "), out)
    elif isinstance(node, (tuple, list)):
        for i, value in enumerate(node, start=1):
            label = getattr(value, "level", None) or getattr(value, "item", None)
            label = _text(label) if label is not None else str(i)
            _notes(value, f"{_singular(where)} {label}", out)


def _singular(where: str) -> str:
    head, _, last = where.rpartition(", ")
    if last.endswith("ies"):
        last = last[:-3] + "y"
    elif last.endswith("s"):
        last = last[:-1]
    elif last == "imaging":
        last = "imaging study"
    return f"{head}, {last}" if head else last


def of(case: Any = None, policy: Any = None, decided_at: str = "") -> Context:
    """The context of one decision, from its case record and policy (either may be absent)."""
    fields: dict[str, Any] = {"decided_at": decided_at}
    if policy is not None:
        fields["appeal_rights"] = (getattr(policy, "header", {}) or {}).get("appeal-rights", "")
    if case is not None:
        request = case.request
        fields["request_date"] = _date(getattr(request, "date", None))
        for name in ("member_id", "member_name", "provider", "facility"):
            fields[name] = _text(getattr(request, name, None))
        fields["birth_date"] = _date(getattr(request, "birth_date", None))
        fields["service_date"] = _date(getattr(request, "service_date", None))
        codes = getattr(request, "codes", None) or ()
        fields["codes"] = tuple(Code(_SYSTEMS.get(_text(c.system).lower(), _text(c.system)), c.code,
                                     getattr(c, "display", None) or "") for c in codes)
        notes: list[Note] = []
        _notes(case, "", notes)
        fields["notes"] = tuple(notes)
    return Context(**fields)
