"""Client of the escalation service's internal team API: agent sign-in and the roster.

Contract: ``POST /internal/agents/authenticate {email, password}`` answers 200
``{agent_id, site_id, name, role, skills, languages}`` or 401; ``GET
/internal/sites/{site_id}/agents`` lists the site's agents with ``active``. Passwords and
their hashes never leave that service.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..domain.agents import AgentIdentity, Role
from ..service_layer.errors import Unavailable

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

    async def ping(self) -> None:
        response = await self._http.get("/healthz")
        response.raise_for_status()
