"""Invitations to a site's team.

* ``/v1/admin/invitations`` (owners and admins, the site from the token): invite someone
  by email with a role (never above one's own), list the open invitations, withdraw one.
  Creating answers with the token and the accept link **once**; only its digest is kept.
* ``POST /v1/invitations/accept`` (public): the token, a name and a password; the invitee
  joins the invitation's site with its role. The link's token travels in the URL fragment
  of ``/invitation#token=...`` (the accept page, ``console_pages``) and is posted in the
  body, so it is never in a URL a server sees.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Response, status
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ..service_layer.errors import Unavailable
from ..service_layer.invitations import InvitationService
from .admin_api import Line, Manager
from .deps import ClientIp, Runtime
from .schemas import ErrorResponse, error_responses

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

admin_router = APIRouter(prefix="/v1/admin", tags=["dashboard"])
public_router = APIRouter(prefix="/v1/invitations", tags=["invitations"])


def get_invitations(runtime: Runtime) -> InvitationService:
    if runtime.invitations is None:
        raise Unavailable("invitations are not configured on this gateway")
    return runtime.invitations


Invitations = Annotated[InvitationService, Depends(get_invitations)]

Role = Literal["owner", "admin", "agent"]
InvitationState = Literal["pending", "expired", "accepted", "revoked"]


class InvitationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Line = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    role: Role = Field(description="never above the inviter's own role")


class Inviter(BaseModel):
    agent_id: str
    name: str


class InvitationOut(BaseModel):
    invitation_id: str
    email: str
    role: Role
    invited_by: Inviter
    created_at: datetime
    expires_at: datetime
    state: InvitationState = Field(description="open invitations are pending or expired")

    @classmethod
    def of(cls, body: dict[str, Any]) -> InvitationOut:
        return cls.model_validate(body)


class CreatedInvitationOut(InvitationOut):
    token: str = Field(description="shown this once; it works once, until `expires_at`")
    accept_path: str = Field(
        description="the accept page with the token in the URL fragment, e.g. "
        "`/invitation#token=...`: prefix the gateway's address and send it to the invitee"
    )


class InvitationListOut(BaseModel):
    invitations: list[InvitationOut]


def _encodable(value: str) -> str:
    """Any character may be in a password, but it must be text (no lone surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("not valid Unicode text") from None
    return value


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(max_length=100, description="from the invitation link")
    name: Line = Field(min_length=1, max_length=200)
    password: Annotated[str, AfterValidator(_encodable)] = Field(min_length=10, max_length=1024)


class JoinedAgentOut(BaseModel):
    agent_id: str
    site_id: str
    email: str
    name: str
    role: Role


class AcceptedOut(BaseModel):
    agent: JoinedAgentOut


_ADMIN_ERRORS: dict[int | str, dict[str, object]] = {
    **error_responses(401, 403, 404, 413, 422, 503),
    409: {"model": ErrorResponse, "description": "The email is already in use"},
}


@admin_router.get(
    "/invitations",
    response_model=InvitationListOut,
    summary="Open invitations",
    description="Invitations neither accepted nor withdrawn (pending, or expired), newest first.",
    responses=_ADMIN_ERRORS,
)
async def list_invitations(manager: Manager, invitations: Invitations) -> InvitationListOut:
    listed = await invitations.open_invitations(manager.identity)
    return InvitationListOut(invitations=[InvitationOut.of(i) for i in listed])


@admin_router.post(
    "/invitations",
    status_code=status.HTTP_201_CREATED,
    response_model=CreatedInvitationOut,
    summary="Invite a teammate",
    description=(
        "Creates a single-use invitation valid for 7 days (an open one for the same email "
        "is replaced). The answer carries the token and the accept link **once**: send the "
        "link to the invitee yourself. An admin cannot invite an owner (403 `role_too_high`); "
        "an email that already has an account is 409 `email_in_use`."
    ),
    responses=_ADMIN_ERRORS,
)
async def create_invitation(
    body: InvitationIn, manager: Manager, invitations: Invitations, response: Response
) -> CreatedInvitationOut:
    created = await invitations.invite(manager.identity, body.email.strip(), body.role)
    response.headers.update(_NO_STORE)
    return CreatedInvitationOut(
        **InvitationOut.of(created.invitation).model_dump(),
        token=created.token,
        accept_path=created.accept_path,
    )


@admin_router.delete(
    "/invitations/{invitation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Withdraw an invitation",
    description="Its link stops working. Only for roles one could grant oneself.",
    responses=_ADMIN_ERRORS,
)
async def revoke_invitation(
    invitation_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")],
    manager: Manager,
    invitations: Invitations,
) -> Response:
    await invitations.revoke(manager.identity, invitation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@public_router.post(
    "/accept",
    status_code=status.HTTP_201_CREATED,
    response_model=AcceptedOut,
    summary="Accept an invitation",
    description=(
        "The token from the invitation link, and the invitee's name and password (10+ "
        "characters): they join the site with the invitation's role and can sign in. "
        "404 `invitation_invalid`; 410 `invitation_expired`, `invitation_used` or "
        "`invitation_revoked`. At most 10 attempts a minute per client."
    ),
    responses={
        **error_responses(404, 413, 422, 429, 503),
        409: {"model": ErrorResponse, "description": "The email is already in use"},
        410: {"model": ErrorResponse, "description": "Expired, used or withdrawn"},
    },
)
async def accept_invitation(
    body: AcceptIn, invitations: Invitations, ip: ClientIp, response: Response
) -> AcceptedOut:
    agent = await invitations.accept(body.token.strip(), body.name.strip(), body.password, ip)
    response.headers.update(_NO_STORE)
    return AcceptedOut(agent=JoinedAgentOut.model_validate(agent))
