"""Internal HTTP API for the team: the roster, sign-in, the queue and routing settings.

The gateway calls it on the console's behalf (it owns sessions and authorisation; this
service owns the roster and the passwords' hashes, which never leave it).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from starlette.exceptions import HTTPException
from tandem_events import utc_now
from tandem_platform.postgres import Pool as PgPool

from ..adapters import roster
from ..adapters import routing_store as store
from ..adapters.presence import Presence
from ..dispatch import Dispatcher
from ..domain.routing import AgentStatus, Priority, RoutingSettings

SiteId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
#: Agent ids are chosen by the caller and must be unguessable: at least 16 characters
#: (a UUID, or ``secrets.token_urlsafe(16)``).
AgentId = Annotated[str, Path(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SKILL = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")

MIN_PASSWORD_CHARS = 10


def _non_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("a name cannot be blank")
    return value.strip()


#: An agent's display name, stripped; blank is refused.
AgentName = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_non_blank)]


class AgentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320)
    name: AgentName
    role: roster.Role
    skills: list[str] = Field(default_factory=list, max_length=50)
    languages: list[str] = Field(default_factory=list, max_length=30)
    max_concurrent: int = Field(default=3, ge=0, le=100)
    password: str | None = Field(default=None, min_length=MIN_PASSWORD_CHARS, max_length=1024)
    active: bool | None = Field(
        default=None, description="omitted: unchanged (a new agent is active)"
    )

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = value.strip()
        if not _EMAIL.match(value):
            raise ValueError("not an email address")
        return value

    @field_validator("skills")
    @classmethod
    def _skills(cls, values: list[str]) -> list[str]:
        cleaned = sorted({v.strip().lower() for v in values})
        for skill in cleaned:
            if not _SKILL.match(skill):
                raise ValueError(f"skill {skill!r}: lowercase letters, digits, - and _ only")
        return cleaned

    @field_validator("languages")
    @classmethod
    def _languages(cls, values: list[str]) -> list[str]:
        cleaned = []
        for value in values:
            if not _LANGUAGE.match(value.strip()):
                raise ValueError(f"language {value!r} is not a language tag such as en or pt-BR")
            tag = value.strip()
            if tag not in cleaned:
                cleaned.append(tag)
        return cleaned


class PresenceView(BaseModel):
    status: AgentStatus
    active_conversations: int
    last_seen: datetime | None


class AgentView(BaseModel):
    agent_id: str
    site_id: str
    email: str
    name: str
    role: roster.Role
    skills: list[str]
    languages: list[str]
    max_concurrent: int
    active: bool
    presence: PresenceView


class AgentList(BaseModel):
    agents: list[AgentView]


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class AuthenticatedAgent(BaseModel):
    agent_id: str
    site_id: str
    name: str
    role: roster.Role
    skills: list[str]
    languages: list[str]


class QueueItem(BaseModel):
    conversation_id: uuid.UUID
    position: int
    waiting_since: datetime
    required_skill: str | None
    language: str | None
    priority: Priority
    estimated_wait_seconds: float | None = Field(
        description="None when no agent who could take it is online"
    )


class Queue(BaseModel):
    queue: list[QueueItem]


class RoutingView(RoutingSettings):
    site_id: str
    open_now: bool = Field(description="whether it is within business hours now")


def _pool(request: Request) -> PgPool:
    pool: PgPool | None = request.app.state.handlers.pool
    if pool is None:
        raise HTTPException(503, "the service is starting")
    return pool


def _dispatcher(request: Request) -> Dispatcher:
    dispatcher: Dispatcher = request.app.state.dispatcher
    return dispatcher


def _passwords(request: Request) -> roster.Passwords:
    passwords: roster.Passwords = request.app.state.passwords
    return passwords


Pool = Annotated[PgPool, Depends(_pool)]
Dispatch = Annotated[Dispatcher, Depends(_dispatcher)]
PasswordHashing = Annotated[roster.Passwords, Depends(_passwords)]

router = APIRouter(prefix="/internal", tags=["team"])


def _view(
    agent: roster.AgentRecord, presence: Presence | None, active_conversations: int
) -> AgentView:
    return AgentView(
        agent_id=agent.agent_id,
        site_id=agent.site_id,
        email=agent.email,
        name=agent.name,
        role=agent.role,
        skills=list(agent.skills),
        languages=list(agent.languages),
        max_concurrent=agent.max_concurrent,
        active=agent.active,
        presence=PresenceView(
            status=presence.status if presence else "offline",
            active_conversations=active_conversations,
            last_seen=presence.last_seen if presence else None,
        ),
    )


@router.put("/sites/{site_id}/agents/{agent_id}", response_model=AgentView)
async def put_agent(
    site_id: SiteId,
    agent_id: AgentId,
    body: AgentBody,
    pool: Pool,
    dispatcher: Dispatch,
    passwords: PasswordHashing,
) -> AgentView:
    new_hash = await passwords.hash(body.password) if body.password is not None else None
    async with pool.connection() as conn, conn.transaction():
        existing = await roster.get(conn, agent_id)
        active = body.active if body.active is not None else (existing.active if existing else True)
        record = roster.AgentRecord(
            agent_id=agent_id,
            site_id=site_id,
            email=body.email,
            name=body.name,
            role=body.role,
            skills=tuple(body.skills),
            languages=tuple(body.languages),
            max_concurrent=body.max_concurrent,
            active=active,
        )
        try:
            saved = await roster.save(conn, record, new_password_hash=new_hash)
        except roster.EmailTaken:
            raise HTTPException(409, "another agent already uses this email") from None
        except roster.AgentIdTaken:
            raise HTTPException(409, "this agent id belongs to another site") from None
        counts = await store.active_counts(conn, site_id)
    presence = await dispatcher.presence.get(site_id, agent_id)
    return _view(saved, presence, counts.get(agent_id, 0))


@router.get("/sites/{site_id}/agents", response_model=AgentList)
async def list_agents(site_id: SiteId, pool: Pool, dispatcher: Dispatch) -> AgentList:
    async with pool.connection() as conn:
        agents = await roster.of_site(conn, site_id)
        counts = await store.active_counts(conn, site_id)
    present = await dispatcher.presence.many(site_id, [a.agent_id for a in agents])
    return AgentList(
        agents=[_view(a, present.get(a.agent_id), counts.get(a.agent_id, 0)) for a in agents]
    )


@router.post(
    "/agents/authenticate",
    response_model=AuthenticatedAgent,
    responses={401: {"description": "unknown email, wrong password or inactive agent"}},
)
async def authenticate(
    credentials: Credentials, pool: Pool, passwords: PasswordHashing
) -> AuthenticatedAgent:
    async with pool.connection() as conn:
        agent = await roster.by_email(conn, credentials.email.strip())
    # Unknown emails are verified against a dummy hash: the same work, the same answer.
    stored = agent.password_hash if agent is not None else None
    if not await passwords.verify(stored, credentials.password) or agent is None:
        raise HTTPException(401, "wrong email or password")
    if not agent.active:
        raise HTTPException(401, "wrong email or password")
    if stored is not None and passwords.needs_rehash(stored):
        new_hash = await passwords.hash(credentials.password)
        async with pool.connection() as conn, conn.transaction():
            await roster.update_hash(conn, agent.agent_id, new_hash)
    return AuthenticatedAgent(
        agent_id=agent.agent_id,
        site_id=agent.site_id,
        name=agent.name,
        role=agent.role,
        skills=list(agent.skills),
        languages=list(agent.languages),
    )


@router.get("/sites/{site_id}/queue", response_model=Queue)
async def queue(site_id: SiteId, pool: Pool, dispatcher: Dispatch) -> Queue:
    async with pool.connection() as conn:
        items = await dispatcher.queue_view(conn, site_id)
    return Queue(queue=[QueueItem.model_validate(item) for item in items])


def _routing_view(site_id: str, settings: RoutingSettings) -> RoutingView:
    return RoutingView(
        site_id=site_id,
        business_hours=settings.business_hours,
        offline_message=settings.offline_message,
        vip_visitor_ids=list(settings.vip_visitor_ids),
        open_now=settings.within_business_hours(utc_now()),
    )


@router.get("/sites/{site_id}/routing", response_model=RoutingView)
async def get_routing(site_id: SiteId, pool: Pool) -> RoutingView:
    async with pool.connection() as conn:
        settings = await store.load_settings(conn, site_id)
    return _routing_view(site_id, settings or RoutingSettings())


@router.put("/sites/{site_id}/routing", response_model=RoutingView)
async def put_routing(site_id: SiteId, settings: RoutingSettings, pool: Pool) -> RoutingView:
    async with pool.connection() as conn, conn.transaction():
        await store.save_settings(conn, site_id, settings)
    return _routing_view(site_id, settings)
