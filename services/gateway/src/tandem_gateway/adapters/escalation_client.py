"""Client of the escalation service's internal team API: agent sign-in and the roster.

Contract: ``POST /internal/agents/authenticate {email, password}`` answers 200
``{agent_id, site_id, name, role, skills, languages}`` or 401; ``GET
/internal/sites/{site_id}/agents`` lists the site's agents with ``active``. Invitations
(``/internal/sites/{site_id}/invitations`` and ``/internal/invitations/accept``) are kept
there too, next to the roster they add to. Passwords and their hashes never leave that
service; invitation tokens never reach it (only their digests).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..domain.agents import AgentIdentity, Role
from ..service_layer.errors import (
    Conflict,
    GatewayError,
    InvalidInput,
    InvitationInvalid,
    InvitationUnusable,
    NotAllowed,
    NotFound,
    Unavailable,
)

log = logging.getLogger(__name__)


class _Agent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    agent_id: str = Field(min_length=1, max_length=128)
    site_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    role: Role
    skills: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    active: bool = True

    def identity(self) -> AgentIdentity:
        return AgentIdentity(
            agent_id=self.agent_id,
            site_id=self.site_id,
            name=self.name,
            role=self.role,
            skills=tuple(self.skills),
            languages=tuple(self.languages),
        )


class EscalationServiceClient:
    def __init__(self, base_url: str, *, timeout_seconds: float) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout_seconds),
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=10),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            log.warning(
                "escalation service unreachable",
                extra={"fields": {"path": path, "error": repr(exc)}},
            )
            raise Unavailable("the sign-in service is unavailable; retry") from exc

    @staticmethod
    def _agent(body: Any) -> _Agent:
        try:
            return _Agent.model_validate(body)
        except ValidationError as exc:
            log.error(
                "escalation service sent a malformed agent",
                extra={"fields": {"error": str(exc)[:500]}},
            )
            raise Unavailable("the sign-in service answered garbage") from exc

    async def authenticate(self, email: str, password: str) -> AgentIdentity | None:
        response = await self._call(
            "POST", "/internal/agents/authenticate", json={"email": email, "password": password}
        )
        # 422: credentials the roster could never hold (e.g. too long): wrong, like a 401.
        if response.status_code in (401, 403, 404, 422):
            return None
        if response.status_code != 200:
            log.warning(
                "escalation service refused sign-in with an error",
                extra={"fields": {"status": response.status_code}},
            )
            raise Unavailable("the sign-in service is unavailable; retry")
        agent = self._agent(response.json())
        return agent.identity() if agent.active else None

    async def current(self, site_id: str, agent_id: str) -> AgentIdentity | None:
        response = await self._call("GET", f"/internal/sites/{quote(site_id, safe='')}/agents")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise Unavailable("the team roster is unavailable; retry")
        try:
            listed = response.json()["agents"]
        except (ValueError, KeyError, TypeError) as exc:
            raise Unavailable("the team roster answered garbage") from exc
        for entry in listed:
            if isinstance(entry, dict) and entry.get("agent_id") == agent_id:
                agent = self._agent(entry)
                return agent.identity() if agent.active and agent.site_id == site_id else None
        return None

    # -- invitations (kept with the roster) ------------------------------------------------

    @staticmethod
    def _error_of(response: httpx.Response) -> tuple[str | None, str]:
        """The code and message of the escalation service's ``{"error": {...}}`` body."""
        try:
            error = response.json().get("error", {})
            return error.get("code"), str(error.get("message") or "refused")[:300]
        except (ValueError, AttributeError):
            return None, "refused"

    def _refusal(self, response: httpx.Response, what: str) -> GatewayError:
        code, message = self._error_of(response)
        match response.status_code:
            case 403:
                return NotAllowed(message, code=code or "not_allowed")
            case 404:
                return NotFound(message)
            case 409:
                return Conflict(message, code=code or "conflict")
            case 422:
                return InvalidInput(message)
        log.warning(
            "escalation service failed an invitation call",
            extra={"fields": {"what": what, "status": response.status_code}},
        )
        return Unavailable("the team service is unavailable; retry")

    @staticmethod
    def _json_object(response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError as exc:
            raise Unavailable("the team service answered garbage") from exc
        if not isinstance(body, dict):
            raise Unavailable("the team service answered garbage")
        return body

    async def create_invitation(
        self,
        site_id: str,
        *,
        email: str,
        role: str,
        token_digest: str,
        inviter: AgentIdentity,
        expires_in_seconds: int,
    ) -> dict[str, Any]:
        response = await self._call(
            "POST",
            f"/internal/sites/{quote(site_id, safe='')}/invitations",
            json={
                "email": email,
                "role": role,
                "token_digest": token_digest,
                "invited_by": {
                    "agent_id": inviter.agent_id,
                    "name": inviter.name,
                    "role": inviter.role,
                },
                "expires_in_seconds": expires_in_seconds,
            },
        )
        if response.status_code != 201:
            raise self._refusal(response, "create")
        return self._json_object(response)

    async def list_invitations(self, site_id: str) -> list[dict[str, Any]]:
        response = await self._call("GET", f"/internal/sites/{quote(site_id, safe='')}/invitations")
        if response.status_code != 200:
            raise self._refusal(response, "list")
        listed = self._json_object(response).get("invitations")
        if not isinstance(listed, list):
            raise Unavailable("the team service answered garbage")
        # Belt and braces: whatever the service answers, nothing of another site leaves here.
        return [i for i in listed if isinstance(i, dict) and i.get("site_id") == site_id]

    async def revoke_invitation(self, site_id: str, invitation_id: str) -> None:
        response = await self._call(
            "DELETE",
            f"/internal/sites/{quote(site_id, safe='')}/invitations/{quote(invitation_id, safe='')}",
        )
        if response.status_code != 204:
            raise self._refusal(response, "revoke")

    async def accept_invitation(
        self, token_digest: str, name: str, password: str
    ) -> dict[str, Any]:
        response = await self._call(
            "POST",
            "/internal/invitations/accept",
            json={"token_digest": token_digest, "name": name, "password": password},
        )
        if response.status_code == 201:
            agent = self._json_object(response).get("agent")
            if not isinstance(agent, dict):
                raise Unavailable("the team service answered garbage")
            return agent
        code, message = self._error_of(response)
        if response.status_code == 404:
            raise InvitationInvalid(message)
        if response.status_code == 410:
            raise InvitationUnusable(message, code=code or "invitation_expired")
        raise self._refusal(response, "accept")

    async def ping(self) -> None:
        response = await self._http.get("/healthz")
        response.raise_for_status()
