"""Reading the documentation of a PAS request: QuestionnaireResponses and Observations.

Every resource read must be about the Claim's patient: one with no subject,
or about another patient, is refused.  Observations dated after the request
or in the future are refused, as the case model refuses such dates; a
quantity must be in the unit its row names (a T-score, dimensionless, is
never read from mg).  The QuestionnaireResponses (additional information is
``0..*``: in the Bundle or contained in the Claim) are read by
``exchange.form`` and merged; a field they answer differently is refused.
An answer's coding must be of the code system its question offers.

What is sent and cannot be read as the same answer (items nested under an
answer or under a question, answers given on a ``#criteria`` help item, a
QuestionnaireResponse contained in another resource) is a notice; when it
holds a field of the case record, it could change the decision, and every
item is pended (``Documentation.unread``).
"""

from __future__ import annotations

import calendar
import datetime
import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from exchange import form
from exchange.bundle import BundleError, as_json
from exchange.requested import INFO_CANCELLED, Reading, mapped, said
from exchange.strict import shown
from exchange.tables import Row
from facts.load import CaseFileError, parse_case
from facts.model import Case

#: UCUM units a dimensionless quantity (a T-score) may carry: none, unity, or an annotation ({T-score}).
DIMENSIONLESS = ("", "1")


@dataclass
class Documentation:
    answers: dict[str, Any] = field(default_factory=dict)
    reader: form.Reader = field(default_factory=form.Reader)
    #: element paths of documentation that cannot be read and may hold what the decision reads
    unread: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------
# whose documentation, and when
# ---------------------------------------------------------------------------


class Targets:
    """References resolved to Bundle entries, by an index built once (linear in the Bundle)."""

    def __init__(self, bundle: Any):
        self.index: dict[str, int] = {}
        for i, entry in enumerate(bundle.entry or []):
            resource = entry.resource
            if entry.fullUrl:
                self.index.setdefault(entry.fullUrl, i)
            if resource is not None and resource.id:
                local = f"{resource.get_resource_type()}/{resource.id}"
                self.index.setdefault(local, i)
                if entry.fullUrl and entry.fullUrl.endswith("/" + local):
                    self.index.setdefault(entry.fullUrl, i)

    def withdrawn(self, claim: Any) -> dict[Any, str]:
        """What the requester withdrew: the entries (by index) and contained resources (``#id``) a supportingInfo
        flagged ``modifierextension-infoCancelled`` points at, each with the element saying so."""
        out: dict[Any, str] = {}
        for n, info in enumerate(claim.supportingInfo or []):
            cancelled = any(e.url == INFO_CANCELLED and e.valueBoolean is True for e in info.modifierExtension or [])
            if cancelled and info.valueReference is not None:
                text = info.valueReference.reference or ""
                out[text if text.startswith("#") else self(info.valueReference)] = \
                    f"Bundle.entry[0].resource.supportingInfo[{n}].modifierExtension"
        return out

    def __call__(self, reference: Any) -> Any:
        text = reference.reference
        if text is not None and text in self.index:
            return self.index[text]
        return text if text is not None else json.dumps(as_json(reference), sort_keys=True)


def of_the_patient(claim: Any, targets: Targets, subject: Any, where: str, what: str, r: Reading) -> None:
    """Documentation with no subject, or about another patient than the Claim's, is refused."""
    patient = claim.patient
    if subject is None:
        r.problems.append((where, f"{what} names no subject: documentation is read only when it says it is about the "
                                  f"Claim's patient ({shown(patient.reference or patient.display)}): add subject"))
        return
    if targets(subject) == targets(patient):
        return
    said_ = shown(subject.reference or subject.display or "a reference by identifier")
    r.problems.append((where, f"{what} about {said_}, not the Claim's patient "
                              f"{shown(patient.reference or patient.display)} (Bundle.entry[0].resource.patient): "
                              "documentation about another patient is not read: send the patient's own, or correct "
                              "the reference"))


Span = tuple[datetime.datetime, datetime.datetime]


def period(value: Any) -> Span | None:
    """A date or dateTime as the span it covers (a year, a month, a day or an instant), in UTC.

    Raises OverflowError for one that leaves the calendar in UTC (9999-12-31, year 1 at +14:00).
    """
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        t = value.astimezone(datetime.timezone.utc).replace(tzinfo=None) if value.tzinfo else value
        return t, t
    if isinstance(value, datetime.date):
        day = datetime.datetime.combine(value, datetime.time())
        return day, day + datetime.timedelta(days=1)
    try:
        parts = [int(p) for p in str(value).split("-")][:2]
    except ValueError:  # the models admit only dates; anything else is taken as undated
        return None
    start = datetime.datetime(parts[0], parts[1] if len(parts) > 1 else 1, 1)
    end = (datetime.datetime(parts[0] + 1, 1, 1) if len(parts) == 1 else
           datetime.datetime(parts[0] + parts[1] // 12, parts[1] % 12 + 1, 1))
    return start, end


def _days(value: Any) -> tuple[datetime.date, datetime.date] | None:
    """The calendar days a date or dateTime names as written (a dateTime: its own local day)."""
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return value.date(), value.date()
    if isinstance(value, datetime.date):
        return value, value
    try:
        parts = [int(p) for p in str(value).split("-")][:2]
        if len(parts) == 1:
            return datetime.date(parts[0], 1, 1), datetime.date(parts[0], 12, 31)
        return (datetime.date(parts[0], parts[1], 1),
                datetime.date(parts[0], parts[1], calendar.monthrange(parts[0], parts[1])[1]))
    except ValueError:  # the models admit only dates; anything else is taken as undated
        return None


def _aware(value: Any) -> bool:
    return isinstance(value, datetime.datetime) and value.tzinfo is not None


def _when(value: Any, where: str, created: Any, r: Reading) -> Span | None | bool:
    """The span of an Observation's date, or False when it is refused (future, after the request, off the calendar).

    As the case model does: a date is compared by calendar day (today, the
    request's day); two instants with their time zones are compared as instants.
    """
    written = shown(value.isoformat() if hasattr(value, "isoformat") else value)
    days, asked = _days(value), _days(created)
    if days is None:
        return None
    try:
        now = datetime.datetime.now(datetime.timezone.utc)
        future = value > now if _aware(value) else days[0] > datetime.date.today()
        after = asked is not None and (value > created if _aware(value) and _aware(created) else days[0] > asked[1])
        span = period(value)
    except (OverflowError, ValueError):
        r.problems.append((where, f"{written} is outside the calendar once taken to UTC: correct the date"))
        return False
    if future:
        r.problems.append((where, f"{written} is in the future: check the year"))
        return False
    if after:
        r.problems.append((where, f"{written} is after the request (Claim.created): a result taken after the "
                                  "request is not part of it: correct the date or leave the Observation out"))
        return False
    return span


# ---------------------------------------------------------------------------
# QuestionnaireResponses
# ---------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _expected_systems() -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for f in form.every_field():
        options = form._answer_options(f)
        if options:
            out[f.entries] = frozenset(o["valueCoding"]["system"] for o in options)
    return out


@lru_cache(maxsize=1)
def _field_links() -> frozenset[str]:
    return frozenset({f.entries for f in form.every_field()} | {f.path for f in form.every_field()})


def _scan(items: list[Any] | None, where: str, systems: dict[str, frozenset[str]], fields: frozenset[str],
          doc: Documentation, r: Reading) -> None:
    """Answers' coding systems, and documentation placed where the form does not read it."""
    stack = [(items or [], where)]
    while stack:
        group, at = stack.pop()
        for i, item in enumerate(group):
            here = f"{at}.item[{i}]"
            link = item.linkId or ""
            for n, answer in enumerate(item.answer or []):
                coding = answer.valueCoding
                if coding is not None and link in systems and coding.system not in systems[link]:
                    r.problems.append((f"{here}.answer[{n}].valueCoding.system",
                                       f"{shown(coding.system or '(no system)')} is not the code system of "
                                       f"{shown(link)} ({' or '.join(sorted(systems[link]))}): answer with its codes"))
                if answer.item:
                    _nested(answer.item, f"{here}.answer[{n}]", "under an answer", fields, doc, r)
            if link.endswith("#criteria") and item.answer:
                _unread(f"{here}.answer", f"answers given on the help item {shown(link)}, which asks nothing: "
                                          "answer the field itself", True, doc, r)
            nested = [x for x in item.item or [] if x.answer or x.item or not (x.linkId or "").endswith("#criteria")]
            if item.answer and nested:  # (a #criteria help item, empty, is where the Questionnaire puts it)
                _nested(nested, here, "under a question", fields, doc, r)
            elif item.item:
                stack.append((item.item, here))


def _links(items: list[Any]) -> set[str]:
    out: set[str] = set()
    stack = list(items)
    while stack:
        item = stack.pop()
        out.add((item.linkId or "").split("#", 1)[0])
        stack.extend(item.item or [])
        for answer in item.answer or []:
            stack.extend(answer.item or [])
    return out


def _nested(items: list[Any], where: str, how: str, fields: frozenset[str], doc: Documentation, r: Reading) -> None:
    links = _links(items)
    holds = sorted(link for link in links if link in fields)
    what = f"items nested {how} ({', '.join(shown(x) for x in sorted(links)[:5])}): the form reads each field " \
           "in its own group: send them beside the question"
    _unread(f"{where}.item", what, bool(holds), doc, r)


def _unread(where: str, what: str, decisive: bool, doc: Documentation, r: Reading) -> None:
    if decisive:
        doc.unread.append(where)
        r.warn(where, f"not read: {what}; they may change the decision, so every item is pended for manual review")
    else:
        r.warn(where, f"not read: {what}")


def _merge(into: dict[str, Any], other: dict[str, Any], path: str, doc: Documentation, reader: form.Reader,
           r: Reading) -> None:
    for key, value in other.items():
        at = f"{path}.{key}" if path else key
        if key not in into:
            into[key] = value
        elif isinstance(into[key], dict) and isinstance(value, dict):
            _merge(into[key], value, at, doc, reader, r)
        elif into[key] != value:
            r.problems.append((reader.where(at) or "QuestionnaireResponse",
                               f"{at} is answered differently in two QuestionnaireResponses (first at "
                               f"{doc.reader.where(at)}): send it once, or the same in both"))


def read_answers(bundle: Any, claim: Any, targets: Targets, r: Reading) -> Documentation:
    """The QuestionnaireResponses of the request (Bundle entries, and those contained in the Claim), merged."""
    doc = Documentation()
    withdrawn = targets.withdrawn(claim)
    found = [(k, f"Bundle.entry[{k}].resource", e.resource) for k, e in enumerate(bundle.entry or [])
             if e.resource is not None and e.resource.get_resource_type() == "QuestionnaireResponse"]
    found += [(f"#{c.id}", f"Bundle.entry[0].resource.contained[{n}]", c) for n, c in enumerate(claim.contained or [])
              if c.get_resource_type() == "QuestionnaireResponse"]
    for key, where, _ in found:
        if key in withdrawn:
            r.warn(where, f"not read: withdrawn by the requester ({withdrawn[key]}: infoCancelled)")
    found = [(where, resource) for key, where, resource in found if key not in withdrawn]
    for k, e in enumerate(bundle.entry or []):
        if k and e.resource is not None:
            for n, c in enumerate(getattr(e.resource, "contained", None) or []):
                if c.get_resource_type() == "QuestionnaireResponse":
                    _unread(f"Bundle.entry[{k}].resource.contained[{n}]", "a QuestionnaireResponse contained in a "
                            f"{e.resource.get_resource_type()}: send it as a Bundle entry", True, doc, r)
    systems = _expected_systems()
    fields = _field_links()
    for n, (where, answered) in enumerate(found):
        if answered.status not in ("completed", "amended"):
            r.problems.append((f"{where}.status", f"'{shown(answered.status)}': the answers are not final documentation "
                                                  "(a form still in progress, stopped, or entered in error): send the "
                                                  "completed QuestionnaireResponse (status completed or amended)"))
        of_the_patient(claim, targets, answered.subject, f"{where}.subject", "a QuestionnaireResponse", r)
        unread = len(doc.unread)
        _scan(answered.item, where, systems, fields, doc, r)
        reader = doc.reader if n == 0 else form.Reader()
        try:
            answers = reader.record(answered.item, form.tree(), where, "")
        except form.FormError as exc:
            if len(doc.unread) == unread:
                r.problems.append((exc.where, exc.message))
            else:  # what the form cannot read, where it is, explains this: every item is pended already
                r.warn(exc.where, f"not read: {exc.message}")
            continue
        for at, link in reader.unknown:
            r.warn(at, f"linkId '{link}' is not a field of the case record (see `necessity vocab --fields`): not read")
        if n == 0:
            doc.answers = answers
        else:
            _merge(doc.answers, answers, "", doc, reader, r)
            for key, value in reader.origin.items():
                doc.reader.origin.setdefault(key, value)
    return doc


# ---------------------------------------------------------------------------
# Observations
# ---------------------------------------------------------------------------


def _lookup(record: dict[str, Any], path: str) -> Any:
    node: Any = record
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _set(record: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node = record
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


@dataclass(frozen=True)
class _Result:
    """One Observation's measurement as read: the row of its code, when, the value, where."""

    row: Row
    when: Span | None  # the instants it may have been taken between
    value: float
    where: str


def _later(a: _Result, b: _Result) -> bool | None:
    """Whether ``b`` was taken after ``a``; None when their dates do not say (not given, or overlapping)."""
    if a.when is None or b.when is None:
        return None
    if b.when[0] >= a.when[1] and b.when != a.when:
        return True
    if a.when[0] >= b.when[1] and b.when != a.when:
        return False
    return None


def _effective(obs: Any, where: str) -> tuple[Any, str]:
    """When an Observation was taken, and the element saying it (a period: its start, when it began)."""
    if obs.effectiveDateTime is not None:
        return obs.effectiveDateTime, f"{where}.effectiveDateTime"
    if obs.effectiveInstant is not None:
        return obs.effectiveInstant, f"{where}.effectiveInstant"
    period_ = obs.effectivePeriod
    if period_ is not None and period_.start is not None:
        return period_.start, f"{where}.effectivePeriod.start"
    return None, f"{where}.effectiveDateTime"


def _unit_ok(row: Row, unit: str) -> bool:
    if row["unit"]:
        return unit == row["unit"]
    return unit in DIMENSIONLESS or (unit.startswith("{") and unit.endswith("}"))


def read_observations(bundle: Any, claim: Any, targets: Targets, created: Any, record: dict[str, Any],
                      reader: form.Reader, r: Reading) -> None:
    """Measurements given as Observations, beside the answers (they must agree).

    Of several results for one code the latest is read.  Two codes may give
    the same case field (a lumbar and a hip DEXA T-score): the case record
    holds one value, and choosing between two would be a clinical choice, so
    results that differ are refused and the sender says which one counts.
    """
    latest: dict[tuple[str, str], _Result] = {}
    withdrawn = targets.withdrawn(claim)
    for k, entry in enumerate(bundle.entry or []):
        obs = entry.resource
        if obs is None or obs.get_resource_type() != "Observation":
            continue
        where = f"Bundle.entry[{k}].resource"
        if k in withdrawn:
            r.warn(where, f"not read: withdrawn by the requester ({withdrawn[k]}: infoCancelled)")
            continue
        row, coding = mapped("observations", obs.code, f"{where}.code", r)
        if row is None:
            r.warn(f"{where}.code", f"{said(coding)} has no row in exchange/data/observations.csv: not read")
            continue
        if obs.status not in ("final", "amended", "corrected"):
            r.warn(f"{where}.status", f"an Observation with status {obs.status} is not read: only final results count")
            continue
        of_the_patient(claim, targets, obs.subject, f"{where}.subject", "an Observation", r)
        effective, at = _effective(obs, where)
        when = _when(effective, at, created, r)
        if when is False:
            continue
        quantity = obs.valueQuantity
        if quantity is None or quantity.value is None:
            r.problems.append((f"{where}.valueQuantity", f"{row['display']} gives no valueQuantity: give the measured value"))
            continue
        if quantity.comparator is not None:
            # The case record holds a measured value, never a bound: "> -3.0" read as -3.0 would meet
            # a criterion the measurement may not.
            r.problems.append((f"{where}.valueQuantity.comparator",
                               f"{row['display']} given as '{quantity.comparator} {quantity.value}': {row['field']} "
                               "holds a measured value, not a bound: send the value as measured, without a "
                               "comparator, or leave the Observation out (then it is not documented)"))
            continue
        unit = quantity.code or quantity.unit or ""
        if not _unit_ok(row, unit):
            r.problems.append((f"{where}.valueQuantity", f"{row['display']} in '{shown(unit)}': give it in "
                                                         f"{row['unit'] or 'no unit (it is a score)'}"))
            continue
        result = _Result(row, when, float(str(quantity.value)), where)
        key = (row["system"], row["code"])
        previous = latest.get(key)
        if previous is None:
            latest[key] = result
            continue
        later = _later(previous, result)
        if later is None and result.value != previous.value:
            why = ("is of the same date as" if previous.when is not None and previous.when == result.when else
                   "is not dated so as to say which is later (an effectiveDateTime missing, or within the other's) than")
            r.problems.append((where, f"{row['display']} {result.value} {why} {previous.where} ({previous.value}), "
                                      "and they disagree: keep the one to decide on, or date each"))
        elif later:
            latest[key] = result
    by_field: dict[str, list[_Result]] = {}
    for result in latest.values():
        by_field.setdefault(result.row["field"], []).append(result)
    for path, results in by_field.items():
        first, value, where = results[0], results[0].value, results[0].where
        other = next((x for x in results[1:] if x.value != value), None)
        if other is not None:
            r.problems.append((other.where, f"{other.row['display']} {other.value} and {first.row['display']} "
                                            f"{first.value} ({first.where}) both give {path}, which holds one value: "
                                            "send only the Observation the decision is to read"))
            continue
        answered = _lookup(record, path)
        if answered is not None and answered != value:
            r.problems.append((where, f"{value} disagrees with the QuestionnaireResponse's {path} {answered}: give one value"))
            continue
        parent = path.rsplit(".", 1)[0]
        holder = _lookup(record, parent)
        needs = {"history.diabetes": "present", "history.smoking": "status"}
        if parent in needs and (holder is None or needs[parent] not in holder):
            r.warn(where, f"not read: {parent}.{needs[parent]} must be documented for {path} to be recorded")
            continue
        _set(record, path, value)
        reader.origin.setdefault(path, f"{where}.valueQuantity.value")


# ---------------------------------------------------------------------------
# the case record, validated by the case model, its problems at element paths
# ---------------------------------------------------------------------------


def to_case(record: dict[str, Any], source: str, reader: form.Reader, origin: dict[str, str]) -> Case:
    try:
        return parse_case(json.dumps(record), source, fmt="json")
    except CaseFileError as exc:
        problems = []
        for p in exc.problems:
            claimed = p.path.split(".")[:2] in (["request", "date"], ["request", "setting"]) or \
                p.path.startswith("request.items")
            where = ((_claim_origin(p.path, record, origin) if claimed else None)
                     or reader.where(p.path) or _claim_origin(p.path, record, origin) or "Bundle")
            problems.append((where, f"{p.path}: {p.message}" if p.path else p.message))
        raise BundleError(source, problems) from None


def _claim_origin(path: str, record: dict[str, Any], origin: dict[str, str]) -> str | None:
    if path in origin:
        return origin[path]
    if path.startswith("request.levels["):
        index = int(path.split("[", 1)[1].split("]", 1)[0])
        levels = record.get("request", {}).get("levels", [])
        if index < len(levels):
            return origin.get(f"request.levels.{levels[index].get('level')}")
    if path.startswith("request.items["):
        return origin.get(path.split("]", 1)[0] + "]")
    # what the Claim's items say as a whole (the levels, the items) is said by its items, not by its date
    return "Bundle.entry[0].resource.item" if path.startswith("request") else None
