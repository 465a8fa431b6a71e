"""Composition root of the gateway: the only place adapters are built and wired.

Building the app opens no connection (Redis, httpx and the Kafka broker connect lazily or
in the lifespan), so ``create_app`` also serves to generate the OpenAPI document.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from faststream.kafka import KafkaBroker
from tandem_events import ALL_TOPICS
from tandem_platform.http import ops_router
from tandem_platform.messaging import EventPublisher, ensure_topics, make_broker
from tandem_platform.redis import SequenceAllocator, open_redis

from . import __version__
from .adapters.agent_state import RedisHolderStore, RedisRateLimiter, RedisSessionStore
from .adapters.conversation_client import ConversationServiceClient
from .adapters.escalation_client import EscalationServiceClient
from .adapters.kafka import KafkaEventSink
from .adapters.live import LiveHub, RedisLiveFanout
from .adapters.rate_limits import RedisRateLimitStore
from .adapters.redis_state import AGENT_MESSAGES, RedisConversationFlags, RedisIdempotencyStore
from .adapters.site_cache import CachedSiteDirectory
from .domain.rate_limits import RateLimitPolicy
from .entrypoints import (
    admin_api,
    agent_auth,
    agent_conversations,
    agent_stream,
    console_pages,
    consumers,
    conversations,
    demo,
    handoff,
    invitations,
    messages,
    rating,
    stream,
    widget_assets,
)
from .entrypoints.demo import STATIC_DIR
from .entrypoints.deps import AgentRequestLimit
from .entrypoints.errors import install_error_handlers
from .entrypoints.middleware import (
    BodyLimitMiddleware,
    ForwardedHeadersMiddleware,
    RateLimitHeadersMiddleware,
    RequestMetricsMiddleware,
)
from .entrypoints.schemas import error_responses
from .runtime import GatewayRuntime
from .service_layer.agent import AgentConsolePolicy, AgentConsoleService
from .service_layer.agent_auth import AgentAuthPolicy, AgentAuthService
from .service_layer.fanout import FanoutService
from .service_layer.invitations import InvitationService
from .service_layer.rate_limits import RateLimits
from .service_layer.widget import WidgetPolicy, WidgetService
from .settings import GatewaySettings

SERVICE = "gateway"
SOURCE = "/tandem/gateway"

API_DESCRIPTION = """\
The public widget API of Tandem (contract: API.md). Every error is
`{"error": {"code": "...", "message": "..."}}` with a 4xx status, or 503 when a dependency
is down (retry).

**Rate limits**: widget calls are limited per client address and per site, agent and
admin calls per agent. Over a limit: 429 `too_many_requests` with `Retry-After` (seconds);
limited answers carry `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`
(seconds until the budget is full again).

**Live stream** (websocket, not shown as an operation below):
`WS /v1/widget/conversations/{conversation_id}/stream?token=<visitor_token>&after_seq=N`
sends every stored message with `seq > N`, then live frames: `message`, `status`,
`typing`, `handoff`. Reconnect with the last `seq` received to miss nothing and see nothing
twice. Refused handshakes answer with the usual error body (or close code 4000 + HTTP
status); an open stream closes with 4401 when the token expires, 4410 when the
conversation is deleted, and 1012/1013 when the client should reconnect.

**Agent console** (`/v1/agent/...`): sign in for a 15-minute access token (JWT) and a
rotating refresh token; every route is scoped to the agent's own site. The live socket
`WS /v1/agent/stream` takes the access token in its *first frame*
(`{"type": "auth", "token": "..."}`), never in the URL, and carries the same commands as
the REST endpoints below; protocol in `docs/agent-api.md`.
"""


def build_broker(settings: GatewaySettings) -> KafkaBroker:
    broker, _ = make_broker(
        settings.kafka_bootstrap,
        service=SERVICE,
        max_attempts=settings.consumer_max_attempts,
        backoff_seconds=settings.consumer_retry_backoff_seconds,
    )
    return broker


def create_app(settings: GatewaySettings) -> FastAPI:
    broker = build_broker(settings)
    redis = open_redis(settings.redis_url)
    conversation_service = ConversationServiceClient(
        settings.conversation_url, timeout_seconds=settings.conversation_timeout_seconds
    )
    hub = LiveHub(settings.redis_url, max_pending=settings.ws_send_queue_frames)
    flags = RedisConversationFlags(redis, deleted_ttl_seconds=settings.token_ttl_seconds)
    live = RedisLiveFanout(redis)
    sites = CachedSiteDirectory(
        conversation_service,
        redis,
        ttl_seconds=settings.site_cache_seconds,
        unknown_ttl_seconds=settings.unknown_site_cache_seconds,
    )
    events = KafkaEventSink(
        EventPublisher(broker, source=SOURCE), timeout_seconds=settings.publish_timeout_seconds
    )
    sequence = SequenceAllocator(redis)
    widget = WidgetService(
        policy=WidgetPolicy(
            token_secret=settings.token_secret.get_secret_value().encode(),
            token_ttl_seconds=settings.token_ttl_seconds,
            duplicate_wait_seconds=settings.duplicate_wait_seconds,
            message_lock_seconds=settings.publish_timeout_seconds + 10,
        ),
        sites=sites,
        history=conversation_service,
        events=events,
        sequence=sequence,
        idempotency=RedisIdempotencyStore(redis, ttl_seconds=settings.idempotency_ttl_seconds),
        flags=flags,
        live=live,
    )
    escalation_service = EscalationServiceClient(
        settings.escalation_url, timeout_seconds=settings.escalation_timeout_seconds
    )
    holders = RedisHolderStore(redis, ttl_seconds=settings.token_ttl_seconds)
    sign_in_limiter = RedisRateLimiter(redis)
    agent_auth_service = AgentAuthService(
        policy=AgentAuthPolicy(
            secret=settings.agent_token_key(),
            access_ttl_seconds=settings.agent_access_ttl_seconds,
            refresh_ttl_seconds=settings.agent_refresh_ttl_seconds,
            login_attempts_per_minute=settings.login_attempts_per_minute,
        ),
        directory=escalation_service,
        sessions=RedisSessionStore(redis),
        limiter=sign_in_limiter,
    )
    invitation_service = InvitationService(
        directory=escalation_service,
        limiter=sign_in_limiter,
        ttl_seconds=settings.invitation_ttl_seconds,
        accept_attempts_per_minute=settings.login_attempts_per_minute,
    )
    agent_console = AgentConsoleService(
        conversations=conversation_service,
        sites=sites,
        events=events,
        sequence=sequence,
        idempotency=RedisIdempotencyStore(
            redis, ttl_seconds=settings.idempotency_ttl_seconds, namespace=AGENT_MESSAGES
        ),
        holders=holders,
        live=live,
        policy=AgentConsolePolicy(
            duplicate_wait_seconds=settings.duplicate_wait_seconds,
            message_lock_seconds=settings.publish_timeout_seconds + 10,
        ),
    )
    fanout = FanoutService(live=live, flags=flags, holders=holders)
    rate_limits = RateLimits(
        policy=RateLimitPolicy(
            ip_starts=settings.rate_limit_ip_starts_per_minute,
            ip_requests=settings.rate_limit_ip_requests_per_minute,
            site_starts=settings.rate_limit_site_starts_per_minute,
            site_requests=settings.rate_limit_site_requests_per_minute,
            agent_requests=settings.rate_limit_agent_requests_per_minute,
            enabled=settings.rate_limits_enabled,
        ),
        store=RedisRateLimitStore(redis),
        timeout_seconds=settings.rate_limit_timeout_seconds,
    )
    consumers.register(broker, settings, fanout)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.create_topics:
            await ensure_topics(settings.kafka_bootstrap, ALL_TOPICS)
        await broker.start()
        await hub.start()
        try:
            yield
        finally:
            # Stop consuming first; then end the sockets' live streams so their clients
            # reconnect to another replica.
            await broker.stop()
            await hub.stop()
            await conversation_service.aclose()
            await escalation_service.aclose()
            await admin_backends.aclose()
            await redis.aclose()

    app = FastAPI(
        title="Tandem gateway",
        version=__version__,
        description=API_DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.runtime = GatewayRuntime(
        settings=settings,
        widget=widget,
        fanout=fanout,
        hub=hub,
        agent_auth=agent_auth_service,
        agents=agent_console,
        rate_limits=rate_limits,
        invitations=invitation_service,
    )
    app.state.broker = broker
    admin_backends = admin_api.AdminBackends(settings)
    app.state.admin_backends = admin_backends

    install_error_handlers(app)
    # Middleware is added innermost first.
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        larger={
            admin_api.UPLOAD_PATH: settings.admin_upload_max_bytes + admin_api.MULTIPART_OVERHEAD
        },
    )
    app.add_middleware(RateLimitHeadersMiddleware)
    app.add_middleware(RequestMetricsMiddleware)
    # The widget runs on customers' sites: browsers may call from any origin, and each
    # site's own allowed origins are enforced per request (403), not by CORS. Outermost,
    # so even a 413 is readable by the widget.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET", "POST", "PUT", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "X-Site-Key", "traceparent"],
        # So the widget can read how long to wait after a 429.
        expose_headers=[
            "Retry-After",
            "X-RateLimit-Limit",
            "X-RateLimit-Remaining",
            "X-RateLimit-Reset",
        ],
        max_age=600,
    )
    # Outermost: the client behind trusted proxies, before anything looks at it.
    app.add_middleware(ForwardedHeadersMiddleware, trusted=settings.trusted_proxies())

    async def check_kafka() -> None:
        if not await broker.ping(timeout=2.0):
            raise RuntimeError("Kafka did not answer")

    async def check_redis() -> None:
        await redis.ping()
        await hub.ping()

    async def check_conversation_service() -> None:
        await conversation_service.ping()

    app.include_router(
        ops_router(
            {
                "kafka": check_kafka,
                "redis": check_redis,
                "conversation_service": check_conversation_service,
            }
        )
    )
    for router in (
        conversations.router,
        messages.router,
        stream.router,
        rating.router,
        handoff.router,
        agent_auth.router,
        agent_stream.router,
        invitations.public_router,
        console_pages.router,
        demo.router,
        widget_assets.router,
    ):
        app.include_router(router)
    # Every call of the agent and admin APIs counts against the signed-in agent's limit.
    for router in (
        agent_conversations.router,
        admin_api.router,
        admin_api.roster_router,
        invitations.admin_router,
    ):
        app.include_router(router, dependencies=[AgentRequestLimit], responses=error_responses(429))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
