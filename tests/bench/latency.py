"""POST-to-AI-reply latency on the running local stack (issue 2's end-to-end figure).

For each of N questions: open the conversation's socket, POST the question, and time until
the AI reply frame arrives. Prints one JSON object (median, p95, ...) as the last line.
Run with `make bench` (starts the stack and services first).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time

import httpx

from tests.e2e.client import WidgetSession, next_frame, running_stack_env

QUESTIONS = [
    "How do I start Tandem?",
    "How do I stop Tandem?",
    "Where are the logs?",
    "What does the confidence percentage mean?",
    "How do I delete a visitor's conversation?",
    "Which languages are supported?",
    "How do I scale the gateway?",
    "What happens to a message that cannot be processed?",
    "Does Tandem call a paid AI API?",
    "How do I add the widget to my website?",
    "What is the visitor token for?",
    "How does identity verification work?",
    "Which port does Kafka use locally?",
    "How do I run the tests?",
    "Why is the first start slow?",
    "Can the AI reply while an agent is in the conversation?",
    "What are the delivery guarantees?",
    "How are events versioned?",
    "What does Tandem store about visitors?",
    "How do I reset the local installation?",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[index]


async def measure(n: int) -> dict[str, object]:
    env = running_stack_env()
    timings: list[float] = []
    async with httpx.AsyncClient(timeout=30) as client:
        for question in (QUESTIONS * (n // len(QUESTIONS) + 1))[:n]:
            session = WidgetSession(env["GATEWAY_URL"], env["DEMO_SITE_KEY"])
            await session.start(client)
            async with await session.connect(after_seq=1) as ws:
                started = time.perf_counter()
                response = await session.send(client, question)
                response.raise_for_status()
                await next_frame(
                    ws, lambda f: f.get("type") == "message" and f.get("author") == "ai", timeout=60
                )
                timings.append((time.perf_counter() - started) * 1000)
    return {
        "benchmark": "post_to_ai_reply_on_socket",
        "questions": n,
        "median_ms": round(statistics.median(timings), 1),
        "p95_ms": round(percentile(timings, 0.95), 1),
        "min_ms": round(min(timings), 1),
        "max_ms": round(max(timings), 1),
    }


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    print(json.dumps(asyncio.run(measure(count))))
