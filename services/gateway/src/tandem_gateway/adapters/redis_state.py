"""The little state the gateway keeps, all in Redis and all expiring.

* Idempotency records of visitor messages: one hash per conversation
  (``tandem:gateway:conversation:<id>:messages``, field = client_message_id), so forgetting
  a conversation is a single DEL.
* Short per-message locks that let one of two concurrent copies publish.
* Idempotency records of agent messages (``...:agent-messages``) and the conversation's
  holder (``...:holder``, the agent who joined it), forgotten with the conversation.
* A deleted mark per conversation, kept as long as a token can live, so posts to a
  deleted conversation get 410 on every replica.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from datetime import datetime

from redis.asyncio import Redis

from ..service_layer.ports import AcceptedMessage

# Delete the lock only if we still own it (it may have expired and been taken since).
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _prefix(conversation_id: uuid.UUID) -> str:
    return f"tandem:gateway:conversation:{conversation_id}"


def messages_key(conversation_id: uuid.UUID, namespace: str = "messages") -> str:
    return f"{_prefix(conversation_id)}:{namespace}"


#: Idempotency records of agent messages live apart from visitors' (whose ids are chosen
#: by the visitor): a visitor can never pre-empt an agent's record.
AGENT_MESSAGES = "agent-messages"


def holder_key(conversation_id: uuid.UUID) -> str:
    return f"{_prefix(conversation_id)}:holder"


def deleted_key(conversation_id: uuid.UUID) -> str:
    return f"{_prefix(conversation_id)}:deleted"


def lock_key(
    conversation_id: uuid.UUID, client_message_id: str, namespace: str = "messages"
) -> str:
    digest = hashlib.sha256(client_message_id.encode()).hexdigest()[:32]
    if namespace != "messages":
        return f"{_prefix(conversation_id)}:{namespace}-lock:{digest}"
    return f"{_prefix(conversation_id)}:lock:{digest}"


class _RedisLock:
    def __init__(self, store: RedisIdempotencyStore, key: str, owner: str) -> None:
        self._store = store
        self._key = key
        self._owner = owner

    async def release(self) -> None:
        await self._store.release_script(keys=[self._key], args=[self._owner])


class RedisIdempotencyStore:
    def __init__(self, redis: Redis, *, ttl_seconds: int, namespace: str = "messages") -> None:
        self.redis = redis
        self.ttl_seconds = ttl_seconds
        self.namespace = namespace
        self.release_script = redis.register_script(_RELEASE)

    async def get(
        self, conversation_id: uuid.UUID, client_message_id: str
    ) -> AcceptedMessage | None:
        raw = await self.redis.hget(
            messages_key(conversation_id, self.namespace), client_message_id
        )
        if raw is None:
            return None
        data = json.loads(raw)
        return AcceptedMessage(
            message_id=uuid.UUID(data["message_id"]),
            seq=int(data["seq"]),
            occurred_at=datetime.fromisoformat(data["occurred_at"]),
            published=bool(data["published"]),
        )

    async def put(
        self, conversation_id: uuid.UUID, client_message_id: str, record: AcceptedMessage
    ) -> None:
        value = json.dumps(
            {
                "message_id": str(record.message_id),
                "seq": record.seq,
                "occurred_at": record.occurred_at.isoformat(),
                "published": record.published,
            }
        )
        key = messages_key(conversation_id, self.namespace)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, client_message_id, value)
            pipe.expire(key, self.ttl_seconds)
            await pipe.execute()

    async def try_lock(
        self, conversation_id: uuid.UUID, client_message_id: str, ttl_seconds: float
    ) -> _RedisLock | None:
        key = lock_key(conversation_id, client_message_id, self.namespace)
        owner = secrets.token_hex(16)
        acquired = await self.redis.set(key, owner, nx=True, px=int(ttl_seconds * 1000))
        return _RedisLock(self, key, owner) if acquired else None


class RedisConversationFlags:
    def __init__(self, redis: Redis, *, deleted_ttl_seconds: int) -> None:
        self.redis = redis
        self.deleted_ttl_seconds = deleted_ttl_seconds

    async def is_deleted(self, conversation_id: uuid.UUID) -> bool:
        return bool(await self.redis.exists(deleted_key(conversation_id)))

    async def mark_deleted(self, conversation_id: uuid.UUID) -> None:
        await self.redis.set(deleted_key(conversation_id), b"1", ex=self.deleted_ttl_seconds)

    async def forget(self, conversation_id: uuid.UUID) -> None:
        await self.redis.delete(
            messages_key(conversation_id),
            messages_key(conversation_id, AGENT_MESSAGES),
            holder_key(conversation_id),
        )
