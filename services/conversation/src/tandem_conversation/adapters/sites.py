"""The site registry: public widget keys, allowed origins, greeting and identity settings."""

from __future__ import annotations

import json
import secrets
from typing import Any

from tandem_platform.postgres import DictConnection

from ..domain.hold import HoldPolicy


def new_public_key() -> str:
    # Public by design (it sits in the site's HTML); unguessable so keys can't be enumerated.
    return f"pk_{secrets.token_urlsafe(18)}"


def site_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "site_id": row["site_id"],
        "name": row["name"],
        "public_key": row["public_key"],
        "allowed_origins": list(row["allowed_origins"]),
        "greeting": row["greeting"],
        "require_identity": row["require_identity"],
        "identity_secret": row["identity_secret"],
        "show_confidence": row["show_confidence"],
        "widget": row["widget"],
        "hold_below_confidence": row["hold_below_confidence"],
        "hold_seconds": row["hold_seconds"],
        "hold_timeout_action": row["hold_timeout_action"],
        "fallback_text": row["fallback_text"],
        "ai_resumes_after_agent": row["ai_resumes_after_agent"],
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }


async def get_by_key(conn: DictConnection, public_key: str) -> dict[str, Any] | None:
    cur = await conn.execute(
        "SELECT * FROM conversation.sites WHERE public_key = %s", (public_key,)
    )
    return await cur.fetchone()


async def get(conn: DictConnection, site_id: str) -> dict[str, Any] | None:
    cur = await conn.execute("SELECT * FROM conversation.sites WHERE site_id = %s", (site_id,))
    return await cur.fetchone()


async def upsert(conn: DictConnection, site_id: str, data: dict[str, Any]) -> dict[str, Any]:
    existing = await get(conn, site_id)
    public_key = data.get("public_key") or (
        existing["public_key"] if existing else new_public_key()
    )
    cur = await conn.execute(
        """
        INSERT INTO conversation.sites
            (site_id, name, public_key, allowed_origins, greeting, require_identity,
             identity_secret, show_confidence, widget, hold_below_confidence, hold_seconds,
             hold_timeout_action, fallback_text, ai_resumes_after_agent)
        VALUES (%(site_id)s, %(name)s, %(public_key)s, %(origins)s, %(greeting)s,
                %(require_identity)s, %(secret)s, %(show_confidence)s, %(widget)s,
                %(hold_below)s, %(hold_seconds)s, %(hold_action)s, %(fallback)s,
                %(ai_resumes)s)
        ON CONFLICT (site_id) DO UPDATE SET
            name = EXCLUDED.name, public_key = EXCLUDED.public_key,
            allowed_origins = EXCLUDED.allowed_origins, greeting = EXCLUDED.greeting,
            require_identity = EXCLUDED.require_identity,
            identity_secret = EXCLUDED.identity_secret,
            show_confidence = EXCLUDED.show_confidence, widget = EXCLUDED.widget,
            hold_below_confidence = EXCLUDED.hold_below_confidence,
            hold_seconds = EXCLUDED.hold_seconds,
            hold_timeout_action = EXCLUDED.hold_timeout_action,
            fallback_text = EXCLUDED.fallback_text,
            ai_resumes_after_agent = EXCLUDED.ai_resumes_after_agent,
            updated_at = now()
        RETURNING *
        """,
        {
            "site_id": site_id,
            "name": data["name"],
            "public_key": public_key,
            "origins": list(data.get("allowed_origins", [])),
            "greeting": data["greeting"],
            "require_identity": bool(data.get("require_identity", False)),
            "secret": data.get("identity_secret"),
            "show_confidence": bool(data.get("show_confidence", True)),
            "widget": json.dumps(data.get("widget", {})),
            "hold_below": data.get("hold_below_confidence"),
            "hold_seconds": int(data.get("hold_seconds", 60)),
            "hold_action": data.get("hold_timeout_action", "send"),
            "fallback": data.get("fallback_text"),
            "ai_resumes": bool(data.get("ai_resumes_after_agent", True)),
        },
    )
    row = await cur.fetchone()
    assert row is not None
    return row


async def hold_policy(conn: DictConnection, site_id: str) -> HoldPolicy:
    """The site's hold settings; a site not registered here holds nothing."""
    cur = await conn.execute(
        "SELECT hold_below_confidence, hold_seconds, hold_timeout_action, fallback_text "
        "FROM conversation.sites WHERE site_id = %s",
        (site_id,),
    )
    row = await cur.fetchone()
    if row is None:
        return HoldPolicy()
    return HoldPolicy(
        below_confidence=row["hold_below_confidence"],
        seconds=row["hold_seconds"],
        timeout_action=row["hold_timeout_action"],
        fallback_text=row["fallback_text"],
    )
