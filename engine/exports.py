"""A wing's public names, imported on first use (PEP 562): a cold start of the command line stays fast.

Each wing's ``__init__`` lists the names others may use, with the module that
holds each, and sets ``__getattr__ = lazy(__name__, _PUBLIC)``.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any


def lazy(package: str, public: dict[str, str]) -> Callable[[str], Any]:
    """The module ``__getattr__`` of ``package``: a name of ``public`` from its module, on first use."""

    def __getattr__(name: str) -> Any:
        if name in public:
            return getattr(import_module(public[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
