"""Policies edited for a test, as an analyst edits one: a shipped policy copied into a folder of
the test's own, with some text of its policy.lp replaced and some appended (the mutation corpus,
planted faults, the issue's reproductions)."""

from __future__ import annotations

import shutil
from pathlib import Path

from engine.deciding.policy import load


def edited(folder: Path, policy: str = "reference", old: str = "", new: str = "", *, extra: str = "") -> Path:
    """``policy`` copied to ``folder``, ``old`` (which must occur) replaced by ``new`` in its policy.lp,
    and ``extra`` appended on lines of its own."""
    shutil.copytree(load(policy).folder, folder)
    main = folder / "policy.lp"
    text = main.read_text(encoding="utf-8")
    if old:
        assert old in text, f"{policy}/policy.lp does not hold the text to replace: {old}"
        text = text.replace(old, new)
    main.write_text(text + (f"\n{extra}\n" if extra else ""), encoding="utf-8")
    return folder
