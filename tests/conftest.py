"""The one fixture several test modules share: a headless Chromium, one per module."""

from __future__ import annotations

import pytest

from browser import PACKAGE, Browser, executable


@pytest.fixture(scope="module")
def chromium():
    """A running Chromium; the tests that use it are skipped, saying why, when there is none."""
    if executable() is None:
        pytest.skip(f"Chromium not found: install the Debian package '{PACKAGE}' "
                    f"(apt-get install -y {PACKAGE}) to run the browser tests")
    with Browser() as browser:
        yield browser
