"""Client of the conversation service's internal HTTP API (sites and stored messages)."""

from __future__ import annotations

import logging
import uuid
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from ..domain.frames import MessageFrame
from ..domain.sites import Site
from ..service_layer.errors import Unavailable

log = logging.getLogger(__name__)


class ConversationServiceClient:
    def __init__(self, base_url: str, *, timeout_seconds: float) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout_seconds),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> Any | None:
        """The JSON body of a 200, None for a 404; ``Unavailable`` for anything else."""
        try:
            response = await self._http.get(path, params=params)
        except httpx.HTTPError as exc:
            log.warning(
                "conversation service unreachable",
                extra={"fields": {"path": path, "error": repr(exc)}},
            )
            raise Unavailable("the conversation service is unavailable; retry") from exc
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            log.warning(
                "conversation service answered an error",
                extra={"fields": {"path": path, "status": response.status_code}},
            )
            raise Unavailable("the conversation service is unavailable; retry")
        try:
            return response.json()
        except ValueError as exc:
            raise Unavailable("the conversation service answered garbage") from exc

    def _site(self, body: Any) -> Site:
        try:
            return Site.model_validate(body)
        except ValidationError as exc:
            log.error(
                "conversation service sent a malformed site", extra={"fields": {"error": str(exc)}}
            )
            raise Unavailable("the conversation service answered garbage") from exc

    async def by_key(self, public_key: str) -> Site | None:
        body = await self._get(f"/internal/sites/by-key/{quote(public_key, safe='')}")
        return None if body is None else self._site(body)

    async def by_id(self, site_id: str) -> Site | None:
        body = await self._get(f"/internal/sites/{quote(site_id, safe='')}")
        return None if body is None else self._site(body)

    async def messages_after(
        self, conversation_id: uuid.UUID, after_seq: int, limit: int
    ) -> list[MessageFrame] | None:
        body = await self._get(
            f"/internal/conversations/{conversation_id}/messages",
            params={"after_seq": after_seq, "limit": limit},
        )
        if body is None:
            return None
        try:
            return [MessageFrame.model_validate(m) for m in body["messages"]]
        except (ValidationError, KeyError, TypeError) as exc:
            log.error(
                "conversation service sent malformed messages",
                extra={"fields": {"error": str(exc)[:500]}},
            )
            raise Unavailable("the conversation service answered garbage") from exc

    # -- the agent console's views (passed through as the conversation service sends them)

    async def conversation(self, conversation_id: uuid.UUID) -> dict[str, Any] | None:
        return self._object(await self._get(f"/internal/conversations/{conversation_id}"))

    async def agent_view(self, conversation_id: uuid.UUID) -> dict[str, Any] | None:
        return self._object(
            await self._get(f"/internal/conversations/{conversation_id}/agent-view")
        )

    async def list_conversations(
        self, site_id: str, filters: dict[str, str | int | bool]
    ) -> list[dict[str, Any]]:
        params = {
            key: (str(value).lower() if isinstance(value, bool) else value)
            for key, value in filters.items()
        }
        body = await self._get("/internal/conversations", params={**params, "site_id": site_id})
        listed = body.get("conversations") if isinstance(body, dict) else None
        if not isinstance(listed, list):
            raise Unavailable("the conversation service answered garbage")
        # Belt and braces: whatever the service answers, nothing of another site leaves here.
        return [c for c in listed if isinstance(c, dict) and c.get("site_id") == site_id]

    @staticmethod
    def _object(body: Any) -> dict[str, Any] | None:
        if body is None:
            return None
        if not isinstance(body, dict):
            raise Unavailable("the conversation service answered garbage")
        return body

    async def ping(self) -> None:
        response = await self._http.get("/healthz")
        response.raise_for_status()
