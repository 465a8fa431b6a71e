from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict
from tandem_platform.settings import ServiceSettings


class ConversationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TANDEM_CONVERSATION_", extra="ignore")

    http_port: int = 8001
    postgres_dsn: str = "postgresql://tandem:tandem@127.0.0.1:55432/tandem"
    redis_url: str = "redis://127.0.0.1:56379/0"
    group_id: str = "tandem-conversation"
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    # How often each replica looks for held replies whose review time is up.
    hold_check_interval_seconds: float = Field(default=1.0, gt=0, le=60)
