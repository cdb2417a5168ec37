"""PAS response Bundles for tests, and the parts of them tests look at."""

from __future__ import annotations

import re
from pathlib import Path

from engine.deciding.policy import load
from engine.deciding.solver import decide
from exchange.bundle import validate
from exchange.claim import for_case
from exchange.request import Request
from exchange.response import REVIEW_ACTION_CODE, to_response
from facts import load_case
from facts.model import Case


def respond(source: Path | Case, policy: str = "reference") -> tuple[dict, Request]:
    """The response to the request a case file (or case) stands for, validated by the R4B models."""
    case = load_case(source) if isinstance(source, Path) else source
    request = for_case(case)
    p = load(policy)
    bundle = to_response(decide(p, case), request, p)
    validate(bundle, case.case)
    return bundle, request


def claim_response(bundle: dict) -> dict:
    return bundle["entry"][0]["resource"]


def actions(bundle: dict) -> dict[int, str]:
    """Each Claim item's review action code, by item sequence."""
    out = {}
    for item in claim_response(bundle)["item"]:
        review = item["adjudication"][0]["extension"][0]["extension"]
        out[item["itemSequence"]] = next(e for e in review if e["url"] == REVIEW_ACTION_CODE)["valueCodeableConcept"]["coding"][0]["code"]
    return out


def by_subject(bundle: dict, request: Request) -> dict[tuple, list[str]]:
    """The review actions of the Claim items that request each level service or item."""
    codes = actions(bundle)
    out: dict[tuple, list[str]] = {}
    for item in request.items:
        out.setdefault(item.subject, []).append(codes[item.sequence])
    return out


def notes(bundle: dict) -> dict[int, str]:
    return {n["number"]: n["text"] for n in claim_response(bundle)["processNote"]}


def item_notes(bundle: dict, sequence: int) -> list[str]:
    """The notes of a Claim item, a note split in parts (``... (part 1 of 2)``) joined back into one."""
    texts = notes(bundle)
    item = next(i for i in claim_response(bundle)["item"] if i["itemSequence"] == sequence)
    out: list[str] = []
    for n in item["noteNumber"]:
        text, part = texts[n], re.search(r" \(part (\d+) of \d+\)$", texts[n])
        if part is None:
            out.append(text)
        elif part[1] == "1":
            out.append(text[: part.start()])
        else:
            out[-1] += "; " + text[: part.start()]
    return out


def communications(bundle: dict) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "CommunicationRequest"]


def sequences(request: Request, subject: tuple) -> list[int]:
    return [i.sequence for i in request.items if i.subject == subject]
