"""The ``analytics`` schema. Append-only: migration ``i`` is ``MIGRATIONS[i]`` forever.

Every table is a projection of events; none is written from anywhere else. Tables about
conversations carry ``conversation_id`` so a deletion can find every row.
"""

from __future__ import annotations

SCHEMA = "analytics"

MIGRATIONS: list[str] = [
    f"""
    CREATE TABLE {SCHEMA}.conversations (
        conversation_id          uuid        PRIMARY KEY,
        site_id                  text        NOT NULL,
        -- ConversationStarted's time once it arrives; until then the earliest event seen.
        started_at               timestamptz NOT NULL,
        start_known              boolean     NOT NULL DEFAULT false,
        status                   text        NOT NULL DEFAULT 'active',
        status_at                timestamptz,
        language                 text,
        -- true once an answer's detected language replaced the widget's locale
        language_detected        boolean     NOT NULL DEFAULT false,
        escalated                boolean     NOT NULL DEFAULT false,
        escalation_reason        text,
        escalated_at             timestamptz,
        agent_joined_at          timestamptz,
        resolved_at              timestamptz,
        resolved_by              text,
        rating                   smallint,
        rated_at                 timestamptz,
        visitor_messages         integer     NOT NULL DEFAULT 0,
        ai_messages              integer     NOT NULL DEFAULT 0,
        agent_messages           integer     NOT NULL DEFAULT 0,
        system_messages          integer     NOT NULL DEFAULT 0,
        ai_answers               integer     NOT NULL DEFAULT 0,
        confidence_sum           double precision NOT NULL DEFAULT 0,
        first_visitor_message_at timestamptz,
        first_response_at        timestamptz,
        updated_at               timestamptz NOT NULL DEFAULT now()
    )""",
    f"CREATE INDEX conversations_site_started ON {SCHEMA}.conversations (site_id, started_at)",
    # One row per stored message (no text): counts by author, response times, peak hours.
    f"""
    CREATE TABLE {SCHEMA}.messages (
        message_id      uuid        PRIMARY KEY,
        conversation_id uuid        NOT NULL,
        site_id         text        NOT NULL,
        author          text        NOT NULL,
        occurred_at     timestamptz NOT NULL
    )""",
    f"CREATE INDEX messages_conversation ON {SCHEMA}.messages (conversation_id)",
    f"CREATE INDEX messages_site_time ON {SCHEMA}.messages (site_id, occurred_at)",
    # One row per AnswerScored: confidence trends and knowledge gaps.
    f"""
    CREATE TABLE {SCHEMA}.answers (
        event_id        uuid        PRIMARY KEY,
        conversation_id uuid        NOT NULL,
        site_id         text        NOT NULL,
        in_reply_to     uuid        NOT NULL,
        question        text        NOT NULL,
        confidence      double precision NOT NULL,
        answered        boolean     NOT NULL,
        language        text,
        top_source      text,
        occurred_at     timestamptz NOT NULL
    )""",
    f"CREATE INDEX answers_conversation ON {SCHEMA}.answers (conversation_id)",
    f"CREATE INDEX answers_site_time ON {SCHEMA}.answers (site_id, occurred_at)",
    f"""
    CREATE TABLE {SCHEMA}.escalations (
        event_id        uuid        PRIMARY KEY,
        conversation_id uuid        NOT NULL,
        site_id         text        NOT NULL,
        reason          text        NOT NULL,
        occurred_at     timestamptz NOT NULL
    )""",
    f"CREATE INDEX escalations_conversation ON {SCHEMA}.escalations (conversation_id)",
    f"CREATE INDEX escalations_site_time ON {SCHEMA}.escalations (site_id, occurred_at)",
    # Per site, per UTC hour, per metric. Only metrics backed by rows above (or with no
    # conversation at all), so a deletion can subtract exactly what the conversation added.
    f"""
    CREATE TABLE {SCHEMA}.hourly_counters (
        site_id text        NOT NULL,
        metric  text        NOT NULL,
        hour    timestamptz NOT NULL,
        value   bigint      NOT NULL,
        PRIMARY KEY (site_id, metric, hour)
    )""",
    # Deleted conversations by a digest of their id (the id itself is forgotten), so a
    # late event on another topic cannot bring one back.
    f"""
    CREATE TABLE {SCHEMA}.forgotten_conversations (
        conversation_digest bytea       PRIMARY KEY,
        forgotten_at        timestamptz NOT NULL DEFAULT now()
    )""",
    # Human overrides of the AI, one row each: held replies an agent edited, replaced or
    # discarded, held replies that fell back on timeout, and corrections of sent replies.
    f"""
    CREATE TABLE {SCHEMA}.overrides (
        event_id        uuid        PRIMARY KEY,
        conversation_id uuid        NOT NULL,
        site_id         text        NOT NULL,
        kind            text        NOT NULL,
        reason          text,
        agent_id        text,
        occurred_at     timestamptz NOT NULL
    )""",
    f"CREATE INDEX overrides_conversation ON {SCHEMA}.overrides (conversation_id)",
    f"CREATE INDEX overrides_site_time ON {SCHEMA}.overrides (site_id, occurred_at)",
    # Waits in the agents' queue: from the first EscalationQueued to the AgentAssigned that
    # ends it (assigned_at stays NULL while the visitor waits).
    f"""
    CREATE TABLE {SCHEMA}.queue_waits (
        conversation_id uuid        NOT NULL,
        site_id         text        NOT NULL,
        queued_at       timestamptz NOT NULL,
        assigned_at     timestamptz,
        agent_id        text,
        PRIMARY KEY (conversation_id, queued_at)
    )""",
    f"CREATE INDEX queue_waits_site_time ON {SCHEMA}.queue_waits (site_id, assigned_at)",
]
