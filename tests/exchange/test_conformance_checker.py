"""exchange.conformance on a package of our own: what it catches, without the published packages."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

pytest.importorskip("fhirpathpy", reason="fhirpathpy (the test extra) evaluates the invariants")

from exchange.conformance import Packages, check  # noqa: E402

EXT = "http://example.org/StructureDefinition/ext-kind"
PROFILE = "http://example.org/StructureDefinition/claim-test"


def _e(eid: str, low: int, high: str, types: list | None = None, **more) -> dict:
    path = ".".join(part.split(":")[0] for part in eid.split("."))
    return {"id": eid, "path": path, "min": low, "max": high, **({"type": types} if types else {}), **more}


def _package(folder: Path) -> Packages:
    claim = {"resourceType": "StructureDefinition", "url": PROFILE, "type": "Claim", "kind": "resource",
             "snapshot": {"element": [
                 _e("Claim", 0, "*", constraint=[{"key": "t-1", "severity": "error", "human": "use is preauthorization",
                                                  "expression": "use = 'preauthorization'"}]),
                 _e("Claim.status", 1, "1", [{"code": "code"}], fixedCode="active"),
                 _e("Claim.use", 1, "1", [{"code": "code"}]),
                 _e("Claim.patient", 1, "1", [{"code": "Reference", "targetProfile": [
                     "http://hl7.org/fhir/StructureDefinition/Patient"]}]),
                 _e("Claim.item", 1, "*", [{"code": "BackboneElement"}]),
                 _e("Claim.item.extension", 1, "*", [{"code": "Extension"}],
                    slicing={"discriminator": [{"type": "value", "path": "url"}], "rules": "open"}),
                 _e("Claim.item.extension:kind", 1, "1", [{"code": "Extension", "profile": [EXT]}]),
                 _e("Claim.item.location[x]", 1, "1", [{"code": "CodeableConcept"}],
                    binding={"strength": "required", "valueSet": "http://example.org/ValueSet/places"}),
             ]}}
    ext = {"resourceType": "StructureDefinition", "url": EXT, "type": "Extension", "kind": "complex-type",
           "snapshot": {"element": [_e("Extension", 0, "*"), _e("Extension.url", 1, "1", [{"code": "uri"}], fixedUri=EXT),
                                    _e("Extension.value[x]", 1, "1", [{"code": "string"}])]}}
    vs = {"resourceType": "ValueSet", "url": "http://example.org/ValueSet/places",
          "compose": {"include": [{"system": "http://example.org/pos", "concept": [{"code": "21"}, {"code": "22"}]}]}}
    for name, data in (("claim", claim), ("ext", ext), ("vs", vs)):
        (folder / f"{name}.json").write_text(json.dumps(data))
    return Packages(folder)


GOOD = {"resourceType": "Bundle", "type": "collection", "entry": [
    {"fullUrl": "urn:uuid:1", "resource": {
        "resourceType": "Claim", "meta": {"profile": [PROFILE]}, "status": "active", "use": "preauthorization",
        "patient": {"reference": "urn:uuid:2"},
        "item": [{"extension": [{"url": EXT, "valueString": "x"}],
                  "locationCodeableConcept": {"coding": [{"system": "http://example.org/pos", "code": "21"}]}}]}},
    {"fullUrl": "urn:uuid:2", "resource": {"resourceType": "Patient"}},
    {"fullUrl": "urn:uuid:3", "resource": {"resourceType": "Organization"}}]}


def _claim(doc: dict) -> dict:
    return doc["entry"][0]["resource"]


BROKEN = {
    "cardinality": lambda d: _claim(d).pop("item"),
    "fixed": lambda d: _claim(d).update(status="draft"),
    "a required slice missing": lambda d: _claim(d)["item"][0].update(extension=[{"url": "http://other", "valueString": "y"}]),
    "the slice's own profile": lambda d: _claim(d)["item"][0]["extension"][0].pop("valueString"),
    "binding": lambda d: _claim(d)["item"][0]["locationCodeableConcept"]["coding"][0].update(code="99"),
    "invariant": lambda d: _claim(d).update(use="claim"),
    "target": lambda d: _claim(d).update(patient={"reference": "urn:uuid:3"}),
}


def test_a_conformant_instance_passes(tmp_path: Path) -> None:
    report = check(copy.deepcopy(GOOD), _package(tmp_path))
    assert report.ok, [str(p) for p in report.problems]
    assert report.checked["binding"] == 1 and report.checked["invariant"] >= 1 and report.checked["target"] == 1


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_each_kind_of_problem_is_caught(tmp_path: Path, kind: str) -> None:
    doc = copy.deepcopy(GOOD)
    BROKEN[kind](doc)
    report = check(doc, _package(tmp_path))
    assert not report.ok, kind
    assert all(p.path.startswith("Bundle.entry[0].resource") for p in report.problems), [str(p) for p in report.problems]


def test_a_value_set_outside_the_packages_is_counted_not_passed(tmp_path: Path) -> None:
    packages = _package(tmp_path)
    del packages.value_sets["http://example.org/ValueSet/places"]
    report = check(copy.deepcopy(GOOD), packages)
    assert report.ok and report.skipped["binding outside the packages"] == 1
