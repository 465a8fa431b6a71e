"""The Kubernetes overlays build, and their topic and scaling caps agree with libs/events."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[1]


def test_kustomize_overlays_build_and_pass_the_manifest_checks() -> None:
    result = subprocess.run(
        ["bash", str(REPO / "deploy" / "k8s" / "check.sh")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
