"""The answering service's own Prometheus metrics (``tandem_`` prefix, base units)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ANSWERS = Counter(
    "tandem_answering_answers_total",
    "Scored answers, by whether the AI answered (true) or fell back (false).",
    ["answered"],
)
CONFIDENCE = Histogram(
    "tandem_answering_confidence",
    "Calibrated confidence of scored answers (probability the answer is right).",
    buckets=(0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0),
)
ANSWER_SECONDS = Histogram(
    "tandem_answering_answer_seconds",
    "Time to score one question: embedding, retrieval, reranking and calibration.",
    buckets=(0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10),
)
BATCH_SIZE = Histogram(
    "tandem_answering_model_batch_size",
    "Texts encoded per model call (questions arriving together share one call), by model.",
    ["model"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
MODEL_SECONDS = Histogram(
    "tandem_answering_model_call_seconds",
    "Duration of one model call (one batch), by model.",
    ["model"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
DOCUMENTS_INDEXED = Counter(
    "tandem_answering_documents_indexed_total",
    "Knowledge-base documents ingested, by outcome (indexed, unchanged, deleted).",
    ["outcome"],
)
RETRIEVAL_FAILURES = Counter(
    "tandem_answering_retrieval_failures_total",
    "Questions answered with the fallback because the knowledge store did not answer.",
)
MODEL_LOADED = Gauge(
    "tandem_answering_model_loaded",
    "1 once the embedding model is loaded in this process, by model.",
    ["model"],
)
