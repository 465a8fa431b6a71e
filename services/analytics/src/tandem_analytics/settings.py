"""Settings of the analytics service (environment variables ``TANDEM_ANALYTICS_*``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict
from tandem_platform.settings import ServiceSettings


class AnalyticsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TANDEM_ANALYTICS_", extra="ignore")

    http_port: int = 8004
    postgres_dsn: str = "postgresql://tandem:tandem@127.0.0.1:55432/tandem"
    postgres_pool_size: int = Field(default=10, ge=1, le=100)
    group_id: str = "tandem-analytics"
    # Where a consumer group without committed offsets starts. "earliest" in production (the
    # read models are built from the whole history); tests with a throwaway group use "latest".
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    # Answers below this confidence (or not answered) are knowledge-gap candidates; the
    # escalation service's default low-confidence threshold.
    knowledge_gap_confidence: float = Field(default=0.70, ge=0.0, le=1.0)
