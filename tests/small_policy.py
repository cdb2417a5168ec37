"""A policy of a test's own: the header every policy file needs, and the folder written and loaded."""

from __future__ import annotations

from pathlib import Path

from engine.deciding.policy import Policy, load


def header(policy_id: str, title: str, source: str) -> str:
    """The header lines engine/deciding/policy.py requires, for a test policy (payer "Test", version 1)."""
    return (f"% payer: Test\n% policy: {policy_id}\n% title: {title}\n% version: 1\n% effective: 2025-01-01\n"
            f"% source: {source}\n% verification: none\n")


def written(parent: Path, name: str, text: str) -> Policy:
    """``text`` as ``parent/name/policy.lp``, loaded."""
    folder = parent / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "policy.lp").write_text(text, encoding="utf-8")
    return load(str(folder))


def case_criteria(formulas: dict[str, str]) -> str:
    """One case-level criterion per entry, id: formula, each leading to decompression only."""
    return "".join(f'criterion("{cid}", "{cid}", "test").\nscope("{cid}", case).\nbears_on("{cid}", decompression_only).\n'
                   f'formula("{cid}", {formula}).\n' for cid, formula in formulas.items())
