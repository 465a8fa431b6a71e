"""Fixtures for tests against real Kafka, PostgreSQL, Redis and Weaviate."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import psycopg
import pytest

from tests.integration.stack import Stack, real_stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    with real_stack() as found:
        yield found


@pytest.fixture
def unique_schema() -> str:
    """A throwaway Postgres schema name, so tests never see each other's rows."""
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def drop_schema_after(stack: Stack, unique_schema: str) -> AsyncIterator[str]:
    yield unique_schema
    async with await psycopg.AsyncConnection.connect(stack.postgres_dsn, autocommit=True) as conn:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{unique_schema}" CASCADE')


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
