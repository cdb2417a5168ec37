"""Headless Chromium, driven over the DevTools protocol on a pipe.

Used by the page tests and by docs/screenshots.py.  It needs nothing beyond
the standard library: with ``--remote-debugging-pipe`` Chromium reads
commands on file descriptor 3 and writes replies and events on 4, each a JSON
message ended by a NUL byte.  One ``Browser`` is one Chromium process with a
profile of its own in a temporary folder; each ``Tab`` records what the page
did that a test asserts on: console errors, uncaught exceptions, and every
request it made.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

#: The Debian package that provides the browser (``apt-get install chromium``).
PACKAGE = "chromium"

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio", "--remote-debugging-pipe",
)
TIMEOUT = 60.0


def executable() -> str | None:
    """The Chromium to run: $NECESSITY_CHROMIUM, else ``chromium`` on the PATH."""
    return os.environ.get("NECESSITY_CHROMIUM") or shutil.which("chromium")


class BrowserError(RuntimeError):
    pass


class Browser:
    def __init__(self, path: str | None = None):
        path = path or executable()
        if path is None:
            raise BrowserError(f"no Chromium: install the Debian package {PACKAGE!r} (apt-get install {PACKAGE})")
        self.profile = tempfile.mkdtemp(prefix="necessity-chromium-")
        commands_r, self._commands = os.pipe()
        self._replies, replies_w = os.pipe()

        def descriptors() -> None:  # in the child: the protocol's two pipes as fds 3 and 4
            os.dup2(commands_r, 3)
            os.dup2(replies_w, 4)

        self.process = subprocess.Popen(
            [path, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            pass_fds=(3, 4), preexec_fn=descriptors,  # noqa: PLW1509 - no threads are started before this
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(commands_r)
        os.close(replies_w)
        self._buffer = b""
        self._next = 0
        self.events: dict[str | None, list[dict[str, Any]]] = {}
        self.version = self.call("Browser.getVersion")["product"]

    # -- the protocol ------------------------------------------------------

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._replies], [], [], left)[0]:
                raise BrowserError("Chromium did not answer in time")
            chunk = os.read(self._replies, 1 << 16)
            if not chunk:
                raise BrowserError(f"Chromium ended (exit status {self.process.poll()})")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode("utf-8") + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.setdefault(reply.get("sessionId"), []).append(reply)

    def wait_for(self, method: str, session: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The first event ``method`` of the session not yet waited for."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            events = self.events.get(session, [])
            for event in events[seen:]:
                if event["method"] == method and not event.get("_taken"):
                    event["_taken"] = True
                    return event
            seen = len(events)
            reply = self._read(deadline)
            if "method" in reply:
                self.events.setdefault(reply.get("sessionId"), []).append(reply)

    # -- pages -------------------------------------------------------------

    def open(self, path: Path, width: int = 1280, height: int = 800, script: bool = True,
             media: str = "") -> Tab:
        """``path`` loaded from disk in a new tab of ``width`` × ``height`` CSS pixels."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        tab = Tab(self, target, session, Path(path).resolve().as_uri())
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=session)
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session)
        if not script:
            self.call("Emulation.setScriptExecutionDisabled", {"value": True}, session)
        if media:
            self.call("Emulation.setEmulatedMedia", {"media": media}, session)
        self.call("Page.navigate", {"url": tab.url}, session)
        self.wait_for("Page.loadEventFired", session)
        return tab

    def close(self) -> None:
        try:
            if self.process.poll() is None:
                self.call("Browser.close")
                self.process.wait(timeout=10)
        except (BrowserError, OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        finally:
            for fd in (self._commands, self._replies):
                try:
                    os.close(fd)
                except OSError:
                    pass
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Tab:
    def __init__(self, browser: Browser, target: str, session: str, url: str):
        self.browser, self.target, self.session, self.url = browser, target, session, url

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.browser.call(method, params, self.session)

    def evaluate(self, expression: str) -> Any:
        reply = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in reply:
            raise BrowserError(f"{expression}: {reply['exceptionDetails'].get('text')}")
        return reply["result"].get("value")

    def key(self, key: str, code: int) -> None:
        """A key pressed and released on the focused element."""
        text = {"Enter": "\r", " ": " "}.get(key, "")
        for kind in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", {"type": kind, "key": key, "code": "Space" if key == " " else key,
                                                 "windowsVirtualKeyCode": code, "text": text if kind == "keyDown" else ""})

    def click(self, selector: str) -> None:
        """A mouse click in the middle of the first element ``selector`` finds."""
        box = self.evaluate(f"(() => {{ const r = document.querySelector({json.dumps(selector)})"
                            ".getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1], "button": "left", "clickCount": 1})

    def screenshot(self, path: Path, full: bool = False, selector: str | None = None) -> Path:
        """The window as a PNG; with ``full`` the whole page, with ``selector`` one element of it."""
        params: dict[str, Any] = {"format": "png"}
        if selector is not None:
            x, y, width, height = self.evaluate(
                f"(() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
                " return [r.left + scrollX, r.top + scrollY, r.width, r.height]; })()")
            params.update(captureBeyondViewport=True, clip={"x": x, "y": y, "width": width, "height": height, "scale": 1})
        elif full:
            width, height = self.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
            params.update(captureBeyondViewport=True, clip={"x": 0, "y": 0, "width": width, "height": height, "scale": 1})
        Path(path).write_bytes(base64.b64decode(self.call("Page.captureScreenshot", params)["data"]))
        return Path(path)

    @property
    def events(self) -> list[dict[str, Any]]:
        return self.browser.events.get(self.session, [])

    def requests(self) -> list[str]:
        """Every URL the page asked for, itself included."""
        return [e["params"]["request"]["url"] for e in self.events if e["method"] == "Network.requestWillBeSent"]

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and browser errors (a blocked load, a refused script)."""
        out = []
        for e in self.events:
            p = e["params"]
            if e["method"] == "Runtime.exceptionThrown":
                details = p["exceptionDetails"]
                out.append(details.get("exception", {}).get("description") or details.get("text", "exception"))
            elif e["method"] == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert"):
                out.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p["args"]))
            elif e["method"] == "Log.entryAdded" and p["entry"]["level"] == "error":
                out.append(p["entry"]["text"])
        return out

    def close(self) -> None:
        self.browser.call("Target.closeTarget", {"targetId": self.target})
