"""End-to-end tests run against the services `make test` starts (see deploy/local/services.sh)."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.client import running_stack_env

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def running() -> dict[str, str]:
    env = running_stack_env()
    missing = [k for k in ("GATEWAY_URL", "DEMO_SITE_KEY") if not env.get(k)]
    if missing:
        raise RuntimeError(
            f"end-to-end tests need the running services ({', '.join(missing)} unknown): "
            "run them through `make test`, or `make up` first"
        )
    try:
        httpx.get(f"{env['GATEWAY_URL']}/readyz", timeout=5).raise_for_status()
    except httpx.HTTPError as exc:
        raise RuntimeError(f"the gateway at {env['GATEWAY_URL']} is not ready: {exc}") from exc
    return env


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)
