"""Internal HTTP API for invitations to a site's team (the gateway calls it for the
dashboard and the accept-invitation page).

The gateway creates the token, keeps it out of this service (only its SHA-256 digest
arrives here) and checks who may invite; this service checks again that nobody grants a
role above their own, keeps one open invitation per email and site, and turns an accepted
invitation into a roster entry with an argon2id password hash, exactly once.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from tandem_events import utc_now

from ..adapters import invitations as store
from ..adapters import roster
from ..domain.invitations import InvitationState, Role, may_grant
from .team import _EMAIL, MIN_PASSWORD_CHARS, AgentName, PasswordHashing, Pool, SiteId

router = APIRouter(prefix="/internal", tags=["team"])

InvitationId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
Digest = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="hex SHA-256 of the token")]
DAY = 24 * 3600


def _refusal(status_code: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status_code)


class Inviter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent_id: str = Field(min_length=1, max_length=128)
    name: str = Field(min_length=1, max_length=200)
    role: Role


class InvitationBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320)
    role: Role
    token_digest: Digest
    invited_by: Inviter
    expires_in_seconds: int = Field(default=7 * DAY, ge=3600, le=30 * DAY)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = value.strip()
        if not _EMAIL.match(value) or any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ValueError("not an email address")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("not an email address") from None
        return value


class InviterView(BaseModel):
    agent_id: str
    name: str


class InvitationView(BaseModel):
    invitation_id: str
    site_id: str
    email: str
    role: Role
    invited_by: InviterView
    created_at: datetime
    expires_at: datetime
    state: InvitationState

    @classmethod
    def of(cls, record: store.InvitationRecord, now: datetime) -> InvitationView:
        return cls(
            invitation_id=record.invitation_id,
            site_id=record.site_id,
            email=record.email,
            role=record.role,
            invited_by=InviterView(agent_id=record.invited_by_id, name=record.invited_by_name),
            created_at=record.created_at,
            expires_at=record.expires_at,
            state=record.state(now),
        )


class InvitationList(BaseModel):
    invitations: list[InvitationView]


class AcceptBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token_digest: Digest
    name: AgentName
    password: str = Field(min_length=MIN_PASSWORD_CHARS, max_length=1024)

    @field_validator("name", "password")
    @classmethod
    def _text(cls, value: str) -> str:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("not valid Unicode text") from None
        if "\x00" in value:
            raise ValueError("must not contain NUL")
        return value


class JoinedAgent(BaseModel):
    agent_id: str
    site_id: str
    email: str
    name: str
    role: Role


class Accepted(BaseModel):
    agent: JoinedAgent


_UNUSABLE: dict[str, tuple[str, str]] = {
    "expired": ("invitation_expired", "this invitation has expired; ask for a new one"),
    "accepted": ("invitation_used", "this invitation was already used; sign in instead"),
    "revoked": ("invitation_revoked", "this invitation was withdrawn; ask for a new one"),
}
_UNKNOWN = ("invitation_invalid", "this invitation link is not valid")


@router.post(
    "/sites/{site_id}/invitations",
    status_code=status.HTTP_201_CREATED,
    response_model=InvitationView,
    responses={
        403: {"description": "a role above the inviter's"},
        409: {"description": "email in use"},
    },
)
async def create_invitation(
    site_id: SiteId, body: InvitationBody, pool: Pool
) -> InvitationView | JSONResponse:
    if not may_grant(body.invited_by.role, body.role):
        return _refusal(403, "role_too_high", "nobody may invite someone above their own role")
    now = utc_now()
    async with pool.connection() as conn, conn.transaction():
        member = await roster.by_email(conn, body.email)
        if member is not None:
            message = (
                "this person is already on the team"
                if member.site_id == site_id
                else "this email already belongs to an account; use another one"
            )
            return _refusal(409, "email_in_use", message)
        try:
            record = await store.create(
                conn,
                invitation_id=uuid.uuid4().hex,
                site_id=site_id,
                email=body.email,
                role=body.role,
                token_digest=body.token_digest,
                invited_by_id=body.invited_by.agent_id,
                invited_by_name=body.invited_by.name,
                expires_at=now + timedelta(seconds=body.expires_in_seconds),
            )
        except store.OpenInvitationExists:
            return _refusal(409, "conflict", "another invitation for this email was just created")
    return InvitationView.of(record, now)


@router.get("/sites/{site_id}/invitations", response_model=InvitationList)
async def list_invitations(site_id: SiteId, pool: Pool) -> InvitationList:
    """The site's open invitations (pending or expired), newest first."""
    async with pool.connection() as conn:
        records = await store.open_of_site(conn, site_id)
    now = utc_now()
    return InvitationList(invitations=[InvitationView.of(r, now) for r in records])


@router.delete(
    "/sites/{site_id}/invitations/{invitation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={
        404: {"description": "no such invitation on this site"},
        409: {"description": "accepted"},
    },
)
async def revoke_invitation(site_id: SiteId, invitation_id: InvitationId, pool: Pool) -> Response:
    """Withdraws the invitation (again: no change). One already accepted stays accepted:
    the agent it made is changed on the roster instead."""
    async with pool.connection() as conn, conn.transaction():
        record = await store.lock(conn, site_id, invitation_id)
        if record is None:
            return _refusal(404, "not_found", "no such invitation")
        if record.accepted_at is not None:
            return _refusal(409, "invitation_used", "this invitation was already accepted")
        await store.revoke(conn, invitation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/invitations/accept",
    status_code=status.HTTP_201_CREATED,
    response_model=Accepted,
    responses={
        404: {"description": "invitation_invalid"},
        409: {"description": "the email is taken by now"},
        410: {"description": "invitation_expired, invitation_used or invitation_revoked"},
    },
)
async def accept_invitation(
    body: AcceptBody, pool: Pool, passwords: PasswordHashing
) -> Accepted | JSONResponse:
    """Adds the invitee to the invitation's site with its role and the chosen name and
    password, once: the invitation is locked, checked and spent in one transaction."""
    async with pool.connection() as conn:
        found = await store.by_digest(conn, body.token_digest)
    if found is None:
        return _refusal(404, *_UNKNOWN)
    if (state := found.state(utc_now())) != "pending":
        return _refusal(410, *_UNUSABLE[state])
    # Hashing is slow on purpose: done only for a usable invitation, outside the lock.
    password_hash = await passwords.hash(body.password)
    async with pool.connection() as conn, conn.transaction():
        record = await store.by_digest(conn, body.token_digest, for_update=True)
        if record is None:
            return _refusal(404, *_UNKNOWN)
        if (state := record.state(utc_now())) != "pending":
            return _refusal(410, *_UNUSABLE[state])  # another accept won the race
        agent = roster.AgentRecord(
            agent_id=uuid.uuid4().hex,
            site_id=record.site_id,
            email=record.email,
            name=body.name,
            role=record.role,
            skills=(),
            languages=(),
            max_concurrent=3,
            active=True,
        )
        try:
            saved = await roster.save(conn, agent, new_password_hash=password_hash)
        except roster.EmailTaken:
            return _refusal(409, "email_in_use", "this email already belongs to an account")
        await store.mark_accepted(conn, record.invitation_id, saved.agent_id)
    return Accepted(
        agent=JoinedAgent(
            agent_id=saved.agent_id,
            site_id=saved.site_id,
            email=saved.email,
            name=saved.name,
            role=saved.role,
        )
    )
