"""Every shipped record under every shipped policy, decided once per process (with the what-if).

The examples (examples/*.yaml) under each policy in policies/, and each policy's goldens
(policies/*/tests/*.yaml) under that policy; `make thorough` adds every golden under every
other policy too.  Tests that hold a claim over "every decision the project ships" read
``decisions()``; being cached, several such tests in one module pay for the solves once.
"""

from __future__ import annotations

import html
import json
import re
from functools import lru_cache
from pathlib import Path

import click

from engine.authoring.golden import discover, golden_case, load_golden
from engine.deciding.decision import Decision
from engine.deciding.policy import load
from engine.deciding.solver import Engine
from engine.presenting.render import render
from facts import load_case
from thorough import THOROUGH

ROOT = Path(__file__).resolve().parents[1]
POLICIES = tuple(sorted(p.name for p in (ROOT / "policies").iterdir() if (p / "policy.lp").is_file()))
EXAMPLES = tuple(sorted((ROOT / "examples").glob("*.yaml")))
#: an atom as clingo writes it: a name, then its arguments
ATOM = re.compile(r"\b[a-z_][a-z0-9_]*\(")
#: every format a decision is rendered in for a reader
FORMATS = ("text", "json", "markdown", "html")


def goldens(policy: str) -> list[Path]:
    return discover(ROOT / "policies" / policy)


@lru_cache(maxsize=None)
def _policy(name: str):
    return load(str(ROOT / "policies" / name))


@lru_cache(maxsize=None)
def decisions() -> tuple[tuple[str, str, Decision], ...]:
    """``(policy, record path relative to the repository, decision)`` for every pair decided."""
    out = []
    for name in POLICIES:
        engine = Engine(_policy(name))
        records = [(p, load_case(p)) for p in EXAMPLES]
        for owner in POLICIES:
            if owner == name or THOROUGH:
                records += [(p, golden_case(load_golden(p))) for p in goldens(owner)]
        for path, case in records:
            out.append((name, str(path.relative_to(ROOT)), engine.decide(case)))
    return tuple(out)


def policy(name: str):
    """The loaded policy (cached)."""
    return _policy(name)


def _visible(fmt: str, out: str) -> list[str]:
    """What a reader reads of an output: the JSON's strings but its ``fact`` and ``term`` fields (the
    atom or formula leaf, for machines), the page's text but its style sheet and script, the letter
    unescaped."""
    if fmt == "json":
        found: list[str] = []

        def walk(node, key=None):
            if isinstance(node, dict):
                for k, v in node.items():
                    if k not in ("fact", "term"):
                        walk(v, k)
            elif isinstance(node, list):
                for v in node:
                    walk(v, key)
            elif isinstance(node, str):
                found.append(node)
        walk(json.loads(out))
        return found
    if fmt == "html":  # the tags too: an attribute (a tooltip) is read as well
        return [html.unescape(re.sub(r"<(script|style)\b.*?</\1>", " ", out, flags=re.S))]
    if fmt == "markdown":
        return [out.replace("\\", "")]
    return [click.unstyle(out)]


def atoms_shown(decision, fmt: str) -> list[str]:
    """Every atom-like text a reader of ``fmt`` would read, with what is around it."""
    out = []
    for text in _visible(fmt, render(decision, fmt)):
        out += [text[max(0, m.start() - 30):m.end() + 30].replace("\n", " ") for m in ATOM.finditer(text)]
    return out
