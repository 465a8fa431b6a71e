"""Agent sign-in: ``/v1/agent/login``, ``/refresh``, ``/logout`` and ``/me``."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from .agent_schemas import AgentOut, LoginRequest, LogoutRequest, RefreshRequest, SessionOut
from .deps import Agent, AgentAuth, AgentRequestLimit, ClientIp, MaybeAgent
from .schemas import error_responses

router = APIRouter(prefix="/v1/agent", tags=["agent: sign-in"])

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@router.post(
    "/login",
    response_model=SessionOut,
    summary="Sign in",
    description=(
        "Checks the credentials with the team roster. Returns a 15-minute access token "
        "(JWT) and a refresh token that works once. At most 10 attempts a minute per "
        "client and per email address (429 with `Retry-After`)."
    ),
    responses=error_responses(401, 413, 422, 429, 503),
)
async def login(
    body: LoginRequest, auth: AgentAuth, ip: ClientIp, response: Response
) -> SessionOut:
    session = await auth.login(body.email, body.password, ip)
    response.headers.update(_NO_STORE)
    return SessionOut.of(session, int(auth.clock()))


@router.post(
    "/refresh",
    response_model=SessionOut,
    summary="Exchange a refresh token for a new pair",
    description=(
        "The refresh token is spent: the answer carries its replacement. Presenting a spent "
        "token again revokes every token of that sign-in."
    ),
    responses=error_responses(401, 413, 422, 429, 503),
)
async def refresh(
    body: RefreshRequest, auth: AgentAuth, ip: ClientIp, response: Response
) -> SessionOut:
    session = await auth.refresh(body.refresh_token, ip)
    response.headers.update(_NO_STORE)
    return SessionOut.of(session, int(auth.clock()))


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Sign out",
    description=(
        "Revokes the refresh token's whole chain and, when sent, the access token in "
        "`Authorization` (until it would have expired)."
    ),
    responses=error_responses(401, 413, 422, 503),
)
async def logout(auth: AgentAuth, agent: MaybeAgent, body: LogoutRequest | None = None) -> Response:
    await auth.logout(body.refresh_token if body else None, agent)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/me",
    response_model=AgentOut,
    summary="The signed-in agent",
    responses=error_responses(401, 429, 503),
    dependencies=[AgentRequestLimit],
)
async def me(agent: Agent) -> AgentOut:
    return AgentOut.of(agent.identity)
