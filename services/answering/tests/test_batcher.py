from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest
from tandem_answering.adapters.embedder import BatchingEncoder

pytestmark = pytest.mark.unit


class RecordingEncoder:
    """Encodes text i as a one-hot-ish vector of its length; records every call."""

    dimension = 4

    def __init__(self, delay: float = 0.0, fail_on: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.kinds: list[bool] = []
        self.delay = delay
        self.fail_on = fail_on
        self.threads: set[str] = set()

    def encode(self, texts: list[str], *, query: bool = True) -> np.ndarray:
        self.threads.add(threading.current_thread().name)
        self.calls.append(list(texts))
        self.kinds.append(query)
        if self.fail_on is not None and self.fail_on in texts:
            raise RuntimeError("model failure")
        time.sleep(self.delay)
        return np.array([[len(t), 1, 0, 0] for t in texts], dtype=np.float32)


async def test_concurrent_questions_share_one_model_call() -> None:
    model = RecordingEncoder()
    batcher = BatchingEncoder(model, max_batch=32, max_wait=0.05)
    try:
        results = await asyncio.gather(*(batcher.encode_one("x" * i) for i in range(1, 11)))
    finally:
        await batcher.aclose()
    assert len(model.calls) == 1
    assert sorted(len(t) for t in model.calls[0]) == list(range(1, 11))
    assert [int(r[0]) for r in results] == list(range(1, 11))
    assert all(name.startswith("tandem-model") for name in model.threads)


async def test_questions_and_passages_never_share_a_model_call() -> None:
    # e5 encodes "query: ..." and "passage: ..." differently: one call is one kind.
    model = RecordingEncoder()
    batcher = BatchingEncoder(model, max_batch=32, max_wait=0.05)
    try:
        passages, *questions = await asyncio.gather(
            batcher.encode(["p1", "p22"], bulk=True, query=False),
            *(batcher.encode_one("q" * i) for i in range(1, 4)),
        )
    finally:
        await batcher.aclose()
    assert sorted(map(sorted, model.calls)) == [["p1", "p22"], ["q", "qq", "qqq"]]
    assert model.kinds == [True, False]  # questions first
    assert [int(v[0]) for v in passages] == [2, 3]
    assert [int(q[0]) for q in questions] == [1, 2, 3]


async def test_batches_are_capped() -> None:
    model = RecordingEncoder()
    batcher = BatchingEncoder(model, max_batch=4, max_wait=0.05)
    try:
        await asyncio.gather(*(batcher.encode_one(str(i)) for i in range(10)))
    finally:
        await batcher.aclose()
    assert [len(c) for c in model.calls] == [4, 4, 2]


async def test_bulk_requests_are_sliced_and_questions_go_first() -> None:
    model = RecordingEncoder(delay=0.02)
    batcher = BatchingEncoder(model, max_batch=8, max_wait=0.0)
    try:
        bulk = asyncio.create_task(batcher.encode([f"doc{i}" for i in range(40)], bulk=True))
        await asyncio.sleep(0.03)  # the first bulk slice is in the model now
        question = await batcher.encode_one("question?")
        vectors = await bulk
    finally:
        await batcher.aclose()
    assert vectors.shape == (40, 4)
    assert [int(v[0]) for v in vectors] == [len(f"doc{i}") for i in range(40)]
    assert question[0] == len("question?")
    call_with_question = next(i for i, c in enumerate(model.calls) if "question?" in c)
    assert call_with_question <= 2  # served within a batch or two, not after all 5 bulk slices
    assert all(len(c) <= 8 for c in model.calls)


async def test_a_failing_batch_fails_its_callers_only() -> None:
    model = RecordingEncoder(fail_on="bad")
    batcher = BatchingEncoder(model, max_batch=32, max_wait=0.0)
    try:
        with pytest.raises(RuntimeError, match="model failure"):
            await batcher.encode_one("bad")
        assert (await batcher.encode_one("good"))[0] == 4
    finally:
        await batcher.aclose()


async def test_a_cancelled_caller_does_not_break_the_batch() -> None:
    model = RecordingEncoder(delay=0.05)
    batcher = BatchingEncoder(model, max_batch=32, max_wait=0.01)
    try:
        doomed = asyncio.create_task(batcher.encode_one("doomed"))
        survivor = asyncio.create_task(batcher.encode_one("survivor"))
        await asyncio.sleep(0)
        doomed.cancel()
        assert (await survivor)[0] == len("survivor")
    finally:
        await batcher.aclose()


async def test_empty_input() -> None:
    batcher = BatchingEncoder(RecordingEncoder())
    try:
        assert (await batcher.encode([])).shape == (0, 4)
    finally:
        await batcher.aclose()
