"""The HTML report in a real headless Chromium, driven through ChromeDriver's W3C WebDriver
protocol (plain HTTP): the page loads from a file with no console error, every figure has a
non-zero rendered size, and a full-page screenshot is written.

Chromium and ChromeDriver come from Debian's packages (``.ci/run`` installs them); where they
are missing the test skips, unless ``BNNSIM_REQUIRE_CHROMIUM=1`` (set by ``.ci/run``) makes
that a failure.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from bnnsim.cli import main

CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1280,900"]


def _binaries() -> tuple[str, str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not (chromium and driver):
        if os.environ.get("BNNSIM_REQUIRE_CHROMIUM") == "1":
            pytest.fail("Chromium or ChromeDriver is missing although .ci/run installs them")
        pytest.skip("Chromium and ChromeDriver are not installed (.ci/run installs them)")
    return chromium, driver


class Driver:
    """A minimal W3C WebDriver client over ChromeDriver."""

    def __init__(self, chromium: str, driver: str) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.proc = subprocess.Popen([driver, f"--port={self.port}"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.profile = tempfile.mkdtemp(prefix="bnnsim-chromium-")
        deadline = time.monotonic() + 20
        while True:
            try:
                self._call("GET", "/status")
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium,
                                   "args": [*CHROMIUM_FLAGS,
                                            f"--user-data-dir={self.profile}"]},
            "goog:loggingPrefs": {"browser": "ALL"},
        }}}
        self.session = self._call("POST", "/session", caps)["sessionId"]

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data,
                                     method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())["value"]

    def do(self, method: str, path: str, body: Any = None) -> Any:
        return self._call(method, f"/session/{self.session}{path}", body)

    def close(self) -> None:
        try:
            self.do("DELETE", "")
        finally:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            shutil.rmtree(self.profile, ignore_errors=True)


def _check_page(index: Path, shot: Path) -> dict[str, Any]:
    chromium, driver = _binaries()
    d = Driver(chromium, driver)
    try:
        d.do("POST", "/url", {"url": index.resolve().as_uri()})
        state = d.do("POST", "/execute/sync", {"script": "return document.readyState",
                                              "args": []})
        sizes = d.do("POST", "/execute/sync", {"script": """
            return Array.from(document.querySelectorAll('figure')).map(f => {
              const s = f.querySelector('svg'); const r = s ? s.getBoundingClientRect()
                                                           : {width: 0, height: 0};
              return {id: f.id, width: r.width, height: r.height}; });""", "args": []})
        height = d.do("POST", "/execute/sync", {
            "script": "return document.documentElement.scrollHeight", "args": []})
        d.do("POST", "/window/rect", {"width": 1280, "height": min(int(height) + 40, 16000)})
        shot.write_bytes(base64.b64decode(d.do("GET", "/screenshot")))
        logs = d.do("POST", "/se/log", {"type": "browser"})
        title = d.do("GET", "/title")
    finally:
        d.close()
    return {"state": state, "figures": sizes, "logs": logs, "title": title}


@pytest.mark.parametrize("kind", ["design", "study"])
def test_report_page_in_headless_chromium(tmp_path, capsys, kind, study_storage):
    out = tmp_path / "rep"
    if kind == "design":
        argv = ["simulate", "--network", "bnn-cifar10", "--report", str(out)]
        expected = {"fig-cycles", "fig-energy", "fig-roofline", "fig-timeline"}
    else:
        storage, name = study_storage
        argv = ["report", "--storage", storage, "--study", name, "--out", str(out)]
        expected = {"fig-pareto", "fig-parallel", "fig-hypervolume"}
    assert main(argv) == 0, capsys.readouterr().err
    shot = tmp_path / "screenshot.png"
    seen = _check_page(out / "index.html", shot)
    assert seen["state"] == "complete" and seen["title"].startswith("bnnsim report")
    errors = [e for e in seen["logs"] if e.get("level") in ("SEVERE", "ERROR")]
    assert not errors, errors
    ids = {f["id"] for f in seen["figures"]}
    assert expected <= ids, ids
    for f in seen["figures"]:
        assert f["width"] > 100 and f["height"] > 100, f
    png = shot.read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000
