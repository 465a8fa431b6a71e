"""Plays a human agent for the browser tests by publishing the agent events the console
publishes (topic ``tandem.agent.events``), so the widget's agent paths run through the real
services: the conversation service stores the reply and changes the status, the gateway
turns both into frames.

    python tests/browser/act_as_agent.py --conversation ID --site demo join
    python tests/browser/act_as_agent.py --conversation ID --site demo reply "Hello"
    python tests/browser/act_as_agent.py --conversation ID --site demo resolve

Reads ``TANDEM_KAFKA_BOOTSTRAP`` and ``TANDEM_REDIS_URL`` (``.run/stack.env``). Prints the
published event as JSON (with the reply's ``seq``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid
from pathlib import Path

from tandem_events import AgentJoined, AgentLeft, AgentReplied, Event, ResolutionRequested
from tandem_platform.messaging import EventPublisher, make_broker
from tandem_platform.redis import SequenceAllocator, open_redis

REPO = Path(__file__).resolve().parents[2]


def _stack_env() -> dict[str, str]:
    values: dict[str, str] = {}
    env_file = Path(os.environ.get("TANDEM_RUN_DIR", REPO / ".run")) / "stack.env"
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep:
                values[key.strip()] = value.strip()
    values.update({k: v for k, v in os.environ.items() if k.startswith("TANDEM_")})
    return values


async def _act(args: argparse.Namespace) -> dict[str, object]:
    env = _stack_env()
    conversation_id = uuid.UUID(args.conversation)
    common = {"site_id": args.site, "conversation_id": conversation_id}
    agent = {"agent_id": args.agent_id, "agent_name": args.agent_name}
    event: Event
    if args.action == "join":
        event = AgentJoined(**common, **agent)
    elif args.action == "leave":
        event = AgentLeft(**common, **agent, ai_resumes=True)
    elif args.action == "resolve":
        event = ResolutionRequested(**common, requested_by="agent", **agent)
    else:
        # Agent messages take their seq from the same counter as every other message.
        redis = open_redis(env["TANDEM_REDIS_URL"])
        try:
            seq = await SequenceAllocator(redis).next(conversation_id)
        finally:
            await redis.aclose()
        event = AgentReplied(
            **common, **agent, message_id=uuid.uuid4(), seq=seq, text=" ".join(args.text)
        )
    broker, _ = make_broker(env["TANDEM_KAFKA_BOOTSTRAP"], service="browser-tests")
    await broker.start()
    try:
        await EventPublisher(broker, source="/tandem/browser-tests").publish(event)
    finally:
        await broker.stop()
    return json.loads(event.model_dump_json())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversation", required=True)
    parser.add_argument("--site", required=True)
    parser.add_argument("--agent-id", default="browser-test-agent")
    parser.add_argument("--agent-name", default="Dana")
    parser.add_argument("action", choices=("join", "reply", "leave", "resolve"))
    parser.add_argument("text", nargs="*")
    args = parser.parse_args()
    if args.action == "reply" and not args.text:
        parser.error("reply needs the text")
    print(json.dumps(asyncio.run(_act(args))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
