"""Where the integration tests find real servers.

Order of preference:
1. The servers named by environment variables (``make test`` starts the local stack with
   ``deploy/local/stack.sh`` and exports them from ``.run/stack.env``).
2. ``.run/stack.env`` itself, when the tests are run by hand after ``make stack-up``.
3. testcontainers, when a container engine answers.
Never an in-memory stand-in: without real servers the tests fail and say how to start them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from tandem_platform.postgres import Pool, migrate, open_pool

REPO = Path(__file__).resolve().parents[2]
KEYS = (
    "TANDEM_POSTGRES_DSN",
    "TANDEM_REDIS_URL",
    "TANDEM_KAFKA_BOOTSTRAP",
    "TANDEM_WEAVIATE_URL",
    "TANDEM_WEAVIATE_GRPC_PORT",
)


@dataclass(frozen=True)
class Stack:
    postgres_dsn: str
    redis_url: str
    kafka_bootstrap: str
    weaviate_url: str
    weaviate_grpc_port: int
    origin: str  # "env", "run-dir" or "testcontainers"


def _read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def _from_mapping(values: dict[str, str], origin: str) -> Stack:
    return Stack(
        postgres_dsn=values["TANDEM_POSTGRES_DSN"],
        redis_url=values["TANDEM_REDIS_URL"],
        kafka_bootstrap=values["TANDEM_KAFKA_BOOTSTRAP"],
        weaviate_url=values["TANDEM_WEAVIATE_URL"],
        weaviate_grpc_port=int(values["TANDEM_WEAVIATE_GRPC_PORT"]),
        origin=origin,
    )


def _container_engine_answers() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env().ping()
        return True
    except Exception:
        return False


@contextlib.contextmanager
def _testcontainers_stack() -> Iterator[Stack]:
    from testcontainers.core.container import DockerContainer  # type: ignore[import-untyped]
    from testcontainers.core.waiting_utils import wait_for_logs  # type: ignore[import-untyped]
    from testcontainers.kafka import KafkaContainer  # type: ignore[import-untyped]
    from testcontainers.postgres import PostgresContainer  # type: ignore[import-untyped]
    from testcontainers.redis import RedisContainer  # type: ignore[import-untyped]

    with contextlib.ExitStack() as stack:
        pg = stack.enter_context(
            PostgresContainer(
                "postgres:15", username="tandem", password="tandem", dbname="tandem_test"
            )
        )
        redis = stack.enter_context(RedisContainer("redis:7"))
        kafka = stack.enter_context(KafkaContainer("apache/kafka:4.1.1").with_kraft())
        weaviate = (
            DockerContainer("cr.weaviate.io/semitechnologies/weaviate:1.35.2")
            .with_env("AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED", "true")
            .with_env("DEFAULT_VECTORIZER_MODULE", "none")
            .with_env("CLUSTER_HOSTNAME", "node1")
            .with_exposed_ports(8080, 50051)
        )
        stack.enter_context(weaviate)
        wait_for_logs(weaviate, "Serving weaviate", timeout=120)
        dsn = pg.get_connection_url().replace("postgresql+psycopg2://", "postgresql://")
        yield Stack(
            postgres_dsn=dsn,
            redis_url=f"redis://{redis.get_container_host_ip()}:{redis.get_exposed_port(6379)}/0",
            kafka_bootstrap=kafka.get_bootstrap_server(),
            weaviate_url=f"http://{weaviate.get_container_host_ip()}:{weaviate.get_exposed_port(8080)}",
            weaviate_grpc_port=int(weaviate.get_exposed_port(50051)),
            origin="testcontainers",
        )


@contextlib.contextmanager
def real_stack() -> Iterator[Stack]:
    if all(os.environ.get(key) for key in KEYS):
        yield _from_mapping({k: os.environ[k] for k in KEYS}, "env")
        return
    run_dir = Path(os.environ.get("TANDEM_RUN_DIR", REPO / ".run"))
    env_file = run_dir / "stack.env"
    if env_file.exists():
        yield _from_mapping(_read_env_file(env_file), "run-dir")
        return
    if _container_engine_answers():
        with _testcontainers_stack() as stack:
            yield stack
        return
    raise RuntimeError(
        "no Kafka/PostgreSQL/Redis/Weaviate for the integration tests: run `make test` "
        "(starts the local stack), or `deploy/local/stack.sh up`, or provide a container engine"
    )


def with_path(url: str, path: str) -> str:
    """``url`` with its path replaced: another database of a Postgres DSN, another Redis db."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


@contextlib.asynccontextmanager
async def throwaway_database(stack: Stack, name: str) -> AsyncIterator[str]:
    """A Postgres database of its own (its DSN), dropped afterwards even with open sessions:
    nothing the running services do shows up in it, and it touches none of their schemas."""
    async with await psycopg.AsyncConnection.connect(stack.postgres_dsn, autocommit=True) as conn:
        await conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_path(stack.postgres_dsn, f"/{name}")
    finally:
        async with await psycopg.AsyncConnection.connect(
            stack.postgres_dsn, autocommit=True
        ) as conn:
            await conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextlib.asynccontextmanager
async def migrated_pool(
    stack: Stack, name: str, schema: str, migrations: Sequence[str]
) -> AsyncIterator[Pool]:
    """A pool on a database of its own (``throwaway_database``) with ``migrations`` applied
    to ``schema``; closed, and the database dropped, afterwards."""
    async with throwaway_database(stack, name) as dsn:
        pool = await open_pool(dsn)
        try:
            await migrate(pool, schema, migrations)
            yield pool
        finally:
            await pool.close()
