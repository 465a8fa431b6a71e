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
]
