"""Evaluate the escalation service's message classifiers on a labelled set.

    python tools/eval_escalation.py DATA_DIR [--no-embeddings]

``DATA_DIR/labels.jsonl`` holds ``{"id", "text", "label"}`` lines, labels ``human_request``,
``complaint`` or ``other``. Each text goes through the service's real classifiers (the
default lexicon and the multilingual-e5 prototype comparison, as the running service
scores a visitor message). A message is predicted ``human_request`` when that score
passes its threshold, else ``complaint`` when that one does, else ``other`` — the order in
which the escalation rules check them.

The last line printed is one JSON object: precision, recall, F1 and support per label,
``auroc_complaint`` (the complaint score as a ranking of complaint against everything
else), the counts, and the time per message.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

LABELS = ("human_request", "complaint", "other")


def auroc(scores: Sequence[float], positives: Sequence[bool]) -> float | None:
    """Probability that a random positive outranks a random negative (ties count half)."""
    ranked = sorted(zip(scores, positives, strict=True), key=lambda pair: pair[0])
    n_pos = sum(positives)
    n_neg = len(positives) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    # Mann-Whitney U with mid-ranks for ties.
    rank_sum = 0.0
    i = 0
    while i < len(ranked):
        j = i
        while j + 1 < len(ranked) and ranked[j + 1][0] == ranked[i][0]:
            j += 1
        mid_rank = (i + j) / 2 + 1
        rank_sum += mid_rank * sum(1 for k in range(i, j + 1) if ranked[k][1])
        i = j + 1
    u = rank_sum - n_pos * (n_pos + 1) / 2
    return u / (n_pos * n_neg)


def per_label(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for label in LABELS:
        tp = sum(1 for g, p in zip(gold, predicted, strict=True) if g == label and p == label)
        fp = sum(1 for g, p in zip(gold, predicted, strict=True) if g != label and p == label)
        fn = sum(1 for g, p in zip(gold, predicted, strict=True) if g == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[label] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": tp + fn,
        }
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument(
        "--no-embeddings", action="store_true", help="lexicon only (the service's fallback)"
    )
    parser.add_argument(
        "--errors", action="store_true", help="print each misclassified message before the JSON"
    )
    args = parser.parse_args(argv)

    from tandem_escalation.adapters.embedder import Embedder
    from tandem_escalation.domain.classifiers import score_message
    from tandem_escalation.domain.triggers import EscalationPolicy

    path = args.data_dir / "labels.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    unknown = {r["label"] for r in rows} - set(LABELS)
    if unknown:
        print(f"unknown labels in {path}: {sorted(unknown)}", file=sys.stderr)
        return 2

    policy = EscalationPolicy()
    embedder = Embedder()
    if not args.no_embeddings:
        embedder.load_blocking()
        if not embedder.ready:
            print(f"embedding model failed to load: {embedder.error}", file=sys.stderr)
            return 1
    texts = [r["text"] for r in rows]
    started = time.perf_counter()
    vectors = embedder.embed_blocking(texts) if embedder.ready else None
    scores = [
        score_message(
            text,
            human_request_phrases=policy.human_request_phrases,
            complaint_phrases=policy.frustration_phrases,
            vector=vectors[i] if vectors is not None else None,
            bank=embedder.bank,
        )
        for i, text in enumerate(texts)
    ]
    elapsed = time.perf_counter() - started

    predicted = [
        "human_request" if s.asks_for_human else "complaint" if s.complains else "other"
        for s in scores
    ]
    gold = [r["label"] for r in rows]
    if args.errors:
        for row, guess, s in zip(rows, predicted, scores, strict=True):
            if guess != row["label"]:
                print(
                    f"{row['label']:>13} -> {guess:<13} h={s.human_request:.2f} "
                    f"c={s.complaint:.2f} {row['text'][:100]}"
                )
    result = {
        "data": str(args.data_dir),
        "n": len(rows),
        "embeddings": embedder.ready,
        "labels": per_label(gold, predicted),
        "auroc_complaint": round(
            auroc([s.complaint for s in scores], [g == "complaint" for g in gold]) or 0.0, 4
        ),
        "ms_per_message": round(elapsed * 1000 / max(1, len(rows)), 2),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
