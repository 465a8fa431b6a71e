"""Settings of the escalation service (environment variables ``TANDEM_ESCALATION_*``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict
from tandem_platform.settings import ServiceSettings


class EscalationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TANDEM_ESCALATION_", extra="ignore")

    http_port: int = 8003
    postgres_dsn: str = "postgresql://tandem:tandem@127.0.0.1:55432/tandem"
    postgres_pool_size: int = Field(default=10, ge=1, le=100)
    group_id: str = "tandem-escalation"
    # Where a consumer group without committed offsets starts. "earliest" in production (a
    # new deployment must not skip events); tests with a throwaway group use "latest".
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    outbox_poll_interval_seconds: float = Field(default=1.0, gt=0.0)
    redis_url: str = "redis://127.0.0.1:56379/0"
    # An agent whose last heartbeat is older than this is away (the gateway sends one every
    # ~15 s while the console is open).
    presence_ttl_seconds: float = Field(default=45.0, gt=0.0, le=3600.0)
    # How often expired presence and the queues are checked.
    sweep_interval_seconds: float = Field(default=2.0, gt=0.0, le=300.0)
    # The multilingual embedding model (classifiers, repeated questions); off: lexicon and
    # token similarity only.
    embeddings_enabled: bool = True
    # One thread: a question embeds in ~20 ms either way, and the cores are shared.
    embedding_threads: int | None = Field(default=1, ge=1, le=64)
