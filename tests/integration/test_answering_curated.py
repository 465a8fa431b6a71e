"""Curated answers and per-site answering settings against real PostgreSQL with the real
model (all-MiniLM-L6-v2): storage and vectors, matching, the per-site cache across two
"replicas", re-embedding after a model change, the admin API, and the app's wiring.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import numpy as np
import psycopg
import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from tandem_answering.adapters.embedder import BatchingEncoder, load_model, model_version
from tandem_answering.adapters.repository import migrations
from tandem_answering.app import create_app
from tandem_answering.domain.curated import MAX_PER_SITE, CuratedContent
from tandem_answering.entrypoints import site_admin_api
from tandem_answering.service_layer.site_policy import (
    CuratedAnswerConflict,
    CuratedAnswerNotFound,
    Embed,
    SitePolicies,
)
from tandem_platform.postgres import Pool, migrate, open_pool

from tests.integration.stack import Stack
from tests.integration.test_answering_service import service_settings

pytestmark = pytest.mark.integration

DEFAULT_FALLBACK = "Default: let me find a person for you."
PASSWORD = CuratedContent(
    question="How do I reset my password?",
    answer="Open Settings, choose Security, then Reset password. The link is valid for 1 hour.",
    alternatives=("Password reset",),
    title="Resetting your password",
    url="https://help.example/password",
)
HOURS = CuratedContent(
    question="What are your opening hours?",
    answer="We are open 9:00 to 17:30, Monday to Saturday.",
)


@pytest.fixture(scope="module")
def encoder() -> BatchingEncoder:
    return BatchingEncoder(load_model("cpu"))


@pytest.fixture
async def pool(stack: Stack, drop_schema_after: str) -> AsyncIterator[Pool]:
    opened = await open_pool(stack.postgres_dsn, max_size=4)
    await migrate(opened, drop_schema_after, migrations(drop_schema_after))
    try:
        yield opened
    finally:
        await opened.close()


def policies(
    pool: Pool,
    schema: str,
    embed: Embed,
    *,
    version: str | None = None,
    cache_seconds: float = 5.0,
) -> SitePolicies:
    return SitePolicies(
        pool=pool,
        schema=schema,
        embed=embed,
        model_version=version or model_version(),
        default_threshold=0.5,
        default_fallback_text=DEFAULT_FALLBACK,
        cache_seconds=cache_seconds,
    )


def site() -> str:
    return f"shop-{uuid.uuid4().hex[:8]}"


async def test_pinned_answers_match_exactly_and_by_meaning_but_not_otherwise(
    pool: Pool, drop_schema_after: str, encoder: BatchingEncoder
) -> None:
    site_id = site()
    policy = policies(pool, drop_schema_after, encoder.encode)
    password = await policy.create_curated(site_id, PASSWORD)
    await policy.create_curated(site_id, HOURS)

    async def ask(question: str) -> tuple[str | None, float, bool]:
        found = await policy.match_curated(site_id, question, await encoder.encode_one(question))
        if found is None:
            return None, 0.0, False
        return found.entry.curated_id, found.similarity, found.exact

    assert await ask("how do I reset my PASSWORD") == (password.curated_id, 1.0, True)
    assert (await ask("password reset!"))[::2] == (password.curated_id, True)
    matched, similarity, exact = await ask("I forgot my password, how can I reset it?")
    assert matched == password.curated_id and not exact and 0.85 <= similarity < 1.0
    # Related but not the same question, and unrelated ones: the knowledge base answers.
    for question in (
        "How do I change my email address?",
        "What are your holiday opening hours at Christmas in the Berlin store?",
        "Do you sell gift cards?",
    ):
        assert (await ask(question))[0] is None, question
    # Another site never sees these entries.
    other = await policy.match_curated(
        site(), "How do I reset my password?", await encoder.encode_one("x")
    )
    assert other is None


async def test_vectors_are_stored_as_float32_with_their_model(
    pool: Pool, drop_schema_after: str, encoder: BatchingEncoder, stack: Stack
) -> None:
    site_id = site()
    created = await policies(pool, drop_schema_after, encoder.encode).create_curated(
        site_id, PASSWORD
    )
    async with await psycopg.AsyncConnection.connect(stack.postgres_dsn) as conn:
        cur = await conn.execute(
            f'SELECT embeddings, dimension, model_version FROM "{drop_schema_after}".'
            "curated_answers WHERE site_id = %s AND curated_id = %s",
            (site_id, created.curated_id),
        )
        data, dimension, version = await cur.fetchone()  # type: ignore[misc]
    stored = np.frombuffer(data, dtype="<f4").reshape(-1, dimension)
    expected = await encoder.encode(list(PASSWORD.phrasings))
    assert stored.shape == (2, 384) and version == model_version()
    np.testing.assert_allclose(stored, expected, atol=1e-6)


async def test_crud_rules(pool: Pool, drop_schema_after: str, encoder: BatchingEncoder) -> None:
    site_id = site()
    policy = policies(pool, drop_schema_after, encoder.encode)
    first = await policy.create_curated(site_id, PASSWORD)
    assert first.curated_id.startswith("ca_") and len(first.curated_id) == 25
    # The same words pinned twice would be ambiguous: refused, with the entry that has them.
    with pytest.raises(CuratedAnswerConflict, match=first.curated_id):
        await policy.create_curated(
            site_id,
            CuratedContent(question="Hours?", answer="9-5", alternatives=("password RESET",)),
        )
    # ...but another site may pin them, and an entry may keep its own words when edited.
    await policy.create_curated(site(), PASSWORD)
    edited = await policy.update_curated(
        site_id,
        first.curated_id,
        CuratedContent(question=PASSWORD.question, answer="New answer.", alternatives=()),
    )
    assert edited.content.answer == "New answer." and edited.created_at == first.created_at
    assert edited.updated_at > first.updated_at
    assert [a.curated_id for a in await policy.list_curated(site_id)] == [first.curated_id]
    with pytest.raises(CuratedAnswerNotFound):
        await policy.update_curated(site_id, "ca_" + "x" * 22, HOURS)
    # Ids belong to their site.
    assert await policy.get_curated(site(), first.curated_id) is None
    assert not await policy.delete_curated(site(), first.curated_id)
    assert await policy.delete_curated(site_id, first.curated_id)
    assert await policy.list_curated(site_id) == []


async def test_a_site_holds_a_bounded_number_of_entries(pool: Pool, drop_schema_after: str) -> None:
    async def cheap(texts: list[str]) -> np.ndarray:  # the count is the point, not meaning
        rows = np.random.default_rng(len(texts)).normal(size=(len(texts), 8))
        return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)

    site_id = site()
    policy = policies(pool, drop_schema_after, cheap)
    await asyncio.gather(
        *(
            policy.create_curated(site_id, CuratedContent(question=f"Question {i}", answer="A"))
            for i in range(MAX_PER_SITE)
        )
    )
    with pytest.raises(CuratedAnswerConflict, match=str(MAX_PER_SITE)):
        await policy.create_curated(site_id, CuratedContent(question="One more", answer="A"))
    assert len(await policy.list_curated(site_id)) == MAX_PER_SITE


async def test_settings_default_to_the_service_and_reach_other_replicas(
    pool: Pool, drop_schema_after: str, encoder: BatchingEncoder
) -> None:
    site_id = site()
    here = policies(pool, drop_schema_after, encoder.encode, cache_seconds=0.5)
    there = policies(pool, drop_schema_after, encoder.encode, cache_seconds=0.5)
    assert await here.threshold(site_id) == 0.5 and await there.threshold(site_id) == 0.5
    assert await there.fallback_text(site_id) == DEFAULT_FALLBACK

    view = await here.update_settings(site_id, {"answer_threshold": 0.72})
    assert view.answer_threshold == 0.72 and view.fallback_text == DEFAULT_FALLBACK
    assert await here.threshold(site_id) == 0.72  # this replica: at once
    assert await there.threshold(site_id) == 0.5  # the other: still its cached copy...
    await asyncio.sleep(0.6)
    assert await there.threshold(site_id) == 0.72  # ...until it expires

    await here.update_settings(site_id, {"fallback_text": "Ask Sam at the desk."})
    assert await here.threshold(site_id) == 0.72  # a field not named is kept
    assert await here.fallback_text(site_id) == "Ask Sam at the desk."
    await here.update_settings(site_id, {"answer_threshold": None})
    assert await here.threshold(site_id) == 0.5  # null: back to the default
    assert await here.threshold(site()) == 0.5  # other sites never changed

    # Curated answers reach the other replica the same way.
    assert await there.match_curated(site_id, HOURS.question, None) is None
    await here.create_curated(site_id, HOURS)
    assert await here.match_curated(site_id, HOURS.question, None) is not None
    await asyncio.sleep(0.6)
    assert await there.match_curated(site_id, HOURS.question, None) is not None


async def test_entries_of_another_model_are_reembedded_on_load(
    pool: Pool, drop_schema_after: str, encoder: BatchingEncoder, stack: Stack
) -> None:
    async def old_model(texts: list[str]) -> np.ndarray:
        rows = np.random.default_rng(7).normal(size=(len(texts), 384))
        return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)

    site_id = site()
    await policies(pool, drop_schema_after, old_model, version="old-model==1").create_curated(
        site_id, PASSWORD
    )
    calls: list[int] = []

    async def counting(texts: list[str]) -> np.ndarray:
        calls.append(len(texts))
        return await encoder.encode(texts)

    current = policies(pool, drop_schema_after, counting)
    question = "I forgot my password, how can I reset it?"
    # A vector of another model says nothing: before re-embedding, only exact words match...
    assert (
        await current.match_curated(
            site_id, question, await encoder.encode_one(question), vector_model_version="other"
        )
        is None
    )
    # ...and loading re-embedded the entry with the current model, once, and stored it.
    assert calls == [2]
    found = await current.match_curated(site_id, question, await encoder.encode_one(question))
    assert found is not None and not found.exact
    async with await psycopg.AsyncConnection.connect(stack.postgres_dsn) as conn:
        cur = await conn.execute(
            f'SELECT model_version FROM "{drop_schema_after}".curated_answers WHERE site_id = %s',
            (site_id,),
        )
        assert await cur.fetchone() == (model_version(),)
    fresh = policies(pool, drop_schema_after, counting)
    assert await fresh.match_curated(site_id, question, await encoder.encode_one(question))
    assert calls == [2]  # nothing left to re-embed


async def test_answers_go_on_with_the_defaults_when_postgres_cannot_be_read(
    stack: Stack, drop_schema_after: str, encoder: BatchingEncoder
) -> None:
    closed = await open_pool(stack.postgres_dsn, max_size=1)
    await migrate(closed, drop_schema_after, migrations(drop_schema_after))
    policy = policies(closed, drop_schema_after, encoder.encode)
    await closed.close()
    assert await policy.threshold("shop") == 0.5
    assert await policy.fallback_text("shop") == DEFAULT_FALLBACK
    assert await policy.match_curated("shop", "anything", None) is None


# -- the admin API --------------------------------------------------------------------------


@pytest.fixture
async def api(
    pool: Pool, drop_schema_after: str, encoder: BatchingEncoder
) -> AsyncIterator[AsyncClient]:
    app = FastAPI()
    app.include_router(site_admin_api.router)
    app.state.site_policies = policies(pool, drop_schema_after, encoder.encode)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://answering") as c:
        yield c


async def test_the_settings_api(api: AsyncClient) -> None:
    base = f"/v1/admin/sites/{site()}/answering-settings"
    got = await api.get(base)
    assert got.status_code == 200, got.text
    assert got.json() == {
        "site_id": base.split("/")[4],
        "answer_threshold": 0.5,
        "fallback_text": DEFAULT_FALLBACK,
        "uses_default": {"answer_threshold": True, "fallback_text": True},
        "defaults": {"answer_threshold": 0.5, "fallback_text": DEFAULT_FALLBACK},
    }
    put = await api.put(base, json={"answer_threshold": 0.8, "fallback_text": "Ask us."})
    assert put.status_code == 200, put.text
    assert put.json()["uses_default"] == {"answer_threshold": False, "fallback_text": False}
    kept = await api.put(base, json={})
    assert (kept.json()["answer_threshold"], kept.json()["fallback_text"]) == (0.8, "Ask us.")
    reset = await api.put(base, json={"fallback_text": None})
    assert reset.json()["fallback_text"] == DEFAULT_FALLBACK
    for body in (
        {"answer_threshold": 1.5},
        {"answer_threshold": -0.1},
        {"answer_threshold": "high"},
        {"fallback_text": ""},
        {"fallback_text": "   "},
        {"fallback_text": "x" * 1001},
        {"fallback_text": "nul\u0000"},
        {"site_id": "other"},
    ):
        refused = await api.put(base, json=body)
        assert refused.status_code == 422, (body, refused.text)
    assert (await api.get(base)).json()["answer_threshold"] == 0.8
    assert (await api.get("/v1/admin/sites/bad%20site/answering-settings")).status_code == 422


async def test_the_curated_answers_api(api: AsyncClient) -> None:
    site_id = site()
    base = f"/v1/admin/sites/{site_id}/curated-answers"
    body = {
        "question": "How do I reset my password?",
        "alternatives": ["Password reset", "password reset?"],
        "answer": "Open Settings, then Security.",
        "title": "Passwords",
        "url": "https://help.example/password",
    }
    created = await api.post(base, json=body)
    assert created.status_code == 201, created.text
    entry = created.json()
    curated_id = entry["curated_id"]
    assert entry["alternatives"] == ["Password reset"]  # the repeat is dropped
    assert (await api.get(f"{base}/{curated_id}")).json() == entry
    listed = (await api.get(base)).json()
    assert listed["total"] == 1 and listed["max_per_site"] == MAX_PER_SITE
    assert listed["curated_answers"] == [entry]

    changed = await api.put(f"{base}/{curated_id}", json={**body, "answer": "Settings > Security."})
    assert changed.status_code == 200 and changed.json()["answer"] == "Settings > Security."
    conflict = await api.post(base, json={**body, "alternatives": []})
    assert conflict.status_code == 409, conflict.text

    for bad in (
        {**body, "question": ""},
        {**body, "question": "two\nlines"},
        {**body, "answer": " "},
        {**body, "alternatives": ["x"] * 11},
        {**body, "url": "javascript:alert(1)"},
        {**body, "title": "nul\u0000"},
        {**body, "site_id": "other"},
        {"question": "only a question"},
    ):
        refused = await api.post(base, json=bad)
        assert refused.status_code == 422, (bad, refused.text)
        refused = await api.put(f"{base}/{curated_id}", json=bad)
        assert refused.status_code == 422, (bad, refused.text)

    other = f"/v1/admin/sites/{site()}/curated-answers"
    for method in ("GET", "DELETE"):
        assert (await api.request(method, f"{other}/{curated_id}")).status_code == 404
        assert (await api.request(method, f"{base}/ca_{'0' * 22}")).status_code == 404
        assert (await api.request(method, f"{base}/not-an-id")).status_code == 404
    assert (await api.put(f"{other}/{curated_id}", json=body)).status_code == 404
    assert (await api.get(other)).json()["total"] == 0

    assert (await api.delete(f"{base}/{curated_id}")).status_code == 204
    assert (await api.get(f"{base}/{curated_id}")).status_code == 404
    assert (await api.delete(f"{base}/{curated_id}")).status_code == 404


# -- the app's wiring -----------------------------------------------------------------------


async def test_the_app_builds_site_policies_and_mounts_their_api(
    stack: Stack, drop_schema_after: str
) -> None:
    app = create_app(service_settings(stack, drop_schema_after, answer_threshold=0.6))
    site_id = site()
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://answering") as client,
    ):
        policies_: SitePolicies = app.state.site_policies
        assert await policies_.threshold(site_id) == 0.6
        put = await client.put(
            f"/v1/admin/sites/{site_id}/answering-settings", json={"answer_threshold": 0.9}
        )
        assert put.status_code == 200, put.text
        assert await policies_.threshold(site_id) == 0.9
        created = await client.post(
            f"/v1/admin/sites/{site_id}/curated-answers",
            json={"question": HOURS.question, "answer": HOURS.answer},
        )
        assert created.status_code == 201, created.text
        assert await policies_.match_curated(site_id, "what are your opening hours", None)
    assert app.state.site_policies is None
