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
    # The team roster: who may sign in to the console, with what role, skills, languages and
    # capacity. Emails are unique case-insensitively; the hash is argon2id.
    f"""
    CREATE TABLE {SCHEMA}.agents (
        agent_id       text        PRIMARY KEY,
        site_id        text        NOT NULL,
        email          text        NOT NULL,
        name           text        NOT NULL,
        role           text        NOT NULL,
        skills         text[]      NOT NULL DEFAULT '{{}}',
        languages      text[]      NOT NULL DEFAULT '{{}}',
        max_concurrent integer     NOT NULL,
        password_hash  text,
        active         boolean     NOT NULL DEFAULT true,
        created_at     timestamptz NOT NULL DEFAULT now(),
        updated_at     timestamptz NOT NULL DEFAULT now()
    )""",
    f"CREATE UNIQUE INDEX agents_email ON {SCHEMA}.agents (lower(email))",
    f"CREATE INDEX agents_site ON {SCHEMA}.agents (site_id)",
    # Per-site routing settings (``RoutingSettings`` as JSON): business hours, offline
    # message, VIP visitors.
    f"""
    CREATE TABLE {SCHEMA}.routing_settings (
        site_id    text        PRIMARY KEY,
        settings   jsonb       NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
    )""",
    # What the conversation's start told us that routing needs later: the visitor (VIP
    # priority) and the widget's locale.
    f"""
    CREATE TABLE {SCHEMA}.conversation_contexts (
        conversation_id uuid        PRIMARY KEY,
        site_id         text        NOT NULL,
        visitor_id      text,
        locale          text,
        created_at      timestamptz NOT NULL DEFAULT now()
    )""",
    # The agent each escalated conversation is assigned to now (one row per conversation);
    # an agent's load is the number of their rows.
    f"""
    CREATE TABLE {SCHEMA}.assignments (
        conversation_id uuid        PRIMARY KEY,
        site_id         text        NOT NULL,
        agent_id        text        NOT NULL,
        agent_name      text        NOT NULL,
        required_skill  text,
        language        text,
        priority        text        NOT NULL DEFAULT 'normal',
        assigned_at     timestamptz NOT NULL
    )""",
    f"CREATE INDEX assignments_agent ON {SCHEMA}.assignments (site_id, agent_id)",
    # Escalated conversations no agent could take yet, in the order they are served.
    f"""
    CREATE TABLE {SCHEMA}.queue_entries (
        conversation_id uuid        PRIMARY KEY,
        site_id         text        NOT NULL,
        required_skill  text,
        language        text,
        priority        text        NOT NULL DEFAULT 'normal',
        excluded_agents text[]      NOT NULL DEFAULT '{{}}',
        previous_agent_id text,
        assignment      text        NOT NULL DEFAULT 'routed',
        enqueued_at     timestamptz NOT NULL,
        correlation_id  uuid,
        cause_id        uuid
    )""",
    f"CREATE INDEX queue_entries_site ON {SCHEMA}.queue_entries (site_id, enqueued_at)",
    # Round robin among equally good agents: the last agent chosen, per site.
    f"""
    CREATE TABLE {SCHEMA}.routing_cursors (
        site_id       text        PRIMARY KEY,
        last_agent_id text        NOT NULL,
        updated_at    timestamptz NOT NULL DEFAULT now()
    )""",
    # How long agents took to resolve conversations (assignment to resolution): the wait
    # estimate's mean handling time. No conversation id: it outlives a deletion.
    f"""
    CREATE TABLE {SCHEMA}.handling_times (
        id          bigserial        PRIMARY KEY,
        site_id     text             NOT NULL,
        seconds     double precision NOT NULL,
        resolved_at timestamptz      NOT NULL
    )""",
    f"CREATE INDEX handling_times_site ON {SCHEMA}.handling_times (site_id, id DESC)",
    # The last questions' embeddings per conversation, for the repeated-question rule
    # (float32 little-endian vectors).
    f"""
    CREATE TABLE {SCHEMA}.question_embeddings (
        conversation_id uuid        NOT NULL,
        message_id      uuid        NOT NULL,
        model           text        NOT NULL,
        embedding       bytea       NOT NULL,
        created_at      timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (conversation_id, message_id)
    )""",
    # The position last announced to each waiting conversation (EscalationQueued), so a
    # conversation leaving the queue tells those behind it that they moved up.
    f"ALTER TABLE {SCHEMA}.queue_entries ADD COLUMN announced_position integer",
    # Invitations to join a site's team. Only the SHA-256 of the single-use token is kept
    # (the token itself is shown once to whoever invited, who passes it on). Open means
    # neither accepted nor revoked; expiry is checked when it is used.
    f"""
    CREATE TABLE {SCHEMA}.invitations (
        invitation_id   text        PRIMARY KEY,
        site_id         text        NOT NULL,
        email           text        NOT NULL,
        role            text        NOT NULL,
        token_digest    text        NOT NULL UNIQUE,
        invited_by_id   text        NOT NULL,
        invited_by_name text        NOT NULL,
        created_at      timestamptz NOT NULL DEFAULT now(),
        expires_at      timestamptz NOT NULL,
        accepted_at     timestamptz,
        agent_id        text,
        revoked_at      timestamptz
    )""",
    f"CREATE INDEX invitations_site ON {SCHEMA}.invitations (site_id, created_at DESC)",
    # One open invitation per site and email: inviting again replaces the open one.
    f"""
    CREATE UNIQUE INDEX invitations_open_email ON {SCHEMA}.invitations (site_id, lower(email))
        WHERE accepted_at IS NULL AND revoked_at IS NULL
    """,
]
