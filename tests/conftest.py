"""What several test modules share: their helpers on sys.path, a headless Chromium (one per module), and the
order of the modules."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from browser import PACKAGE, Browser, executable

# The test modules live in folders named after the wings (tests/deciding/, tests/cli/, ...) and import
# the shared helpers here (strategies, casebuilder, edits, responses, markup) and, in a few cases, one
# another (test_bad_input's corpus) by their bare names, wherever they are run from.
sys.path[1:1] = sorted(str(d) for d in Path(__file__).resolve().parent.iterdir()
                       if d.is_dir() and any(d.glob("test_*.py")))


@pytest.fixture(scope="module")
def chromium():
    """A running Chromium; the tests that use it are skipped, saying why, when there is none."""
    if executable() is None:
        pytest.skip(f"Chromium not found: install the Debian package '{PACKAGE}' "
                    f"(apt-get install -y {PACKAGE}) to run the browser tests")
    with Browser() as browser:
        yield browser


#: Modules that run check and diff searches in this process.  clingo keeps every symbol a process
#: creates, and those searches ground programs with millions of atoms, which makes every later
#: grounding in the process slower (a decision with its what-if solves took twice as long after
#: them): they run last, in their usual order.
SEARCHES = frozenset({"test_check.py", "test_diff.py", "test_diff_soundness.py", "test_mutations.py", "test_space.py"})


def pytest_collection_modifyitems(session, config, items):
    items.sort(key=lambda item: item.path.name in SEARCHES)  # a stable sort: each group keeps its order
