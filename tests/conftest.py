"""What several test modules share: a headless Chromium, one per module; and the order of the modules."""

from __future__ import annotations

import os

import pytest

# check and diff confirm every proof on a generated library (engine/analysing/sample.py): the tests keep it small
os.environ.setdefault("NECESSITY_SAMPLE", "60")

from browser import PACKAGE, Browser, executable


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
