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
