"""The widget's browser tests (tests/browser, Node + playwright-core driving Debian's
Chromium) against the running services, reported through the Python suite."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def test_widget_in_a_real_browser(running: dict[str, str]) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: the browser tests need it")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    if not (REPO / "node_modules" / "playwright-core").exists():
        pytest.fail("node_modules/playwright-core is missing: run `npm ci` at the repository root")
    env = {**os.environ, **running, "CHROMIUM_PATH": CHROMIUM}
    result = subprocess.run(
        [node, "--test", "--test-reporter=tap", "tests/browser/"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    output = result.stdout + result.stderr
    counts = {k: int(v) for k, v in re.findall(r"^# (tests|pass|fail) (\d+)$", output, re.M)}
    assert result.returncode == 0, output[-8000:]
    assert counts.get("tests", 0) > 0 and counts.get("fail", 1) == 0, output[-8000:]
    assert counts["pass"] == counts["tests"], output[-8000:]


def test_widget_config_is_the_sites_look_and_only_for_its_origins(
    running: dict[str, str],
) -> None:
    gateway, key = running["GATEWAY_URL"], running["DEMO_SITE_KEY"]
    config = httpx.get(f"{gateway}/v1/widget/config", headers={"X-Site-Key": key}, timeout=10)
    assert config.status_code == 200, config.text
    body = config.json()
    assert body["greeting"]
    assert body["show_confidence"] is True
    assert body["widget"]["position"] in ("bottom-right", "bottom-left")
    assert "identity_secret" not in config.text and "allowed_origins" not in config.text
    foreign = httpx.get(
        f"{gateway}/v1/widget/config",
        headers={"X-Site-Key": key, "Origin": "https://evil.example"},
        timeout=10,
    )
    assert foreign.status_code == 403
    assert foreign.json()["error"]["code"] == "origin_not_allowed"
    unknown = httpx.get(
        f"{gateway}/v1/widget/config", headers={"X-Site-Key": "pk_nope_nope"}, timeout=10
    )
    assert unknown.status_code == 401


def test_running_gateway_serves_the_committed_widget(running: dict[str, str]) -> None:
    script = httpx.get(f"{running['GATEWAY_URL']}/widget.js", timeout=10)
    assert script.status_code == 200
    assert script.headers["access-control-allow-origin"] == "*"
    committed = REPO / "services" / "gateway" / "src" / "tandem_gateway" / "static" / "widget.js"
    assert script.content == committed.read_bytes(), "restart the gateway after rebuilding"
