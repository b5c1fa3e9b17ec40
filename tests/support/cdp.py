"""A tiny Chrome DevTools Protocol client over ``--remote-debugging-pipe`` (no dependency, no port).

Headless Chromium (Debian package ``chromium``) reads commands on fd 3 and writes replies and
events on fd 4, each a JSON message ended by a NUL byte.  :func:`load_page` opens one file at a
given width and returns what the report test needs: every request the page made, script errors,
console errors, and the value of a JavaScript expression evaluated in the page; optionally a
full-page PNG screenshot.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def chromium_path() -> str | None:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _high(fd: int) -> int:
    import fcntl

    new = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return new


class _Pipe:
    def __init__(self, exe: str, profile: str):
        to_r, self._to_w = os.pipe()
        self._from_r, from_w = os.pipe()
        # above 9, so that bash's 3<& and 4>& never overwrite one end with the other (dash takes one digit only)
        to_r, from_w = (_high(fd) for fd in (to_r, from_w))
        cmd = (
            f'exec "{exe}" --headless --no-sandbox --disable-gpu --no-first-run --no-default-browser-check '
            f"--disable-extensions --disable-background-networking --disable-sync --hide-scrollbars "
            f'--user-data-dir="{profile}" --remote-debugging-pipe 3<&{to_r} 4>&{from_w}'
        )
        self.proc = subprocess.Popen(
            ["bash", "-c", cmd],
            pass_fds=(to_r, from_w),
            stdout=subprocess.DEVNULL,
            stderr=None if os.environ.get("CDP_DEBUG") else subprocess.DEVNULL,
        )
        os.close(to_r)
        os.close(from_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict] = []

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            if time.monotonic() > deadline:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._from_r, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        for ev in self.events:
            if ev.get("method") == method:
                return ev
        while True:
            ev = self._read_message(deadline)
            self.events.append(ev)
            if ev.get("method") == method:
                return ev

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_w)
        os.close(self._from_r)


def load_page(
    path: Path,
    expression: str,
    *,
    width: int = 1280,
    height: int = 900,
    screenshot: Path | None = None,
    exe: str | None = None,
    scale: float = 1,
    mobile: bool = False,
) -> dict:
    """Open ``path`` (a local file) at ``width`` px (``scale``: device pixels a CSS pixel, ``mobile``:
    a phone's viewport); returns ``requests`` (URLs), ``exceptions``
    (uncaught script errors), ``console_errors``, ``value`` (the expression's JSON value)."""
    exe = exe or chromium_path()
    if not exe:
        raise FileNotFoundError("chromium")
    url = Path(path).resolve().as_uri()
    with tempfile.TemporaryDirectory(prefix="cdp-") as profile:
        b = _Pipe(exe, profile)
        try:
            target = b.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            s = b.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Network", "Runtime", "Page", "Log"):
                b.send(f"{domain}.enable", session=s)
            b.send(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": scale, "mobile": mobile},
                session=s,
            )
            b.events.clear()
            b.send("Page.navigate", {"url": url}, session=s)
            b.wait_event("Page.loadEventFired")
            time.sleep(0.3)  # anything the page would fetch after load
            value = b.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=s)[
                "result"
            ].get("value")
            if screenshot:
                h = b.send(
                    "Runtime.evaluate",
                    {"expression": "document.documentElement.scrollHeight", "returnByValue": True},
                    session=s,
                )["result"]["value"]
                shot = b.send(
                    "Page.captureScreenshot",
                    {
                        "format": "png",
                        "captureBeyondViewport": True,
                        "clip": {"x": 0, "y": 0, "width": width, "height": h, "scale": 1},
                    },
                    session=s,
                )
                Path(screenshot).write_bytes(base64.b64decode(shot["data"]))
            events = list(b.events)
        finally:
            b.close()
    return {
        "requests": [e["params"]["request"]["url"] for e in events if e.get("method") == "Network.requestWillBeSent"],
        "exceptions": [
            e["params"]["exceptionDetails"].get("text", "")
            for e in events
            if e.get("method") == "Runtime.exceptionThrown"
        ],
        "console_errors": [
            e["params"]["entry"].get("text", "")
            for e in events
            if e.get("method") == "Log.entryAdded" and e["params"]["entry"].get("level") == "error"
        ]
        + [
            str(e["params"].get("args"))
            for e in events
            if e.get("method") == "Runtime.consoleAPICalled" and e["params"].get("type") == "error"
        ],
        "value": value,
    }
