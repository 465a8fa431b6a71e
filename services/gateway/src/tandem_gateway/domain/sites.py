"""A site as the gateway sees it: who may embed its widget and how visitors are identified."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Site(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    site_id: str
    name: str = ""
    public_key: str
    allowed_origins: tuple[str, ...] = ()
    greeting: str = ""
    require_identity: bool = False
    identity_secret: str | None = Field(default=None, repr=False)
    show_confidence: bool = True
    widget: dict[str, Any] = Field(default_factory=dict)
    # Whether the AI answers again when an agent leaves without saying.
    ai_resumes_after_agent: bool = True
