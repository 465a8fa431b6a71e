"""Rate limits on the running stack: a burst of conversation starts from one client address
is refused with 429 once that address's budget is spent, while another site (and the same
site from another address) carries on.

The budget is read from the gateway's own ``X-RateLimit-Limit`` header, so the test holds
whatever the launcher configured (``deploy/local/services.sh`` sets larger budgets than
production for the test suites). Addresses are private and random (the gateway believes
X-Forwarded-For from localhost), so nothing else shares this test's budget.
"""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

pytestmark = pytest.mark.e2e

#: The test refuses to send bursts larger than this (a launcher with huge budgets).
MAX_BURST = 1000


def private_address() -> str:
    octets = uuid.uuid4().bytes[:3]
    return f"10.{octets[0]}.{octets[1]}.{max(1, octets[2])}"


async def make_site(client: httpx.AsyncClient, conversation_url: str, label: str) -> str:
    site_id = f"rl-{uuid.uuid4().hex[:10]}-{label}"
    response = await client.put(
        f"{conversation_url}/internal/sites/{site_id}",
        json={"name": f"Rate limits {label}", "allowed_origins": [], "greeting": "Hello"},
    )
    assert response.status_code in (200, 201), response.text
    return str(response.json()["public_key"])


async def test_a_burst_from_one_address_gets_429_while_another_site_is_unaffected(
    running: dict[str, str],
) -> None:
    gateway = running["GATEWAY_URL"]
    conversation_url = running.get("CONVERSATION_URL") or "http://127.0.0.1:8001"
    async with httpx.AsyncClient(timeout=30) as client:
        key_a = await make_site(client, conversation_url, "a")
        key_b = await make_site(client, conversation_url, "b")
        burst_address = private_address()

        async def start(site_key: str, address: str) -> httpx.Response:
            return await client.post(
                f"{gateway}/v1/widget/conversations",
                json={},
                headers={"X-Site-Key": site_key, "X-Forwarded-For": address},
            )

        first = await start(key_a, burst_address)
        assert first.status_code == 201, first.text
        budget = int(first.headers["X-RateLimit-Limit"])
        assert int(first.headers["X-RateLimit-Remaining"]) == budget - 1
        assert budget <= MAX_BURST, f"budget {budget}: too large to burst through in a test"

        # The whole budget at once, and then some (it refills while the burst runs).
        gate = asyncio.Semaphore(20)

        async def one() -> httpx.Response:
            async with gate:
                return await start(key_a, burst_address)

        answers = await asyncio.gather(*(one() for _ in range(budget + budget // 4 + 10)))
        statuses = [a.status_code for a in answers]
        assert set(statuses) <= {201, 429}, statuses
        assert statuses.count(201) >= budget // 2, statuses
        refused = next(a for a in answers if a.status_code == 429)
        assert refused.json() == {
            "error": {"code": "too_many_requests", "message": refused.json()["error"]["message"]}
        }
        assert "address" in refused.json()["error"]["message"]
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.headers["X-RateLimit-Remaining"] == "0"

        # Another site, from another address: unaffected.
        other_site = await start(key_b, private_address())
        assert other_site.status_code == 201, other_site.text
        # The same site from another address: unaffected too (the address was limited,
        # and its refused requests did not spend the site's budget).
        same_site = await start(key_a, private_address())
        assert same_site.status_code == 201, same_site.text
