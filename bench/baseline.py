"""The baseline tree a benchmark runs beside this one: a commit checked out in a temporary git worktree."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def baseline_tree(revision: str, wanted: bool = True) -> Iterator[Path | None]:
    """``revision`` checked out in a temporary worktree (None when not ``wanted``), removed afterwards."""
    if not wanted:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="necessity-baseline-") as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), revision],
                       capture_output=True, check=True)
        try:
            yield tree
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                           capture_output=True, check=False)
