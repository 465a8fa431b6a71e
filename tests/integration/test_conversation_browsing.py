"""The conversation service's list endpoint as the dashboard uses it, on real PostgreSQL:
every filter is SQL on the service's own tables, within one site, paged by cursor, and the
text search uses its full-text index.

A throwaway database gets the service's migrations; rows are written as the service
writes them (``ensure_conversation``, then the columns its handlers maintain), and the
internal API is called in-process.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from tandem_conversation.adapters import repository as repo
from tandem_conversation.adapters.schema import MIGRATIONS, SCHEMA
from tandem_conversation.entrypoints import internal_api
from tandem_platform.postgres import Pool

from tests.integration.stack import Stack, migrated_pool

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:8]
SITE = "browse-a"
OTHER = "browse-b"
DAY = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
async def pool(stack: Stack) -> AsyncIterator[Pool]:
    async with migrated_pool(stack, f"conv_browse_{RUN}", SCHEMA, MIGRATIONS) as opened:
        yield opened


@dataclass
class Seeded:
    ids: dict[str, uuid.UUID]


async def _conversation(
    pool: Pool,
    *,
    site: str,
    created_at: datetime,
    status: str = "active",
    confidence: float | None = None,
    language: str | None = None,
    locale: str | None = None,
    escalation_reason: str | None = None,
    visitor_name: str | None = None,
    messages: tuple[tuple[str, str], ...] = (),
) -> uuid.UUID:
    conversation_id = uuid.uuid4()
    async with pool.connection() as conn, conn.transaction():
        await repo.ensure_conversation(
            conn, conversation_id, site, visitor_name=visitor_name, locale=locale
        )
        await conn.execute(
            "UPDATE conversation.conversations SET created_at = %s, status = %s, "
            "last_confidence = %s, language = %s, escalation_reason = %s, "
            "last_activity_at = %s WHERE conversation_id = %s",
            (
                created_at,
                status,
                confidence,
                language,
                escalation_reason,
                created_at,
                conversation_id,
            ),
        )
        for seq, (author, text) in enumerate(messages, start=1):
            await conn.execute(
                "INSERT INTO conversation.messages (message_id, conversation_id, seq, author, "
                "text, created_at) VALUES (%s, %s, %s, %s, %s, %s)",
                (uuid.uuid4(), conversation_id, seq, author, text, created_at),
            )
    return conversation_id


@pytest.fixture(scope="module")
async def seeded(pool: Pool) -> Seeded:
    ids = {
        "old_resolved_fr": await _conversation(
            pool,
            site=SITE,
            created_at=DAY - timedelta(days=5),
            status="resolved",
            confidence=0.91,
            language="fr",
            messages=(("visitor", "Bonjour, où est ma commande ?"), ("ai", "Elle arrive demain.")),
        ),
        "low_pending_escalated": await _conversation(
            pool,
            site=SITE,
            created_at=DAY,
            status="pending",
            confidence=0.2,
            language="en",
            escalation_reason="low_confidence",
            visitor_name="Dora Example",
            messages=(("visitor", "My parcel is late, order 4711"), ("ai", "Sorry about that.")),
        ),
        "medium_ptbr": await _conversation(
            pool,
            site=SITE,
            created_at=DAY + timedelta(hours=1),
            confidence=0.6,
            locale="pt-BR",
            messages=(("visitor", "Qual é o prazo de entrega?"),),
        ),
        "no_answer_yet": await _conversation(
            pool,
            site=SITE,
            created_at=DAY + timedelta(hours=2),
            messages=(("visitor", "Discount code 100% off?"),),
        ),
        "agent_typed": await _conversation(
            pool,
            site=SITE,
            created_at=DAY + timedelta(hours=3),
            confidence=0.85,
            language="en",
            messages=(
                ("visitor", "hello"),
                ("ai", "The pelican protocol is supported."),
                ("agent", "I have issued the refund for your pelican order."),
            ),
        ),
        "other_site": await _conversation(
            pool,
            site=OTHER,
            created_at=DAY,
            status="pending",
            confidence=0.2,
            language="en",
            escalation_reason="low_confidence",
            visitor_name="Dora Example",
            messages=(("visitor", "My parcel is late, order 4711"),),
        ),
    }
    return Seeded(ids)


@pytest.fixture
async def api(pool: Pool) -> AsyncIterator[AsyncClient]:
    app = FastAPI()
    app.include_router(internal_api.router)
    app.state.pool = pool
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client:
        yield client


async def listed(api: AsyncClient, seeded: Seeded, site: str = SITE, **params: Any) -> list[str]:
    response = await api.get("/internal/conversations", params={"site_id": site, **params})
    assert response.status_code == 200, response.text
    names = {v: k for k, v in seeded.ids.items()}
    body = response.json()
    assert all(c["site_id"] == site for c in body["conversations"])
    return [names[uuid.UUID(c["conversation_id"])] for c in body["conversations"]]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {},
            {
                "old_resolved_fr",
                "low_pending_escalated",
                "medium_ptbr",
                "no_answer_yet",
                "agent_typed",
            },
        ),
        ({"status": "resolved"}, {"old_resolved_fr"}),
        ({"confidence": "low"}, {"low_pending_escalated"}),
        ({"confidence": "medium"}, {"medium_ptbr"}),
        ({"confidence": "high"}, {"old_resolved_fr", "agent_typed"}),
        ({"confidence": "none"}, {"no_answer_yet"}),
        ({"language": "pt"}, {"medium_ptbr"}),
        ({"language": "PT-br"}, {"medium_ptbr"}),
        ({"language": "pt-PT"}, set()),
        ({"language": "en"}, {"low_pending_escalated", "agent_typed"}),
        ({"escalated": "true"}, {"low_pending_escalated"}),
        (
            {"escalated": "false"},
            {"old_resolved_fr", "medium_ptbr", "no_answer_yet", "agent_typed"},
        ),
        (
            {
                "created_from": DAY.isoformat(),
                "created_before": (DAY + timedelta(hours=2)).isoformat(),
            },
            {"low_pending_escalated", "medium_ptbr"},
        ),
        # Text search: whole words of what visitors and agents typed, in any language...
        ({"q": "parcel"}, {"low_pending_escalated"}),
        ({"q": "PARCEL late"}, {"low_pending_escalated"}),
        ({"q": "commande"}, {"old_resolved_fr"}),
        ({"q": "refund"}, {"agent_typed"}),
        ({"q": '"parcel is late"'}, {"low_pending_escalated"}),
        ({"q": "parcel -4711"}, set()),
        # ... never the AI's answers ("protocol" only the AI said) ...
        ({"q": "protocol"}, set()),
        ({"q": "demain"}, set()),
        # ... the conversation's own fields by substring, wildcards taken literally ...
        ({"q": "dora ex"}, {"low_pending_escalated"}),
        ({"q": "confidence"}, {"low_pending_escalated"}),
        ({"q": "100%"}, {"no_answer_yet"}),
        ({"q": "%"}, set()),  # not "anything": no field holds a "%"
        ({"q": "_"}, {"low_pending_escalated"}),  # low_confidence
        # ... and filters combine.
        ({"q": "pelican", "confidence": "low"}, set()),
        ({"q": "pelican", "language": "en", "status": "active"}, {"agent_typed"}),
    ],
)
async def test_filters(
    api: AsyncClient, seeded: Seeded, params: dict[str, str], expected: set[str]
) -> None:
    assert set(await listed(api, seeded, **params)) == expected


async def test_another_site_is_never_listed_whatever_matches(
    api: AsyncClient, seeded: Seeded
) -> None:
    for params in ({}, {"q": "parcel"}, {"q": "Dora"}, {"q": str(seeded.ids["other_site"])}):
        assert "other_site" not in await listed(api, seeded, **params), params
    # Control: the other site finds its own.
    assert await listed(api, seeded, site=OTHER, q="parcel") == ["other_site"]


async def test_a_search_for_an_id_finds_that_conversation(api: AsyncClient, seeded: Seeded) -> None:
    assert await listed(api, seeded, q=str(seeded.ids["medium_ptbr"])) == ["medium_ptbr"]


async def test_newest_first_paged_by_cursor_with_a_total(api: AsyncClient, seeded: Seeded) -> None:
    seen: list[str] = []
    cursor = None
    names = {v: k for k, v in seeded.ids.items()}
    for _ in range(5):
        params: dict[str, Any] = {
            "site_id": SITE,
            "order": "created",
            "limit": 2,
            "with_total": True,
        }
        if cursor:
            params["cursor"] = cursor
        body = (await api.get("/internal/conversations", params=params)).json()
        assert body["total"] == 5 and body["total_capped"] is False
        seen += [names[uuid.UUID(c["conversation_id"])] for c in body["conversations"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [
        "agent_typed",
        "no_answer_yet",
        "medium_ptbr",
        "low_pending_escalated",
        "old_resolved_fr",
    ]


async def test_the_total_counts_the_filtered_set(api: AsyncClient, seeded: Seeded) -> None:
    body = (
        await api.get(
            "/internal/conversations",
            params={"site_id": SITE, "confidence": "high", "with_total": True, "limit": 1},
        )
    ).json()
    assert body["total"] == 2 and len(body["conversations"]) == 1


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "garbage"},
        {"cursor": "Zm9v", "order": "created"},
        {"order": "created", "waiting": "true"},
        {"confidence": "very"},
        {"language": "<x>"},
        {"q": "nul\x00"},
        {"created_from": "2026-11-10T00:00:00", "created_before": "2026-11-11T00:00:00Z"},
        {"created_from": "2026-11-12T00:00:00Z", "created_before": "2026-11-11T00:00:00Z"},
        {"status": "nope"},
        {"order": "sideways"},
    ],
)
async def test_bad_queries_are_422(
    api: AsyncClient, seeded: Seeded, params: dict[str, str]
) -> None:
    response = await api.get("/internal/conversations", params={"site_id": SITE, **params})
    assert response.status_code == 422, response.text


async def test_the_text_search_can_use_its_index(pool: Pool, seeded: Seeded) -> None:
    """The migration's index expression and the query's must stay identical."""
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")
        cur = await conn.execute(
            f"EXPLAIN SELECT 1 FROM conversation.messages m WHERE {repo.TYPED_TEXT_PREDICATE}",
            {"text": "parcel"},
        )
        plan = " ".join(str(row) for row in await cur.fetchall())
    assert "messages_typed_text" in plan, plan
