"""Gateway settings (env prefix ``TANDEM_GATEWAY_``), built in ``main()``, never at import."""

from __future__ import annotations

import hashlib
import hmac
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict
from tandem_platform.settings import ServiceSettings

from .domain.client_address import TrustedProxies

#: The token secret shipped in the code. Anyone can read it, so tokens signed with it are
#: forgeable: the gateway refuses to start with it unless dev mode is on.
PLACEHOLDER_TOKEN_SECRET = "tandem-dev-only-token-secret-change-me"  # noqa: S105

THIRTY_DAYS = 30 * 24 * 3600


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TANDEM_GATEWAY_", extra="ignore")

    http_port: int = 8000
    redis_url: str = "redis://127.0.0.1:56379/0"
    conversation_url: str = "http://127.0.0.1:8001"
    conversation_timeout_seconds: float = Field(default=3.0, gt=0)
    # The escalation service's internal API: agent sign-in and the team roster.
    escalation_url: str = "http://127.0.0.1:8003"
    escalation_timeout_seconds: float = Field(default=5.0, gt=0)
    # The dashboard's other back ends: the knowledge base (answering admin API) and the
    # analytics read API.
    answering_url: str = "http://127.0.0.1:8002"
    analytics_url: str = "http://127.0.0.1:8004"
    admin_timeout_seconds: float = Field(default=30.0, gt=0)

    # Visitor tokens: HMAC-signed, stateless. Rotate the secret to revoke every token.
    token_secret: SecretStr = SecretStr(PLACEHOLDER_TOKEN_SECRET)
    token_ttl_seconds: int = Field(default=THIRTY_DAYS, ge=60)
    dev_mode: bool = False

    site_cache_seconds: int = Field(default=30, ge=0)
    # Unknown site keys are remembered briefly too, so a flood of bad keys stays off the
    # conversation service; kept short so a newly created site works almost at once.
    unknown_site_cache_seconds: int = Field(default=5, ge=0)

    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # The dashboard's knowledge-base file upload (PDFs): the largest file it forwards.
    admin_upload_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    # How long a publish may wait for Kafka's acknowledgement before the client gets 503.
    publish_timeout_seconds: float = Field(default=5.0, gt=0)
    # How long a resent message waits for the first copy still in flight.
    duplicate_wait_seconds: float = Field(default=5.0, ge=0)
    # How long a client may resend a message and get the first result back.
    idempotency_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)

    # Protocol-level websocket pings (uvicorn) keep idle sockets alive through proxies.
    ws_ping_interval_seconds: float = Field(default=20.0, gt=0)
    ws_ping_timeout_seconds: float = Field(default=20.0, gt=0)
    # Frames a slow socket may fall behind before it is closed (it reconnects with after_seq).
    ws_send_queue_frames: int = Field(default=500, ge=10)

    consumer_group: str = "tandem-gateway"
    # Frames are only worth pushing live; a client that missed some reloads them from the
    # stored history (after_seq). So a brand-new consumer group starts at the end of the
    # topics rather than replaying every conversation ever held.
    consumer_offset_reset: Literal["earliest", "latest"] = "latest"

    # Agent console sessions: short-lived HS256 access tokens (JWT) and opaque refresh
    # tokens kept hashed in Redis, rotated on every use. Without its own secret the key is
    # derived from the visitor-token secret (a different key for a different purpose).
    agent_token_secret: SecretStr | None = None
    agent_access_ttl_seconds: int = Field(default=15 * 60, ge=60, le=3600)
    agent_refresh_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=3600, le=90 * 24 * 3600)
    # Sign-in attempts allowed per minute, per client IP and per email address.
    login_attempts_per_minute: int = Field(default=10, ge=1, le=1000)
    # How long an invitation to a site's team stays valid.
    invitation_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=3600, le=30 * 24 * 3600)
    # Browser origins (besides the gateway's own) allowed to open the agent websocket.
    console_origins: list[str] = Field(default_factory=list)
    # An open agent socket re-announces the agent's presence this often (a heartbeat).
    presence_heartbeat_seconds: float = Field(default=15.0, gt=0, le=300)
    # How long a new agent socket may take to send its auth frame.
    agent_auth_timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    demo_site_key: str | None = None
    # Folder of Markdown pages served at /demo/docs/<name>.md: the demo site's knowledge
    # base, so the sources an AI answer cites are links that open.
    demo_docs_dir: str | None = None
    # The trusted proxies: peers whose X-Forwarded-For/-Proto are believed (comma-separated
    # IPs or networks such as 10.0.0.0/8, or "*" when only the ingress can reach the pods).
    # Any other peer is the client itself, whatever headers it sends.
    forwarded_allow_ips: str = "127.0.0.1"

    # Rate limits: token buckets in Redis shared by every replica, each refilling its size
    # once a minute (docs/operations.md). Starting conversations and every other visitor
    # call (messages, rating, hand-off, reading, the live stream) are limited per client
    # address and per site; the agent and admin APIs per signed-in agent.
    rate_limits_enabled: bool = True
    rate_limit_ip_starts_per_minute: int = Field(default=20, ge=1, le=1_000_000)
    rate_limit_ip_requests_per_minute: int = Field(default=120, ge=1, le=1_000_000)
    rate_limit_site_starts_per_minute: int = Field(default=600, ge=1, le=1_000_000)
    rate_limit_site_requests_per_minute: int = Field(default=6000, ge=1, le=1_000_000)
    rate_limit_agent_requests_per_minute: int = Field(default=600, ge=1, le=1_000_000)
    # How long a request waits for Redis's verdict before it is let through (fail open).
    rate_limit_timeout_seconds: float = Field(default=0.25, gt=0, le=5)

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _trusted_proxies(cls, value: str) -> str:
        TrustedProxies.parse(value)  # refuses what is neither an address nor a network
        return value

    def trusted_proxies(self) -> TrustedProxies:
        return TrustedProxies.parse(self.forwarded_allow_ips)

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> GatewaySettings:
        secret = self.token_secret.get_secret_value()
        if not self.dev_mode and secret == PLACEHOLDER_TOKEN_SECRET:
            raise ValueError(
                "TANDEM_GATEWAY_TOKEN_SECRET is the public placeholder; set a random secret "
                "(e.g. `openssl rand -hex 32`) or TANDEM_GATEWAY_DEV_MODE=true for local use"
            )
        if not self.dev_mode and len(secret) < 32:
            raise ValueError("TANDEM_GATEWAY_TOKEN_SECRET must be at least 32 characters")
        if self.agent_token_secret is not None and (
            not self.dev_mode and len(self.agent_token_secret.get_secret_value()) < 32
        ):
            raise ValueError("TANDEM_GATEWAY_AGENT_TOKEN_SECRET must be at least 32 characters")
        return self

    def agent_token_key(self) -> bytes:
        """The key that signs agent access tokens."""
        if self.agent_token_secret is not None:
            return self.agent_token_secret.get_secret_value().encode()
        return hmac.new(
            self.token_secret.get_secret_value().encode(),
            b"tandem-agent-access-tokens",
            hashlib.sha256,
        ).digest()
