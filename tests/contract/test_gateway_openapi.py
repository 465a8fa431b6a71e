"""Every operation in the gateway's OpenAPI document, fed generated requests (valid and
invalid ones: schemathesis's examples, coverage and fuzzing phases) with real credentials:
the gateway must never answer with a server error, and must answer only with the status
codes, content types and bodies its document declares.

The summary (operations, requests, statuses, failures) is written to
test-artifacts/schemathesis-summary.txt.
"""

from __future__ import annotations

import zlib
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.contract.conftest import ContractSummary, ContractTenant
from tests.e2e.client import REPO, running_stack_env

pytestmark = pytest.mark.e2e

#: Per operation and phase: ~40 operations run in about 1.5 minutes on 2 cores.
MAX_EXAMPLES = 20
REQUEST_TIMEOUT_SECONDS = 20

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

OPENAPI_PATH = REPO / "services" / "gateway" / "openapi.json"


def load_schema() -> schemathesis.BaseSchema:
    """The document the running gateway serves (it may be ahead of the committed copy while
    routes are being added); the committed one when no gateway answers, so the tests still
    collect (they then fail on the ``running`` fixture)."""
    gateway = running_stack_env().get("GATEWAY_URL", "http://127.0.0.1:8000")
    try:
        served = httpx.get(f"{gateway}/openapi.json", timeout=5)
        served.raise_for_status()
        return schemathesis.openapi.from_dict(served.json())
    except (httpx.HTTPError, ValueError):
        return schemathesis.openapi.from_path(OPENAPI_PATH)


# Loaded at collection, so every operation is a test of its own.
schema = load_schema()


def _uses_real_conversation(generated: Any) -> bool:
    """Half the generated conversation ids (chosen deterministically, so Hypothesis can
    replay and shrink) are swapped for the tenant's real conversation: random ids only
    reach the "unknown conversation" branch."""
    return zlib.crc32(repr(generated).encode()) % 2 == 0


def authenticate(case: schemathesis.Case, tenant: ContractTenant) -> dict[str, str]:
    """The credentials the operation's security scheme asks for, and the real ids that go
    with them; returns the headers to send."""
    path, method = case.operation.path, case.operation.method.upper()
    headers = {"X-Forwarded-For": tenant.client_address}
    conversation = case.path_parameters.get("conversation_id") if case.path_parameters else None
    if path.startswith("/v1/widget/conversations/{conversation_id}"):
        if method == "DELETE":
            if _uses_real_conversation(conversation):
                case.path_parameters["conversation_id"] = tenant.deletable_conversation_id
            headers["Authorization"] = f"Bearer {tenant.deletable_visitor_token}"
        else:
            if _uses_real_conversation(conversation):
                case.path_parameters["conversation_id"] = tenant.conversation_id
            headers["Authorization"] = f"Bearer {tenant.visitor_token}"
    elif path in ("/v1/widget/conversations", "/v1/widget/config"):
        headers["X-Site-Key"] = tenant.site_key
    elif path == "/v1/agent/logout":
        headers["Authorization"] = f"Bearer {tenant.logout_access_token}"
    elif path.startswith(("/v1/agent/", "/v1/admin/")) and path not in (
        "/v1/agent/login",
        "/v1/agent/refresh",
    ):
        if conversation is not None and _uses_real_conversation(conversation):
            case.path_parameters["conversation_id"] = tenant.conversation_id
        headers["Authorization"] = f"Bearer {tenant.agent_access_token}"
    return headers


@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)
@schema.parametrize()
def test_gateway_never_answers_a_generated_request_with_a_server_error(
    case: schemathesis.Case,
    running: dict[str, str],
    contract_tenant: ContractTenant,
    contract_summary: ContractSummary,
) -> None:
    headers = authenticate(case, contract_tenant)
    label = case.operation.label
    try:
        response = case.call(
            base_url=running["GATEWAY_URL"], headers=headers, timeout=REQUEST_TIMEOUT_SECONDS
        )
    except Exception as exc:  # a dropped connection is as much a failure as a 500
        contract_summary.fail(label, f"no response: {type(exc).__name__}: {exc}"[:300])
        raise
    contract_summary.record(label, response.status_code)
    try:
        case.validate_response(response, checks=CHECKS, headers=headers)
    except (Exception, BaseExceptionGroup) as exc:
        problems = exc.exceptions if isinstance(exc, BaseExceptionGroup) else (exc,)
        for problem in problems:
            title = getattr(problem, "title", None) or type(problem).__name__
            contract_summary.fail(label, f"{title} (got {response.status_code})")
        raise
