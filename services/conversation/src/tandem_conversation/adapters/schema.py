"""The conversation service's own Postgres schema. Append-only: never edit a shipped step."""

SCHEMA = "conversation"

MIGRATIONS: list[str] = [
    """
    CREATE TABLE conversation.sites (
        site_id          text        PRIMARY KEY,
        name             text        NOT NULL,
        public_key       text        NOT NULL UNIQUE,
        allowed_origins  text[]      NOT NULL DEFAULT '{}',
        greeting         text        NOT NULL,
        require_identity boolean     NOT NULL DEFAULT false,
        identity_secret  text,
        show_confidence  boolean     NOT NULL DEFAULT true,
        widget           jsonb       NOT NULL DEFAULT '{}'::jsonb,
        created_at       timestamptz NOT NULL DEFAULT now(),
        updated_at       timestamptz NOT NULL DEFAULT now()
    )""",
    """
    CREATE TABLE conversation.conversations (
        conversation_id     uuid        PRIMARY KEY,
        site_id             text        NOT NULL,
        status              text        NOT NULL DEFAULT 'active',
        visitor_id          text,
        visitor_name        text,
        visitor_email       text,
        identity_verified   boolean     NOT NULL DEFAULT false,
        locale              text,
        assigned_agent_id   text,
        assigned_agent_name text,
        ai_paused           boolean     NOT NULL DEFAULT false,
        last_seq            integer     NOT NULL DEFAULT 0,
        rating              smallint,
        rating_comment      text,
        created_at          timestamptz NOT NULL DEFAULT now(),
        updated_at          timestamptz NOT NULL DEFAULT now(),
        resolved_at         timestamptz
    )""",
    "CREATE INDEX conversations_site_status ON conversation.conversations (site_id, status, updated_at DESC)",
    """
    CREATE TABLE conversation.messages (
        message_id      uuid        PRIMARY KEY,
        conversation_id uuid        NOT NULL
                        REFERENCES conversation.conversations ON DELETE CASCADE,
        seq             integer     NOT NULL,
        author          text        NOT NULL,
        author_name     text,
        text            text        NOT NULL,
        created_at      timestamptz NOT NULL,
        in_reply_to     uuid,
        confidence      real,
        sources         jsonb       NOT NULL DEFAULT '[]'::jsonb,
        language        text,
        UNIQUE (conversation_id, seq)
    )""",
    # Ids only (no content): stops late or redelivered events from re-creating a conversation
    # the visitor asked us to forget.
    """
    CREATE TABLE conversation.deleted_conversations (
        conversation_id uuid        PRIMARY KEY,
        deleted_at      timestamptz NOT NULL DEFAULT now()
    )""",
    # --- hand-off to humans: hold policy, assignment vs. join, notes, held replies ----------
    """
    ALTER TABLE conversation.sites
        ADD COLUMN hold_below_confidence  double precision,
        ADD COLUMN hold_seconds           integer NOT NULL DEFAULT 60,
        ADD COLUMN hold_timeout_action    text    NOT NULL DEFAULT 'send',
        ADD COLUMN fallback_text          text,
        ADD COLUMN ai_resumes_after_agent boolean NOT NULL DEFAULT true
    """,
    # assigned_agent_* now names whoever routing picked; agent_joined says they took over.
    """
    ALTER TABLE conversation.conversations
        ADD COLUMN agent_joined      boolean NOT NULL DEFAULT false,
        ADD COLUMN agent_joined_at   timestamptz,
        ADD COLUMN waiting_since     timestamptz,
        ADD COLUMN last_activity_at  timestamptz,
        ADD COLUMN last_confidence   double precision,
        ADD COLUMN language          text,
        ADD COLUMN escalation_reason text
    """,
    # Before this step an assigned agent was always one who had joined.
    "UPDATE conversation.conversations SET agent_joined = true WHERE assigned_agent_id IS NOT NULL",
    "UPDATE conversation.conversations SET last_activity_at = updated_at",
    """
    CREATE INDEX conversations_site_activity
        ON conversation.conversations (site_id, last_activity_at DESC)
    """,
    # stored_at: when this service stored the message (created_at is when it was written),
    # so "was anything stored after the agent joined" can be answered.
    """
    ALTER TABLE conversation.messages
        ADD COLUMN stored_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
        ADD COLUMN corrects     uuid,
        ADD COLUMN corrected_by uuid
    """,
    """
    CREATE TABLE conversation.notes (
        note_id         uuid        PRIMARY KEY,
        conversation_id uuid        NOT NULL
                        REFERENCES conversation.conversations ON DELETE CASCADE,
        agent_id        text        NOT NULL,
        agent_name      text        NOT NULL,
        text            text        NOT NULL,
        created_at      timestamptz NOT NULL
    )""",
    "CREATE INDEX notes_conversation ON conversation.notes (conversation_id, created_at)",
    # AI answers waiting for review. Not messages yet: no seq, invisible to the visitor.
    """
    CREATE TABLE conversation.held_replies (
        message_id        uuid        PRIMARY KEY,
        conversation_id   uuid        NOT NULL
                          REFERENCES conversation.conversations ON DELETE CASCADE,
        site_id           text        NOT NULL,
        in_reply_to       uuid        NOT NULL,
        text              text        NOT NULL,
        confidence        real        NOT NULL,
        sources           jsonb       NOT NULL DEFAULT '[]'::jsonb,
        language          text,
        created_at        timestamptz NOT NULL,
        hold_until        timestamptz NOT NULL,
        on_timeout        text        NOT NULL,
        fallback_text     text        NOT NULL,
        held_event_id     uuid        NOT NULL,
        correlation_id    uuid,
        state             text        NOT NULL DEFAULT 'held',
        decided_by        text,
        reason            text,
        posted_message_id uuid,
        decided_at        timestamptz
    )""",
    "CREATE INDEX held_replies_due ON conversation.held_replies (hold_until) WHERE state = 'held'",
    "CREATE INDEX held_replies_conversation ON conversation.held_replies (conversation_id)",
    # --- the dashboard's conversation browser: newest first, paged by (created_at, id) ----
    """
    CREATE INDEX conversations_site_created
        ON conversation.conversations (site_id, created_at DESC, conversation_id DESC)
    """,
    # Full-text search over what people typed (not the AI's answers): the expression and
    # the predicate must stay exactly those of repository.TYPED_TEXT_PREDICATE.
    """
    CREATE INDEX messages_typed_text
        ON conversation.messages USING gin (to_tsvector('simple'::regconfig, text))
        WHERE author IN ('visitor', 'agent')
    """,
]
