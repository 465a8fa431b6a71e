"""Settings shared by every service; each service subclasses with its own env prefix."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Base settings. Subclasses set ``model_config = SettingsConfigDict(env_prefix=...)``."""

    model_config = SettingsConfigDict(env_prefix="TANDEM_", extra="ignore")

    kafka_bootstrap: str = "127.0.0.1:59092"
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    log_level: str = "INFO"
    # Bounded retries before a message goes to the dead-letter topic.
    consumer_max_attempts: int = Field(default=3, ge=1, le=20)
    consumer_retry_backoff_seconds: float = Field(default=0.2, ge=0.0)
    # Create missing topics at start-up (local stack and tests); production uses
    # KafkaTopic resources instead and turns this off.
    create_topics: bool = True
