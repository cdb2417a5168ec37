"""The long searches: `make test` runs one of each kind, `make thorough` runs them all.

`make test` must finish in minutes on two cores, and a proof over a whole shipped policy
(`check cigna-cmm-609`, `diff carelon-spine carelon-spine`) or a mutation whose figure travels
through three rules takes from half a minute to several.  Each such parameter is marked
``thorough``: skipped by `make test`, saying so (``-rs`` prints the reason), and run by
`make thorough` (NECESSITY_THOROUGH=1), where nothing is skipped for time.  Every kind of claim
keeps a representative in `make test`: a false "proved" of any kind fails there first.
"""

from __future__ import annotations

import os

import pytest

THOROUGH = os.environ.get("NECESSITY_THOROUGH", "") == "1"

#: the mark of a long search
thorough = pytest.mark.skipif(not THOROUGH, reason="a long search: `make thorough` runs it (tests/thorough.py)")


def only_when_thorough(values, quick) -> list:
    """``values`` as parameters; those not in ``quick`` marked ``thorough``."""
    return [v if v in quick else pytest.param(v, marks=thorough) for v in values]
