"""Contract tests: the gateway's published OpenAPI document, exercised against the running
services (``make up``) with generated requests. Like the end-to-end tests they need the
whole stack, so they carry the ``e2e`` marker.

Everything here lives on a site of its own (``contract-<random>``), with its own agent and
conversations, so the generated traffic never touches the demo site other tests use and
never counts against their rate limits (it comes from a private X-Forwarded-For address).
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis

from tests.e2e.client import REPO, running_stack_env

SUMMARY_PATH = REPO / "test-artifacts" / "schemathesis-summary.txt"
AGENT_PASSWORD = "contract-agent-password-0123"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/contract" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def running() -> dict[str, str]:
    env = running_stack_env()
    missing = [k for k in ("GATEWAY_URL", "CONVERSATION_URL", "ESCALATION_URL") if not env.get(k)]
    if missing:
        raise RuntimeError(
            f"contract tests need the running services ({', '.join(missing)} unknown): "
            "run `make up` first"
        )
    try:
        httpx.get(f"{env['GATEWAY_URL']}/readyz", timeout=5).raise_for_status()
    except httpx.HTTPError as exc:
        raise RuntimeError(f"the gateway at {env['GATEWAY_URL']} is not ready: {exc}") from exc
    return env


@dataclass(frozen=True)
class ContractTenant:
    """Real credentials on a fresh site: what the generated requests authenticate with."""

    site_id: str
    site_key: str
    conversation_id: str
    visitor_token: str
    #: A second conversation, the one DELETE may really delete.
    deletable_conversation_id: str
    deletable_visitor_token: str
    agent_access_token: str
    #: Signing out revokes the token it is sent with, so logout gets a session of its own.
    logout_access_token: str
    client_address: str


def _login(client: httpx.Client, gateway: str, email: str, address: str) -> str:
    response = client.post(
        f"{gateway}/v1/agent/login",
        json={"email": email, "password": AGENT_PASSWORD},
        headers={"X-Forwarded-For": address},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.fixture(scope="session")
def contract_tenant(running: dict[str, str]) -> ContractTenant:
    gateway = running["GATEWAY_URL"]
    run = uuid.uuid4().hex[:10]
    site_id = f"contract-{run}"
    octets = uuid.uuid4().bytes[:3]
    address = f"10.{octets[0]}.{octets[1]}.{octets[2]}"
    with httpx.Client(timeout=30) as client:
        site = client.put(
            f"{running['CONVERSATION_URL']}/internal/sites/{site_id}",
            json={"name": f"Contract {run}", "allowed_origins": [], "greeting": "Hello"},
        )
        assert site.status_code in (200, 201), site.text
        site_key = site.json()["public_key"]

        def start() -> tuple[str, str]:
            started = client.post(
                f"{gateway}/v1/widget/conversations",
                json={},
                headers={"X-Site-Key": site_key, "X-Forwarded-For": address},
            )
            assert started.status_code == 201, started.text
            return started.json()["conversation_id"], started.json()["visitor_token"]

        conversation_id, visitor_token = start()
        deletable_id, deletable_token = start()

        agent_id = uuid.uuid4().hex
        email = f"contract-{agent_id[:10]}@contract.example"
        agent = client.put(
            f"{running['ESCALATION_URL']}/internal/sites/{site_id}/agents/{agent_id}",
            json={
                "email": email,
                "name": "Contract Owner",
                "role": "owner",
                "skills": [],
                "languages": ["en"],
                "max_concurrent": 3,
                "password": AGENT_PASSWORD,
            },
        )
        assert agent.status_code in (200, 201), agent.text
        access = _login(client, gateway, email, address)
        logout_access = _login(client, gateway, email, address)
    return ContractTenant(
        site_id=site_id,
        site_key=site_key,
        conversation_id=conversation_id,
        visitor_token=visitor_token,
        deletable_conversation_id=deletable_id,
        deletable_visitor_token=deletable_token,
        agent_access_token=access,
        logout_access_token=logout_access,
        client_address=address,
    )


@dataclass
class ContractSummary:
    """What the run sent and got back, per operation, for the closing report."""

    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    failures: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def record(self, operation: str, status: int) -> None:
        self.statuses[operation][status] += 1

    def fail(self, operation: str, problem: str) -> None:
        if problem not in self.failures[operation]:
            self.failures[operation].append(problem)

    def render(self, version: str) -> str:
        examples = sum(sum(c.values()) for c in self.statuses.values())
        server_errors = sum(
            n for c in self.statuses.values() for status, n in c.items() if status >= 500
        )
        failed_operations = len(self.failures)
        lines = [
            f"schemathesis {version} against the gateway's OpenAPI document",
            f"operations tested: {len(self.statuses)}",
            f"requests sent (examples, incl. shrinking): {examples}",
            f"5xx responses: {server_errors}",
            f"operations with failures: {failed_operations}",
            "",
            "per operation (status: count):",
        ]
        for operation in sorted(self.statuses):
            counts = ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses[operation].items()))
            lines.append(f"  {operation:<72} {counts}")
        if self.failures:
            lines += ["", "failures:"]
            for operation, problems in sorted(self.failures.items()):
                for problem in problems:
                    lines.append(f"  {operation}: {problem}")
        return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def contract_summary() -> Iterator[ContractSummary]:
    summary = ContractSummary()
    yield summary
    if summary.statuses:
        SUMMARY_PATH.parent.mkdir(parents=True, exist_ok=True)
        Path(SUMMARY_PATH).write_text(summary.render(schemathesis.__version__))
        _written.append(SUMMARY_PATH)


_written: list[Path] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for path in _written:
        terminalreporter.write_sep("-", f"schemathesis summary ({path})")
        terminalreporter.write(path.read_text())
