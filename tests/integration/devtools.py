"""Headless Chromium driven over its DevTools protocol, for tests that must act on a page (choose a
team, reload, wait for the page's own refresh) and hear what the browser says about it.

`--dump-dom` and `--screenshot` (tests/integration/test_digest_chromium.py) load a page once and
exit; this keeps one page open and speaks the protocol over a websocket (`websockets`' synchronous
client). Every wait is bounded; `close()` ends the browser's whole process group.
"""
from __future__ import annotations

import base64
import itertools
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import connect

from tests.integration.integration_support import clean_env, wait_until
from tests.integration.test_digest_chromium import FLAGS  # the same quiet, offline browser

# Everything not on loopback goes to a closed port: whatever the page (or the browser) asks of the
# network fails here instead of leaving the machine. Loopback, where the monitor is, stays direct.
DEAD_PROXY = "http://127.0.0.1:9"


class DevToolsError(RuntimeError):
    pass


class Chromium:
    def __init__(self, binary: Path, workdir: Path, width: int, height: int) -> None:
        profile = workdir / "chromium-profile"
        self.log_path = workdir / "chromium.log"
        cmd = [str(binary), *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
               f"--window-size={width},{height}", f"--proxy-server={DEAD_PROXY}", "about:blank"]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            env=clean_env(HOME=str(workdir)), start_new_session=True)
        self.events: list[dict] = []
        self._ids = itertools.count(1)
        self.ws = None
        try:
            # --remote-debugging-port=0: Chromium picks a free port and writes it to this file.
            active = profile / "DevToolsActivePort"
            port = wait_until(lambda: active.is_file() and active.read_text().split()[0], 30,
                              "Chromium's DevTools port", on_timeout=self.log_tail)
            pages = wait_until(lambda: [t for t in httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=5,
                                                             trust_env=False).json() if t["type"] == "page"],
                               15, "Chromium's first page")
            self.ws = connect(pages[0]["webSocketDebuggerUrl"], max_size=None, open_timeout=10)
            self.send("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        except BaseException:
            self.close()
            raise

    def log_tail(self) -> str:
        try:
            return "--- Chromium log ---\n" + "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:])
        except OSError:
            return ""

    # ------------------------------------------------------------------ protocol
    def _receive(self, until: float) -> dict:
        remaining = until - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        message = json.loads(self.ws.recv(timeout=remaining))
        if "method" in message:
            self.events.append(message)
        return message

    def send(self, method: str, params: dict | None = None, timeout: float = 20.0) -> dict:
        """Call a protocol method and return its result; events arriving meanwhile are kept."""
        call = next(self._ids)
        self.ws.send(json.dumps({"id": call, "method": method, "params": params or {}}))
        until = time.monotonic() + timeout
        while True:
            try:
                message = self._receive(until)
            except TimeoutError:
                raise DevToolsError(f"{method}: no answer within {timeout:g} s") from None
            if message.get("id") == call:
                if "error" in message:
                    raise DevToolsError(f"{method}: {message['error']}")
                return message.get("result", {})

    def wait_event(self, method: str, after: int, timeout: float = 20.0) -> dict:
        """The first `method` event among those received from index `after` on."""
        until = time.monotonic() + timeout
        while True:
            for event in self.events[after:]:
                if event["method"] == method:
                    return event
            try:
                self._receive(until)
            except TimeoutError:
                raise DevToolsError(f"no {method} within {timeout:g} s") from None

    def listen(self, seconds: float) -> None:
        """Take in events for a while (console messages of a page that is only sitting there)."""
        until = time.monotonic() + seconds
        while True:
            try:
                self._receive(until)
            except TimeoutError:
                return

    def evaluate(self, expression: str, timeout: float = 10.0) -> Any:
        """The expression's value (JSON-able), awaited if it is a promise; a thrown error fails."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True}, timeout)
        if "exceptionDetails" in result:
            raise DevToolsError(f"{expression[:80]}…: {result['exceptionDetails']}")
        return result["result"].get("value")

    def navigate(self, url: str, timeout: float = 20.0) -> None:
        mark = len(self.events)
        self.send("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired", mark, timeout)

    def reload(self, timeout: float = 20.0) -> None:
        mark = len(self.events)
        self.send("Page.reload", {"ignoreCache": True})
        self.wait_event("Page.loadEventFired", mark, timeout)

    def click(self, selector: str) -> None:
        """A real mouse click (press and release) at the centre of the element."""
        box = self.evaluate(f"(() => {{ const r = document.querySelector({json.dumps(selector)})"
                            ".getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1], "button": "left",
                                                   "clickCount": 1})

    def screenshot(self) -> bytes:
        return base64.b64decode(self.send("Page.captureScreenshot", {"format": "png"})["data"])

    # ------------------------------------------------------------------ what the browser reported
    def errors(self) -> list[str]:
        """Uncaught exceptions, console.error/assert calls and the browser's own error entries
        (a failed load, a Content-Security-Policy violation)."""
        found = []
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(f"exception: {params['exceptionDetails']}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(f"console.{params['type']}: {[a.get('value') for a in params.get('args', [])]}")
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                found.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}")
        return found

    def requested(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events if e["method"] == "Network.requestWillBeSent"]

    def close(self) -> None:
        if self.ws is not None:
            self.ws.close()
        # Its own session: the renderer and GPU helpers go with it. TERM first (a clean exit), then
        # KILL for whatever is left of the group.
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
