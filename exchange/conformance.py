"""A FHIR profile conformance checker: instances against the StructureDefinitions of IG packages.

Our own code, written from the FHIR R4 rules for profiles; it reads the
published package JSON (StructureDefinitions with their snapshots, ValueSets,
CodeSystems) from a folder, never from the network:

* ``$NECESSITY_FHIR_PACKAGES``, else ``../shared/fhir-packages/`` beside the
  repository (``packages_folder``); each package unpacked in a folder of its
  own (``pas-2.2.1/package/*.json``). The packages are not in this repository.

What it checks, for a resource against each profile it claims (``meta.profile``)
or it is given, and for every entry of a Bundle against the profiles its
entry claims and the Bundle profile's slices give:

* cardinality of every element of the snapshot, slices included (extensions
  sliced by url, other slices by their fixed or pattern values, by type);
* fixed and pattern values;
* required bindings, for the ValueSets the packages hold (a ValueSet or code
  system outside them is counted as not checked, never passed silently);
* reference targets: a reference that resolves inside the Bundle points at a
  resource of a type the element allows;
* the profiles' FHIRPath invariants of severity error (``fhirpathpy``, in the
  test extra); an invariant it cannot evaluate is counted, not passed.

Elements of complex types the snapshot does not expand (a CodeableConcept's
codings) are checked as a whole (pattern, binding), not element by element.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

from exchange.references import resolve

PACKAGES_ENV = "NECESSITY_FHIR_PACKAGES"
#: Invariants of the base spec every element carries, which hold of any JSON the R4 models accept.
BASE_INVARIANTS = frozenset({"ele-1", "ext-1"})


def packages_folder(root: Path | None = None) -> Path:
    """Where the IG packages are: ``$NECESSITY_FHIR_PACKAGES``, else ``../shared/fhir-packages`` beside the repository."""
    given = os.environ.get(PACKAGES_ENV)
    if given:
        return Path(given)
    root = root or Path(__file__).resolve().parent.parent
    return (root.parent / "shared" / "fhir-packages").resolve()


@dataclass(frozen=True)
class Problem:
    path: str  # FHIRPath-like location: Bundle.entry[0].resource.item[1].adjudication[0]
    message: str
    profile: str
    kind: str  # cardinality, fixed, pattern, binding, invariant, target, profile

    def __str__(self) -> str:
        return f"{self.path}: {self.message} [{self.kind}; {self.profile.rsplit('/', 1)[-1]}]"


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    checked: Counter = field(default_factory=Counter)  # what was checked, by kind
    skipped: Counter = field(default_factory=Counter)  # what could not be (a ValueSet outside the packages ...)

    @property
    def ok(self) -> bool:
        return not self.problems


class Packages:
    """The StructureDefinitions, ValueSets and CodeSystems of the packages in a folder."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.definitions: dict[str, dict] = {}
        self.value_sets: dict[str, dict] = {}
        self.code_systems: dict[str, dict] = {}
        for path in sorted(folder.glob("**/*.json")):
            if "example" in path.parts or path.name in ("package.json", ".index.json"):
                continue
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError):
                continue
            kind = data.get("resourceType") if isinstance(data, dict) else None
            store = {"StructureDefinition": self.definitions, "ValueSet": self.value_sets,
                     "CodeSystem": self.code_systems}.get(kind)
            if store is not None and data.get("url"):
                store.setdefault(data["url"], data)
        if not self.definitions:
            raise FileNotFoundError(f"{folder}: no StructureDefinition found (unpack each package's JSON there)")

    def definition(self, url: str) -> dict | None:
        return self.definitions.get(url.split("|")[0])

    def value_set(self, url: str) -> dict | None:
        return self.value_sets.get(url.split("|")[0])


@lru_cache(maxsize=4)
def load(folder: str) -> Packages:
    return Packages(Path(folder))


# ---------------------------------------------------------------------------
# the snapshot as a tree
# ---------------------------------------------------------------------------


class Tree:
    """A StructureDefinition's snapshot: each element's direct children and slices, by element id."""

    def __init__(self, sd: dict):
        self.sd = sd
        self.url = sd["url"]
        self.elements = sd["snapshot"]["element"]
        self.by_id = {e["id"]: e for e in self.elements}
        self.children: dict[str, list[dict]] = {}
        self.slices: dict[str, list[dict]] = {}
        for e in self.elements:
            eid = e["id"]
            head, _, last = eid.rpartition(".")
            if ":" in last:
                base = f"{head}.{last.split(':')[0]}" if head else last.split(":")[0]
                if "." not in last.split(":", 1)[1] and base in self.by_id:
                    self.slices.setdefault(base, []).append(e)
                    continue
            if head:
                self.children.setdefault(head, []).append(e)

    @property
    def root(self) -> dict:
        return self.elements[0]


@lru_cache(maxsize=256)
def _tree(packages_id: int, url: str) -> Tree | None:
    packages = _LOADED[packages_id]
    sd = packages.definition(url)
    return Tree(sd) if sd is not None and "snapshot" in sd else None


_LOADED: dict[int, Packages] = {}


def tree(packages: Packages, url: str) -> Tree | None:
    _LOADED[id(packages)] = packages
    return _tree(id(packages), url.split("|")[0])


# ---------------------------------------------------------------------------
# values
# ---------------------------------------------------------------------------


def _name(element: dict) -> str:
    return element["id"].rpartition(".")[2].split(":")[0]


def _values(node: dict, element: dict) -> list[tuple[str, Any]]:
    """The JSON values of an element in a node: (key, value), a list flattened; value[x] by its typed keys."""
    name = _name(element)
    if name.endswith("[x]"):
        stem = name[:-3]
        keys = [k for k in node if k.startswith(stem) and k[len(stem):][:1].isupper()]
    else:
        keys = [name] if name in node or f"_{name}" in node else []
    out = []
    for key in keys:
        value = node.get(key, node.get(f"_{key}"))
        for v in value if isinstance(value, list) else [value]:
            out.append((key, v))
    return out


def _matches(value: Any, pattern: Any) -> bool:
    """A FHIR pattern: every element the pattern has, the value has (lists: each pattern item in some value item)."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(k in value and _matches(value[k], v) for k, v in pattern.items())
    if isinstance(pattern, list):
        items = value if isinstance(value, list) else [value]
        return all(any(_matches(i, p) for i in items) for p in pattern)
    return value == pattern


def _fixed(element: dict) -> tuple[str, Any] | None:
    for key, value in element.items():
        if key.startswith(("fixed", "pattern")):
            return key, value
    return None


def _codes(value: Any) -> list[tuple[str | None, str]]:
    if isinstance(value, str):
        return [(None, value)]
    if isinstance(value, dict) and "code" in value:
        return [(value.get("system"), value["code"])]
    if isinstance(value, dict) and "coding" in value:
        return [(c.get("system"), c.get("code")) for c in value["coding"] if isinstance(c, dict)]
    return []


def _schema_type(element: dict) -> str:
    types = element.get("type") or []
    return types[0]["code"] if len(types) == 1 else ""


class Checker:
    def __init__(self, packages: Packages):
        self.packages = packages
        self.report = Report()
        self.entries: list[tuple[str | None, str, str | None]] = []
        self.resources: dict[str, dict] = {}
        self.urls: dict[int, str] = {}  # a Bundle entry's resource -> its fullUrl (what its references resolve from)
        self.done: set[tuple[int, str]] = set()

    # -- value sets ---------------------------------------------------------
    def in_value_set(self, url: str, system: str | None, code: str, seen: frozenset = frozenset()) -> bool | None:
        """Whether a code is in a ValueSet of the packages: None when that cannot be told here."""
        vs = self.packages.value_set(url)
        if vs is None or url in seen:
            return None
        if "expansion" in vs and vs["expansion"].get("contains"):
            return any(c.get("code") == code and (system is None or c.get("system") == system)
                       for c in vs["expansion"]["contains"])
        unknown = False
        for inc in vs.get("compose", {}).get("include", []):
            if inc.get("valueSet"):
                answers = [self.in_value_set(v, system, code, seen | {url}) for v in inc["valueSet"]]
                if all(a is True for a in answers):
                    return True
                unknown |= any(a is None for a in answers)
                continue
            if system is not None and inc.get("system") != system:
                continue
            if "concept" in inc:
                if any(c["code"] == code for c in inc["concept"]):
                    return True
            elif "filter" in inc:
                unknown = True
            else:
                cs = self.code_systems(inc.get("system"))
                if cs is None or cs.get("content") != "complete":
                    return True  # the whole system, its codes not listed here: the system is what can be checked
                if code in _all_codes(cs.get("concept", [])):
                    return True
        return None if unknown else False

    def code_systems(self, url: str | None) -> dict | None:
        return self.packages.code_systems.get(url or "")

    # -- a resource against a profile ----------------------------------------
    def resource(self, data: dict, path: str, profiles: list[str] | None = None) -> None:
        claimed = list(profiles or []) + list((data.get("meta") or {}).get("profile") or [])
        for url in dict.fromkeys(p.split("|")[0] for p in claimed):
            if (id(data), url) in self.done:
                continue
            self.done.add((id(data), url))
            self.referrer = self.urls.get(id(data), self.referrer)
            t = tree(self.packages, url)
            if t is None:
                self.report.skipped["profile outside the packages"] += 1
                continue
            if t.sd.get("type") != data.get("resourceType"):
                self.add(path, f"claims {url}, a profile of {t.sd.get('type')}, but is a {data.get('resourceType')}",
                         url, "profile")
                continue
            self.report.checked["profile"] += 1
            self.element(t, t.root, data, path, data)

    def type_of(self, url: str) -> str | None:
        sd = self.packages.definition(url)
        return sd["type"] if sd else None

    def any_of(self, data: dict, path: str, profiles: list[str]) -> None:
        """A resource that must conform to one of several profiles (a type listing more than one)."""
        if len(profiles) <= 1:
            self.resource(data, path, profiles)
            return
        best: Report | None = None
        for url in profiles:
            sub = Checker(self.packages)
            sub.entries, sub.resources, sub.urls, sub.referrer = self.entries, self.resources, self.urls, self.referrer
            sub.resource(data, path, [url])
            if best is None or len(sub.report.problems) < len(best.problems):
                best = sub.report
            if sub.report.ok:
                break
        assert best is not None
        self.report.problems += best.problems
        self.report.checked.update(best.checked)
        self.report.skipped.update(best.skipped)
        claimed = (data.get("meta") or {}).get("profile") or []
        self.done.update((id(data), u.split("|")[0]) for u in claimed if u.split("|")[0] in [p.split("|")[0] for p in profiles])

    def add(self, path: str, message: str, profile: str, kind: str) -> None:
        self.report.problems.append(Problem(path, message, profile, kind))

    def element(self, t: Tree, element: dict, node: Any, path: str, resource: dict) -> None:
        """A value against its element definition, then its children against theirs."""
        self.value(t, element, node, path, resource)
        if not isinstance(node, dict):
            return
        # A recursive element (Questionnaire.item.item) is defined by the element it refers to.
        shape = t.by_id.get(element.get("contentReference", "").split("#")[-1], element)
        if shape is not element:
            self.invariants(t, shape, node, path, resource)
        for child in t.children.get(shape["id"], []):
            if _name(child) in ("id", "resourceType") and child is not t.root:
                continue
            values = _values(node, child)
            self.cardinality(t, child, len(values), path + "." + _name(child))
            slices = t.slices.get(child["id"], [])
            rest: list[int] = list(range(len(values)))
            for s in slices:
                if _name(child).endswith("[x]"):  # a type slice of a choice: by the key that names the type
                    matched = [i for i in range(len(values)) if values[i][0] == s.get("sliceName")]
                else:
                    matched = [i for i in range(len(values)) if self.in_slice(t, child, s, values[i][1])]
                self.cardinality(t, s, len(matched), f"{path}.{_name(child)}:{s.get('sliceName')}")
                for i in matched:
                    key, value = values[i]
                    where = self.at(path, key, node, i, values)
                    self.element(t, s, value, where, resource)
                    if i in rest:
                        rest.remove(i)
            for i in range(len(values)):
                key, value = values[i]
                self.element(t, child, value, self.at(path, key, node, i, values), resource)
            if child["id"] == "Extension.extension" and t.sd.get("type") == "Extension":
                for i in rest:  # a sub-extension is named by the extension that defines it, by a relative url
                    url = values[i][1].get("url", "") if isinstance(values[i][1], dict) else ""
                    if "://" not in url and not url.startswith("urn:"):
                        self.add(self.at(path, "extension", node, i, values), f"sub-extension '{url}' is not "
                                 f"defined by {t.url}", t.url, "profile")
            if slices and child.get("slicing", {}).get("rules") == "closed" and rest:
                self.add(path + "." + _name(child), f"{len(rest)} value(s) in no slice of a closed slicing", t.url,
                         "cardinality")

    @staticmethod
    def at(path: str, key: str, node: dict, i: int, values: list[tuple[str, Any]]) -> str:
        same = [n for n, (k, _) in enumerate(values) if k == key]
        return f"{path}.{key}[{same.index(i)}]" if isinstance(node.get(key), list) else f"{path}.{key}"

    def cardinality(self, t: Tree, element: dict, count: int, path: str) -> None:
        self.report.checked["cardinality"] += 1
        low, high = element.get("min", 0), element.get("max", "*")
        if count < low:
            self.add(path, f"{count} present, at least {low} required ({element['id']} {low}..{high})", t.url,
                     "cardinality")
        if high != "*" and count > int(high):
            self.add(path, f"{count} present, at most {high} allowed ({element['id']} {low}..{high})", t.url,
                     "cardinality")

    def in_slice(self, t: Tree, sliced: dict, s: dict, value: Any) -> bool:
        for d in sliced.get("slicing", {}).get("discriminator", []):
            kind, where = d["type"], d["path"]
            if kind in ("value", "pattern") and where == "url":
                expected = self.slice_url(t, s)
                if expected is None or not isinstance(value, dict) or value.get("url") != expected:
                    return False
            elif kind in ("value", "pattern"):
                target = s if where == "$this" else t.by_id.get(f"{s['id']}.{where}")
                fixed = _fixed(target) if target is not None else None
                if fixed is None:
                    return False
                got = value if where == "$this" else (value.get(where) if isinstance(value, dict) else None)
                if not _matches(got, fixed[1]):
                    return False
            elif kind in ("type", "profile"):
                got = value.get("resource") if where == "resource" and isinstance(value, dict) else value
                target = s if where in ("$this", "resource") and not s["id"].endswith(".resource") else s
                element = t.by_id.get(f"{s['id']}.resource") if where == "resource" else target
                types = [ty["code"] for ty in (element or {}).get("type", [])]
                if not isinstance(got, dict) or got.get("resourceType") not in types:
                    return False
            else:
                return False
        return True

    def slice_url(self, t: Tree, s: dict) -> str | None:
        url = t.by_id.get(f"{s['id']}.url")
        if url is not None and _fixed(url):
            return _fixed(url)[1]
        for ty in s.get("type", []):
            for p in ty.get("profile", []):
                return p.split("|")[0]
        return None

    def value(self, t: Tree, element: dict, value: Any, path: str, resource: dict) -> None:
        fixed = _fixed(element)
        if fixed is not None and element is not t.root:
            self.report.checked["fixed"] += 1
            key, expected = fixed
            good = _matches(value, expected) if key.startswith("pattern") else value == expected
            if not good:
                self.add(path, f"{json.dumps(value)[:80]} where {key} is {json.dumps(expected)[:120]}", t.url,
                         "fixed" if key.startswith("fixed") else "pattern")
        binding = element.get("binding") or {}
        if binding.get("strength") == "required" and binding.get("valueSet") and _codes(value):
            self.binding(t, binding["valueSet"], value, path)
        for ty in element.get("type", []):
            if ty["code"] == "Extension" and ty.get("profile") and isinstance(value, dict) and element is not t.root:
                ext = tree(self.packages, ty["profile"][0])
                if ext is not None:
                    self.element(ext, ext.root, value, path, resource)
                else:
                    self.report.skipped["extension outside the packages"] += 1
            if ty["code"] == "Reference" and ty.get("targetProfile") and isinstance(value, dict):
                self.target(t, element, value, path)
            if element is not t.root and ty.get("profile") and isinstance(value, dict) and "resourceType" in value:
                self.any_of(value, path, [p for p in ty["profile"] if value["resourceType"] == self.type_of(p)])
        self.invariants(t, element, value, path, resource)

    def binding(self, t: Tree, url: str, value: Any, path: str) -> None:
        answers = [self.in_value_set(url, system, code) for system, code in _codes(value) if code is not None]
        if any(a is True for a in answers):
            self.report.checked["binding"] += 1
        elif answers and all(a is False for a in answers):
            self.report.checked["binding"] += 1
            said = ", ".join(f"{s or ''}|{c}" for s, c in _codes(value))
            self.add(path, f"{said} is not in the required value set {url}", t.url, "binding")
        else:
            self.report.skipped["binding outside the packages"] += 1

    def target(self, t: Tree, element: dict, value: dict, path: str) -> None:
        url = resolve(value.get("reference"), self.referrer, self.entries)
        if url is None or url not in self.resources:
            return
        allowed, unknown = set(), False
        for ty in element.get("type", []):
            for target in ty.get("targetProfile", []):
                sd = self.packages.definition(target)
                base = target.split("|")[0]
                if sd is not None:
                    allowed.add(sd["type"])
                elif base.startswith("http://hl7.org/fhir/StructureDefinition/"):
                    allowed.add(base.rsplit("/", 1)[-1])  # a core resource type
                else:
                    unknown = True  # a profile of another IG (US Core): its type is not known here
        kind = self.resources[url].get("resourceType")
        if kind in allowed or "Resource" in allowed:
            self.report.checked["target"] += 1
        elif unknown:
            self.report.skipped["target profile outside the packages"] += 1
        else:
            self.report.checked["target"] += 1
            self.add(path, f"refers to a {kind}; {element['id']} allows {', '.join(sorted(allowed))}", t.url, "target")

    referrer: str | None = None

    def invariants(self, t: Tree, element: dict, value: Any, path: str, resource: dict) -> None:
        for c in element.get("constraint", []):
            if c.get("severity") != "error" or c["key"] in BASE_INVARIANTS or not c.get("expression"):
                continue
            try:
                base = element["path"] if element is not t.root or t.sd.get("kind") == "resource" else t.sd["type"]
                with contextlib.redirect_stdout(io.StringIO()):  # fhirpathpy traces unmatched types on stdout
                    got = fhirpath(value, c["expression"], {"resource": resource, "rootResource": resource}, base)
            except Exception:  # an expression fhirpathpy cannot read: counted, never passed silently
                self.report.skipped[f"invariant {c['key']} not evaluated"] += 1
                continue
            self.report.checked["invariant"] += 1
            if got not in ([True], True):
                self.add(path, f"invariant {c['key']} fails: {c.get('human', '')} ({c['expression']})", t.url,
                         "invariant")


@lru_cache(maxsize=4096)
def _parsed(expression: str) -> Any:
    from fhirpathpy.parser import parse

    return parse(expression)


def fhirpath(node: Any, expression: str, variables: dict[str, Any], base: str | None = None) -> list:
    """``expression`` evaluated on ``node`` (FHIR R4), as ``fhirpathpy.evaluate`` does, with each expression
    parsed once per process: parsing costs several times the evaluation, and a profile's invariants and the
    constraints table repeat theirs on every element (fhirpathpy's own ``compile`` reuses a parse the same way)."""
    from fhirpathpy import apply_parsed_path
    from fhirpathpy.engine.nodes import ResourceNode
    from fhirpathpy.models import models

    if base:
        node = ResourceNode.create_node(node, base)
    return apply_parsed_path(node, _parsed(expression), variables, models["r4"])


def _all_codes(concepts: list[dict]) -> Iterator[str]:
    for c in concepts:
        yield c["code"]
        yield from _all_codes(c.get("concept", []))


def check(data: dict, packages: Packages, profiles: list[str] | None = None) -> Report:
    """Every problem of a resource (a Bundle with its entries) against the profiles it claims or is given."""
    checker = Checker(packages)
    if data.get("resourceType") == "Bundle":
        entries = [e for e in data.get("entry") or [] if isinstance(e, dict) and isinstance(e.get("resource"), dict)]
        checker.entries = [(e.get("fullUrl"), e["resource"].get("resourceType"), e["resource"].get("id")) for e in entries]
        checker.resources = {e["fullUrl"]: e["resource"] for e in entries if e.get("fullUrl")}
        checker.urls = {id(e["resource"]): e["fullUrl"] for e in entries if e.get("fullUrl")}
        checker.resource(data, "Bundle", profiles)
        for i, e in enumerate(data.get("entry") or []):
            if isinstance(e, dict) and isinstance(e.get("resource"), dict):
                checker.referrer = e.get("fullUrl")
                checker.resource(e["resource"], f"Bundle.entry[{i}].resource")
    else:
        checker.resource(data, data.get("resourceType", "Resource"), profiles)
    return checker.report
