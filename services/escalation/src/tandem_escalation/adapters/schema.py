"""The ``escalation`` schema. Append-only: migration ``i`` is ``MIGRATIONS[i]`` forever."""

from __future__ import annotations

SCHEMA = "escalation"

MIGRATIONS: list[str] = [
    # Per-conversation rule state: the recent turns (questions, answers, confidences) the
    # rules and the summary need, the low-confidence streak and whether it is escalated.
    f"""
    CREATE TABLE {SCHEMA}.conversation_states (
        conversation_id       uuid        PRIMARY KEY,
        site_id               text        NOT NULL,
        escalated             boolean     NOT NULL DEFAULT false,
        escalation_reason     text,
        human_engaged         boolean     NOT NULL DEFAULT false,
        low_confidence_streak integer     NOT NULL DEFAULT 0,
        language              text,
        turns                 jsonb       NOT NULL DEFAULT '[]'::jsonb,
        updated_at            timestamptz NOT NULL DEFAULT now()
    )""",
    # Every escalation raised, for the console and audits (the event itself goes out
    # through the outbox).
    f"""
    CREATE TABLE {SCHEMA}.escalations (
        event_id        uuid        PRIMARY KEY,
        conversation_id uuid        NOT NULL,
        site_id         text        NOT NULL,
        reason          text        NOT NULL,
        detail          text        NOT NULL,
        raised_at       timestamptz NOT NULL,
        caused_by       uuid        NOT NULL
    )""",
    f"CREATE INDEX escalations_conversation ON {SCHEMA}.escalations (conversation_id)",
    f"CREATE INDEX escalations_site_time ON {SCHEMA}.escalations (site_id, raised_at)",
    # Per-site changes to the default policy (``PolicyOverrides`` as JSON).
    f"""
    CREATE TABLE {SCHEMA}.site_policies (
        site_id    text        PRIMARY KEY,
        overrides  jsonb       NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
    )""",
    # Conversations deleted, by a digest of their id (the id itself is forgotten), so an
    # event that arrives late on another topic cannot bring the conversation back.
    f"""
    CREATE TABLE {SCHEMA}.forgotten_conversations (
        conversation_digest bytea       PRIMARY KEY,
        forgotten_at        timestamptz NOT NULL DEFAULT now()
    )""",
]
