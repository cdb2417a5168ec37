"""Run every benchmark in bench/ and print their figures (make bench)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import batch  # noqa: E402
import diff  # noqa: E402
import explain  # noqa: E402
import report  # noqa: E402
import worked_report  # noqa: E402

if __name__ == "__main__":
    status = explain.main([])
    print()
    status = status or diff.main([])
    print()
    status = status or batch.main([])
    print()
    status = status or report.main([])
    print()
    raise SystemExit(status or worked_report.main([]))
