"""Each service installs and imports with only its own declared dependencies.

A uv workspace shares one lock file; `uv sync --package X` into a fresh environment proves
service X does not lean on a neighbour's dependencies. Uses only uv's local cache.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[1]
SERVICES = ("gateway", "conversation", "answering", "escalation", "analytics")


@pytest.mark.parametrize("service", SERVICES)
def test_service_imports_with_only_its_own_dependencies(service: str, tmp_path: Path) -> None:
    uv = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
    env = {
        **os.environ,
        "UV_PROJECT_ENVIRONMENT": str(tmp_path / "venv"),
        "UV_LINK_MODE": "hardlink",
    }
    env.pop("VIRTUAL_ENV", None)
    subprocess.run(
        [uv, "sync", "--frozen", "--offline", "--no-dev", "--package", f"tandem-{service}", "-q"],
        cwd=REPO,
        env=env,
        check=True,
        timeout=300,
    )
    result = subprocess.run(
        [
            str(tmp_path / "venv" / "bin" / "python"),
            "-c",
            f"import tandem_{service}.app, tandem_{service}.asyncapi; print('ok')",
        ],
        cwd=tmp_path,
        env={**env, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    other = [s for s in SERVICES if s != service]
    for neighbour in other:
        probe = subprocess.run(
            [str(tmp_path / "venv" / "bin" / "python"), "-c", f"import tandem_{neighbour}"],
            cwd=tmp_path,
            capture_output=True,
            timeout=60,
        )
        assert probe.returncode != 0, f"tandem_{neighbour} leaked into {service}'s environment"
