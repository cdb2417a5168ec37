"""Run every benchmark in bench/ and print their figures (make bench)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import explain  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(explain.main(sys.argv[1:]))
