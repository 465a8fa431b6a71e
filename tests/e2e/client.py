"""A small widget-API client used by the end-to-end tests and the latency benchmark."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets

REPO = Path(__file__).resolve().parents[2]


def running_stack_env() -> dict[str, str]:
    """GATEWAY_URL, DEMO_SITE_KEY, ... from the environment or ``.run/local.env``."""
    values: dict[str, str] = {}
    env_file = Path(os.environ.get("TANDEM_RUN_DIR", REPO / ".run")) / "local.env"
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep:
                values[key.strip()] = value.strip()
    for key in (
        "GATEWAY_URL",
        "DEMO_SITE_KEY",
        "CONVERSATION_URL",
        "ANALYTICS_URL",
        "ESCALATION_URL",
    ):
        if os.environ.get(key):
            values[key] = os.environ[key]
    return values


@dataclass
class WidgetSession:
    gateway: str
    site_key: str
    origin: str | None = None
    conversation_id: str = ""
    token: str = ""
    frames: list[dict[str, Any]] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        h = {"Authorization": f"Bearer {self.token}"}
        if self.origin:
            h["Origin"] = self.origin
        return h

    async def start(self, client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
        headers = {"X-Site-Key": self.site_key}
        if self.origin:
            headers["Origin"] = self.origin
        r = await client.post(f"{self.gateway}/v1/widget/conversations", json=body, headers=headers)
        r.raise_for_status()
        data = r.json()
        self.conversation_id, self.token = data["conversation_id"], data["visitor_token"]
        return data

    async def send(
        self, client: httpx.AsyncClient, text: str, client_message_id: str | None = None
    ) -> httpx.Response:
        return await client.post(
            f"{self.gateway}/v1/widget/conversations/{self.conversation_id}/messages",
            json={"text": text, "client_message_id": client_message_id or uuid.uuid4().hex},
            headers=self.headers,
        )

    def stream_url(self, after_seq: int = 0) -> str:
        base = self.gateway.replace("http://", "ws://").replace("https://", "wss://")
        return (
            f"{base}/v1/widget/conversations/{self.conversation_id}/stream"
            f"?token={self.token}&after_seq={after_seq}"
        )

    async def connect(self, after_seq: int = 0):  # type: ignore[no-untyped-def]
        extra = {"Origin": self.origin} if self.origin else None
        return await websockets.connect(self.stream_url(after_seq), additional_headers=extra)


async def next_frame(ws, predicate, timeout: float = 30.0) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Read frames until one satisfies ``predicate``; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no matching frame in time")
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout=remaining))
        if predicate(frame):
            return frame
