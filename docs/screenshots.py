"""The screenshots in docs/html.md, made by the commands the document shows.

    make screenshots        # or: .venv/bin/python docs/screenshots.py

Needs Chromium (the Debian package ``chromium``).  Writes docs/images/*.png:
the review page of examples/source-003.yaml as a reviewer first sees it at
1280×800, the same page with L4-L5 opened, and the report of
``necessity batch examples/ --would-change`` (so that its chart counts what blocks).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
sys.path.insert(0, str(ROOT / "tests"))

from browser import PACKAGE, Browser, executable  # noqa: E402 - the test suite's Chromium driver


def necessity(*args: str, cwd: Path = ROOT) -> str:
    run = subprocess.run([sys.executable, "-m", "engine.cli", *args], cwd=cwd, capture_output=True, text=True,
                         check=False)
    if run.returncode not in (0, 1):
        sys.exit(f"necessity {' '.join(args)} failed:\n{run.stderr}")
    return run.stdout


def main() -> None:
    if executable() is None:
        sys.exit(f"no Chromium: install the Debian package {PACKAGE!r} (apt-get install -y {PACKAGE})")
    IMAGES.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="necessity-screenshots-") as work:
        page = Path(work) / "source-003.html"
        page.write_text(necessity("explain", "examples/source-003.yaml", "--format", "html"), encoding="utf-8")
        # run beside a link to examples/, so that the report names no folder of this machine
        (Path(work) / "examples").symlink_to(ROOT / "examples")
        necessity("batch", "examples/", "--would-change", "--out", "decisions.jsonl", "--report", "report.html",
                  cwd=Path(work))
        report = Path(work) / "report.html"
        with Browser() as browser:
            tab = browser.open(page, 1280, 800)
            tab.screenshot(IMAGES / "review-page.png")
            tab.evaluate("document.querySelector('details[data-level=\"L4-L5\"]').open = true")
            tab.screenshot(IMAGES / "review-level.png", selector="details[data-level='L4-L5']")
            tab.close()
            tab = browser.open(report, 1280, 1100)
            tab.screenshot(IMAGES / "library-report.png")
            tab.evaluate("document.getElementById('blocking').scrollIntoView()")
            tab.screenshot(IMAGES / "library-report-blocking.png")
            tab.close()
    for name in sorted(p.name for p in IMAGES.glob("*.png")):
        print(f"docs/images/{name}")


if __name__ == "__main__":
    main()
