"""The answering pipeline alone: saturation throughput against the raw model, and latency
at half that rate. Prints one JSON object as its last line (``make bench``).

Real parts: the models, Weaviate (one throw-away tenant), Postgres (its own schema), the
calibration, exactly as ``Answerer.answer`` runs them for a visitor's message; and Kafka,
for the last measurement of saturation.

1. Raw model: the English model (which answers English questions) encoding batches of
   ``batch_max_size`` questions back to back in one thread: questions per second, on an
   idle machine (``busy_cores_before`` says how idle).
2. Saturation: ``CONCURRENCY`` questions kept in flight through ``Answerer.answer``:
   answers per second. The ratio to (1) is what the service around the model costs.
   (1) and (2) are measured in ``ROUNDS`` alternating rounds and each summed over its
   rounds: this machine's cores run faster or slower by several per cent from one minute
   to the next, and a ratio of two figures taken minutes apart measured that as well.
3. Through Kafka: visitor messages on the visitor topic, answered by the service's own
   consumers (polled batches, entrypoints/consumers.py) and published as AnswerScored:
   answers per second, the path a deployed service runs.
4. Latency: questions arriving at half the pipeline's saturation rate (fixed intervals),
   each timed from arrival to answer: p50/p95/p99.

The knowledge base is measured as it is in service, indexed a while ago: Weaviate keeps
fresh writes in memtables until they have been idle for a minute and flushes them then, and
a search on an unflushed tenant costs it about a third more CPU. So the bench deactivates
and reactivates the tenant after indexing, which flushes it.

Every question carries a locale, as the widget sends it (the browser's; ``LOCALE``): when
the language detector is unsure of a short question, the locale decides its route. Without
one, an unsure question is answered by both routes (domain/answer.py, ``route_for``).

Saturation is measured twice: ``cold`` while every question is asked for the first time
(the cache of cited chunks' sentence vectors is filling), then in the steady state a
running service is in. On a machine where Weaviate shares the cores with the pipeline the
wall-clock ratio also pays for Weaviate's work, so the CPU each side spends is reported
too: ``cpu_ms_per_answer`` is this process's CPU time per answer (everything the answering
service itself does) and ``cpu_ratio`` compares it with the raw model's CPU time per
question, i.e. the ratio on cores of its own, as deploy/k8s runs it (Weaviate elsewhere).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker
from prometheus_client import REGISTRY
from tandem_answering.adapters.weaviate_store import COLLECTION
from tandem_answering.app import build_broker
from tandem_answering.bootstrap import Runtime, open_runtime
from tandem_answering.entrypoints import consumers
from tandem_answering.entrypoints.evaluation import EvalSet, index_set, load_set
from tandem_answering.settings import AnsweringSettings
from tandem_events import Event, MessageReceived
from tandem_events.topics import ANSWERING_EVENTS, VISITOR_EVENTS, Topic
from tandem_events.wire import encode
from tandem_platform.messaging import EventPublisher, ensure_topics
from weaviate.classes.tenants import Tenant, TenantActivityStatus

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("TANDEM_BENCH_DATA", REPO.parent / "shared" / "eval" / "stackfaq"))
CONCURRENCY = int(os.environ.get("TANDEM_BENCH_CONCURRENCY", "64"))
SATURATION_SECONDS = float(os.environ.get("TANDEM_BENCH_SECONDS", "24"))
RAW_SECONDS = 12.0
ROUNDS = max(1, int(os.environ.get("TANDEM_BENCH_ROUNDS", "3")))
LOCALE = "en-US"
KAFKA_MESSAGES = int(os.environ.get("TANDEM_BENCH_KAFKA_MESSAGES", "3000"))


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load_data() -> EvalSet:
    if (DATA / "kb.jsonl").is_file():
        return load_set(DATA)
    # No evaluation data on this machine: the project's own docs and questions about them.
    from tests.bench.latency import QUESTIONS

    return EvalSet(
        name="docs",
        folder=REPO / "docs",
        documents=[
            {"id": p.stem, "title": p.stem.replace("-", " "), "text": p.read_text(), "url": None}
            for p in sorted((REPO / "docs").glob("*.md"))
        ],
        questions=[{"question": q, "answer_ids": []} for q in QUESTIONS * 20],
    )


def settings() -> AnsweringSettings:
    return AnsweringSettings(
        postgres_dsn=os.environ["TANDEM_POSTGRES_DSN"],
        postgres_schema="answering_bench",
        weaviate_url=os.environ["TANDEM_WEAVIATE_URL"],
        weaviate_grpc_port=int(os.environ["TANDEM_WEAVIATE_GRPC_PORT"]),
        kafka_bootstrap=os.environ["TANDEM_KAFKA_BOOTSTRAP"],
    )


async def settle(runtime: Runtime, site_id: str) -> None:
    """Flush the tenant's memtables to segments, as Weaviate does by itself a minute after
    the last write: a tenant taken offline is written out, and queries read it from disk."""
    tenants = runtime.store.client.collections.use(COLLECTION).tenants
    for status in (TenantActivityStatus.INACTIVE, TenantActivityStatus.ACTIVE):
        await tenants.update([Tenant(name=site_id, activity_status=status)])


def _busy_cores(interval: float = 1.0) -> float | None:
    """How many of the machine's cores were busy over ``interval`` seconds (Linux)."""

    def sample() -> tuple[int, int]:
        ticks = [int(t) for t in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(ticks), ticks[3] + ticks[4]  # all, idle + iowait

    try:
        total_before, idle_before = sample()
        time.sleep(interval)
        total_after, idle_after = sample()
    except (OSError, ValueError, IndexError):
        return None
    total = total_after - total_before
    if total <= 0:
        return 0.0
    return (os.cpu_count() or 1) * (1 - (idle_after - idle_before) / total)


async def quiet(*, below: float = 0.15, limit: float = 60.0) -> float:
    """Wait, up to ``limit`` seconds, until the machine is idle, and say how busy it was.

    Work left running in the background (Weaviate compacting the segments a flush wrote,
    the previous phase's stragglers) would take cores from whatever is measured next.
    """
    deadline = time.monotonic() + limit
    while True:
        busy = await asyncio.to_thread(_busy_cores)
        if busy is None or busy < below or time.monotonic() > deadline:
            return busy or 0.0


@dataclass
class RawRun:
    """The raw model encoding back to back: questions, seconds, CPU seconds."""

    questions: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.questions / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_question(self) -> float:
        return 1000 * self.cpu_seconds / max(1, self.questions)

    def __add__(self, other: RawRun) -> RawRun:
        return RawRun(
            self.questions + other.questions,
            self.seconds + other.seconds,
            self.cpu_seconds + other.cpu_seconds,
        )


def raw_model_run(runtime: Runtime, questions: list[str], batch: int, seconds: float) -> RawRun:
    model = runtime.model
    model.encode(questions[:batch])  # warm-up
    done = 0
    started, cpu = time.perf_counter(), time.process_time()
    position = 0
    while time.perf_counter() - started < seconds:
        chunk = questions[position : position + batch]
        if len(chunk) < batch:
            position = 0
            chunk = questions[:batch]
        model.encode(chunk)
        position += batch
        done += len(chunk)
    return RawRun(done, time.perf_counter() - started, time.process_time() - cpu)


def _model_calls() -> tuple[float, float, float]:
    """The English model's calls so far: how many, texts encoded, seconds spent."""

    def value(name: str) -> float:
        return REGISTRY.get_sample_value(name, {"model": "english"}) or 0.0

    return (
        value("tandem_answering_model_batch_size_count"),
        value("tandem_answering_model_batch_size_sum"),
        value("tandem_answering_model_call_seconds_sum"),
    )


@dataclass
class Load:
    """Answers per second over a run, the CPU the run cost per answer, and how the English
    model was used: mean batch size, and the share of the run it was busy."""

    answers: int
    seconds: float
    cpu_seconds: float
    weaviate_cpu_seconds: float | None
    model_calls: float = 0.0
    model_texts: float = 0.0
    model_seconds: float = 0.0
    kafka_cpu_seconds: float | None = None

    @property
    def mean_batch(self) -> float:
        return self.model_texts / self.model_calls if self.model_calls else 0.0

    @property
    def model_busy(self) -> float:
        return self.model_seconds / self.seconds

    @property
    def rate(self) -> float:
        return self.answers / self.seconds

    @property
    def cpu_ms_per_answer(self) -> float:
        return 1000 * self.cpu_seconds / max(1, self.answers)

    def __add__(self, other: Load) -> Load:
        return Load(
            self.answers + other.answers,
            self.seconds + other.seconds,
            self.cpu_seconds + other.cpu_seconds,
            _sum(self.weaviate_cpu_seconds, other.weaviate_cpu_seconds),
            self.model_calls + other.model_calls,
            self.model_texts + other.model_texts,
            self.model_seconds + other.model_seconds,
            _sum(self.kafka_cpu_seconds, other.kafka_cpu_seconds),
        )


def _stack_pid(server: str = "weaviate") -> int | None:
    """A server of the local stack (its CPU time is part of what an answer costs here)."""
    pid_file = REPO / ".run" / "pids" / f"{server}.pid"
    try:
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return None
    return pid


def _process_cpu_seconds(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _difference(after: float | None, before: float | None) -> float | None:
    return None if after is None or before is None else after - before


def _sum(one: float | None, other: float | None) -> float | None:
    return None if one is None or other is None else one + other


@dataclass(frozen=True)
class Snapshot:
    """The CPU time spent so far by this process, the stack's Weaviate and Kafka, and the
    English model's calls: taken at both ends of a measured stretch."""

    process_cpu: float
    weaviate_cpu: float | None
    kafka_cpu: float | None
    model_calls: tuple[float, float, float]

    @classmethod
    def now(cls) -> Snapshot:
        return cls(
            time.process_time(),
            _process_cpu_seconds(_stack_pid()),
            _process_cpu_seconds(_stack_pid("kafka")),
            _model_calls(),
        )

    def load_since(self, before: Snapshot, answers: int, seconds: float) -> Load:
        calls, texts, model_seconds = (
            after - earlier
            for after, earlier in zip(self.model_calls, before.model_calls, strict=True)
        )
        return Load(
            answers,
            seconds,
            self.process_cpu - before.process_cpu,
            _difference(self.weaviate_cpu, before.weaviate_cpu),
            calls,
            texts,
            model_seconds,
            _difference(self.kafka_cpu, before.kafka_cpu),
        )


async def saturation(
    runtime: Runtime,
    site_id: str,
    questions: list[str],
    *,
    seconds: float | None = None,
    once: bool = False,
) -> Load:
    """``CONCURRENCY`` questions in flight for ``seconds``, or until each was asked ``once``."""
    done = 0
    stop = time.perf_counter() + (seconds or SATURATION_SECONDS)
    cursor = 0

    async def worker() -> None:
        nonlocal done, cursor
        while (cursor < len(questions)) if once else (time.perf_counter() < stop):
            question = questions[cursor % len(questions)]
            cursor += 1
            await runtime.answerer.answer(site_id, question, locale=LOCALE)
            done += 1

    started, before = time.perf_counter(), Snapshot.now()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return Snapshot.now().load_since(before, done, time.perf_counter() - started)


async def latency_at(
    runtime: Runtime, site_id: str, questions: list[str], rate: float, seconds: float
) -> list[float]:
    """Open loop: a question every 1/rate s whether or not earlier ones are done."""
    latencies: list[float] = []
    tasks = []
    interval = 1.0 / rate
    start = time.perf_counter()

    async def one(question: str, arrival: float) -> None:
        await runtime.answerer.answer(site_id, question, locale=LOCALE)
        latencies.append(time.perf_counter() - arrival)

    for i in range(int(seconds * rate)):
        arrival = start + i * interval
        delay = arrival - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(questions[i % len(questions)], arrival)))
    await asyncio.gather(*tasks)
    return latencies


class CountingPublisher(EventPublisher):
    """Publishes as the service does, but to the bench's own ``topic``, and notes when
    each distinct answer went out."""

    def __init__(self, broker: KafkaBroker, *, source: str, topic: str) -> None:
        super().__init__(broker, source=source)
        self.topic = topic
        self.published_at: dict[uuid.UUID, float] = {}

    async def publish(self, event: Event, *, traceparent: str | None = None) -> None:
        value, headers = encode(event, source=self.source, traceparent=traceparent)
        await self.broker.publish(value, topic=self.topic, key=event.key, headers=headers)
        self.published_at.setdefault(event.event_id, time.perf_counter())


async def _delete_topics(bootstrap: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(names)
    finally:
        await admin.close()


async def through_kafka(
    runtime: Runtime, config: AnsweringSettings, site_id: str, questions: list[str], count: int
) -> Load:
    """The deployed path: ``count`` visitor messages (one per conversation), answered by
    the service's own consumers (entrypoints/consumers.py, its default workers and batch
    size) and published as AnswerScored. The consumers join the group first and the
    messages arrive as a backlog; the rate is taken between the 10th and 90th percentile of
    answers, so the start and the last stragglers are left out.

    Questions and answers travel on two throw-away topics shaped like the visitor and
    answering topics, deleted afterwards: on the real ones, the stack's services (running
    or started later) would answer and record thousands of bench messages."""
    suffix = uuid.uuid4().hex[:8]
    visitor_topic = Topic(f"tandem.bench.visitor.{suffix}", VISITOR_EVENTS.partitions, "bench")
    answers_topic = Topic(f"tandem.bench.answers.{suffix}", ANSWERING_EVENTS.partitions, "bench")
    kafka_settings = config.model_copy(update={"group_id": f"tandem-answering-bench-{suffix}"})
    await ensure_topics(config.kafka_bootstrap, [visitor_topic, answers_topic])
    broker, policy = build_broker(kafka_settings)
    publisher = CountingPublisher(broker, source="/tandem/answering", topic=answers_topic.name)
    consumers.register(
        broker,
        kafka_settings,
        consumers.ConsumerDeps(runtime.answerer, publisher),
        policy,
        topic=visitor_topic.name,
    )
    await broker.start()
    try:
        deadline = time.monotonic() + 60
        assigned = 0
        while assigned < visitor_topic.partitions:
            assigned = sum(len(s.consumer.assignment()) for s in broker.subscribers if s.consumer)
            if time.monotonic() > deadline:
                raise RuntimeError("the bench consumers were not assigned the visitor topic")
            await asyncio.sleep(0.2)
        producer = AIOKafkaProducer(
            bootstrap_servers=config.kafka_bootstrap, linger_ms=5, enable_idempotence=True
        )
        await producer.start()
        try:
            for i in range(count):
                message = MessageReceived(
                    site_id=site_id,
                    conversation_id=uuid.uuid4(),
                    message_id=uuid.uuid4(),
                    client_message_id=f"bench-{i}",
                    seq=2,
                    text=questions[i % len(questions)],
                    locale=LOCALE,
                )
                value, headers = encode(message, source="/bench")
                await producer.send(
                    visitor_topic.name,
                    value,
                    key=message.key,
                    headers=[(k, v.encode()) for k, v in headers.items()],
                )
            await producer.flush()
        finally:
            await producer.stop()
        low, high = count // 10, count - count // 10
        deadline = time.monotonic() + 60 + count / 10
        while len(publisher.published_at) < low:
            await asyncio.sleep(0.005)
        before = Snapshot.now()
        while len(publisher.published_at) < high:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"only {len(publisher.published_at)} of {count} messages answered in time"
                )
            await asyncio.sleep(0.005)
        after = Snapshot.now()
        times = sorted(publisher.published_at.values())
        while len(publisher.published_at) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        await broker.stop()
        await _delete_topics(config.kafka_bootstrap, [visitor_topic.name, answers_topic.name])
    return after.load_since(before, high - low, times[high - 1] - times[low - 1])


def _per_answer_ms(cpu_seconds: float | None, load: Load) -> float | None:
    return None if cpu_seconds is None else round(1000 * cpu_seconds / max(1, load.answers), 2)


def ms(values: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(values) * 1000, q)), 1)


async def main() -> dict[str, Any]:
    bench_set = load_data()
    questions = [q["question"] for q in bench_set.questions]
    config = settings()
    site_id = f"bench-{uuid.uuid4().hex[:10]}"
    async with open_runtime(config) as runtime:
        try:
            _say(f"indexing {len(bench_set.documents)} documents from {bench_set.folder}")
            await index_set(runtime, site_id, bench_set)
            await settle(runtime, site_id)
            for question in questions[:20]:  # connections, model and tenant caches
                await runtime.answerer.answer(site_id, question, locale=LOCALE)
            busy_before_pipeline = await quiet()
            _say(f"cold: each of {len(questions)} questions once, {CONCURRENCY} in flight")
            cold = await saturation(runtime, site_id, questions, once=True)
            raw, steady = RawRun(), None
            ratios, busy_before_raw = [], 0.0
            for round_number in range(1, ROUNDS + 1):
                busy_before_raw = max(busy_before_raw, await quiet())
                _say(f"round {round_number}/{ROUNDS}: raw model, then {CONCURRENCY} in flight")
                raw_round = await asyncio.to_thread(
                    raw_model_run, runtime, questions, config.batch_max_size, RAW_SECONDS / ROUNDS
                )
                load = await saturation(
                    runtime, site_id, questions, seconds=SATURATION_SECONDS / ROUNDS
                )
                ratios.append(round(load.rate / raw_round.rate, 3))
                raw, steady = raw + raw_round, load if steady is None else steady + load
            assert steady is not None
            saturated = steady.rate
            busy_before_kafka = await quiet()
            _say(f"through Kafka: {KAFKA_MESSAGES} visitor messages to the service's consumers")
            kafka = await through_kafka(runtime, config, site_id, questions, KAFKA_MESSAGES)
            half = saturated / 2
            busy_before_latency = await quiet()  # the Kafka phase's stragglers first
            _say(f"latency at {half:.1f} answers/s")
            latencies = await latency_at(
                runtime, site_id, questions, half, max(10.0, SATURATION_SECONDS)
            )
        finally:
            await runtime.ingestion.delete_site(site_id)
        return {
            "benchmark": "answering pipeline alone",
            "cpu_cores": os.cpu_count(),
            "device": config.device,
            "model": runtime.model.version,
            "batch_size": config.batch_max_size,
            "knowledge_base": bench_set.name,
            "documents": len(bench_set.documents),
            "locale": LOCALE,
            "rounds": ROUNDS,
            "raw_model_questions_per_second": round(raw.rate, 1),
            "saturation_answers_per_second": round(saturated, 1),
            "ratio_to_raw_model": round(saturated / raw.rate, 3),
            "ratio_by_round": ratios,
            "cold_saturation_answers_per_second": round(cold.rate, 1),
            "raw_model_cpu_ms_per_question": round(raw.cpu_ms_per_question, 2),
            "busy_cores_before": {
                "raw_model": round(busy_before_raw, 2),
                "pipeline": round(busy_before_pipeline, 2),
                "kafka": round(busy_before_kafka, 2),
                "latency": round(busy_before_latency, 2),
            },
            "cpu_ms_per_answer": round(steady.cpu_ms_per_answer, 2),
            "cold_cpu_ms_per_answer": round(cold.cpu_ms_per_answer, 2),
            "weaviate_cpu_ms_per_answer": _per_answer_ms(steady.weaviate_cpu_seconds, steady),
            "cpu_ratio": round(raw.cpu_ms_per_question / steady.cpu_ms_per_answer, 3),
            "english_model_at_saturation": {
                "mean_batch": round(steady.mean_batch, 1),
                "busy_share": round(steady.model_busy, 3),
            },
            "through_kafka": {
                "consumer_workers": config.consumer_workers,
                "batch_max_records": config.consumer_batch_max_records,
                "answers_per_second": round(kafka.rate, 1),
                "ratio_to_raw_model": round(kafka.rate / raw.rate, 3),
                "cpu_ms_per_answer": round(kafka.cpu_ms_per_answer, 2),
                "weaviate_cpu_ms_per_answer": _per_answer_ms(kafka.weaviate_cpu_seconds, kafka),
                "kafka_broker_cpu_ms_per_answer": _per_answer_ms(kafka.kafka_cpu_seconds, kafka),
                "english_model": {
                    "mean_batch": round(kafka.mean_batch, 1),
                    "busy_share": round(kafka.model_busy, 3),
                },
            },
            "half_saturation_rate": round(half, 1),
            "latency_ms_at_half_saturation": {
                "answers": len(latencies),
                "p50": ms(latencies, 50),
                "p95": ms(latencies, 95),
                "p99": ms(latencies, 99),
                "mean": round(statistics.fmean(latencies) * 1000, 1),
            },
        }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
