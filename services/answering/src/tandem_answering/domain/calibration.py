"""Calibrated confidence: a logistic model from answer features to P(the answer is right).

The coefficients are fitted offline (``python -m tandem_answering calibrate``) on labelled
questions and shipped as a versioned JSON artifact bound to the embedding model they were
fitted for: cosine similarities from another model would not mean the same thing.
Fitting is L2-regularised logistic regression by Newton's method (IRLS) on standardised
features; the stored coefficients are converted back to raw feature units, so the artifact
reads as ``P = sigmoid(intercept + sum(coefficient_i * feature_i))``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


class CalibrationError(ValueError):
    """An artifact that does not fit this code (unknown features, wrong model)."""


def sigmoid(z: FloatArray | float) -> Any:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -60.0, 60.0)))


@dataclass(frozen=True, slots=True)
class LogisticFit:
    coefficients: tuple[float, ...]
    intercept: float
    iterations: int

    def predict(self, x: ArrayLike) -> FloatArray:
        matrix = np.atleast_2d(np.asarray(x, dtype=np.float64))
        return np.asarray(sigmoid(matrix @ np.asarray(self.coefficients) + self.intercept))


def fit_logistic(
    x: ArrayLike, y: ArrayLike, *, l2: float = 1.0, max_iter: int = 100, tol: float = 1e-9
) -> LogisticFit:
    """Maximum-likelihood logistic regression with an L2 penalty on the (standardised) slopes."""
    features = np.atleast_2d(np.asarray(x, dtype=np.float64))
    labels = np.asarray(y, dtype=np.float64)
    if features.shape[0] != labels.shape[0]:
        raise ValueError("x and y have different lengths")
    if features.shape[0] == 0:
        raise ValueError("no samples")
    if not np.all((labels == 0) | (labels == 1)):
        raise ValueError("labels must be 0 or 1")
    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale[scale == 0] = 1.0
    design = np.hstack([np.ones((features.shape[0], 1)), (features - mean) / scale])
    penalty = np.eye(design.shape[1]) * l2
    penalty[0, 0] = 0.0  # the intercept is not shrunk
    weights = np.zeros(design.shape[1])
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 - reported below
        p = sigmoid(design @ weights)
        gradient = design.T @ (p - labels) + penalty @ weights
        hessian = design.T @ (design * (p * (1 - p))[:, None]) + penalty
        # A tiny ridge keeps the Newton step defined when a class is perfectly separated.
        step = np.linalg.solve(hessian + np.eye(len(weights)) * 1e-9, gradient)
        weights = weights - step
        if float(np.max(np.abs(step))) < tol:
            break
    slopes = weights[1:] / scale
    intercept = float(weights[0] - np.sum(weights[1:] * mean / scale))
    return LogisticFit(tuple(float(s) for s in slopes), intercept, iterations)


def expected_calibration_error(
    probabilities: ArrayLike, labels: ArrayLike, *, bins: int = 10
) -> float:
    """ECE with equal-width bins: sum over bins of |mean confidence - accuracy| * share."""
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if p.shape != y.shape:
        raise ValueError("probabilities and labels have different shapes")
    if p.size == 0:
        return 0.0
    # Bin i holds (i/bins, (i+1)/bins]; 0 goes to the first bin.
    index = np.clip(np.ceil(p * bins).astype(int) - 1, 0, bins - 1)
    total = 0.0
    for b in range(bins):
        in_bin = index == b
        if np.any(in_bin):
            total += abs(float(p[in_bin].mean()) - float(y[in_bin].mean())) * in_bin.mean()
    return float(total)


def brier_score(probabilities: ArrayLike, labels: ArrayLike) -> float:
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    return float(np.mean((p - y) ** 2)) if p.size else 0.0


def cross_validated_probabilities(
    x: ArrayLike, y: ArrayLike, *, folds: int = 5, l2: float = 1.0, seed: int = 0
) -> FloatArray:
    """Out-of-fold predictions, so the reported ECE is not measured on the training data."""
    features = np.atleast_2d(np.asarray(x, dtype=np.float64))
    labels = np.asarray(y, dtype=np.float64)
    order = np.random.default_rng(seed).permutation(len(labels))
    fold_of = np.empty(len(labels), dtype=int)
    fold_of[order] = np.arange(len(labels)) % folds
    out = np.zeros(len(labels))
    for fold in range(folds):
        test = fold_of == fold
        train = ~test
        if not np.any(test):
            continue
        fit = fit_logistic(features[train], labels[train], l2=l2)
        out[test] = fit.predict(features[test])
    return out


@dataclass(frozen=True, slots=True)
class Calibration:
    """A fitted, versioned calibration: features in, calibrated confidence out."""

    version: str
    model_version: str
    features: tuple[str, ...]
    coefficients: tuple[float, ...]
    intercept: float
    metrics: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.features) != len(self.coefficients):
            raise CalibrationError("one coefficient per feature")

    def confidence(self, features: Mapping[str, float]) -> float:
        try:
            z = self.intercept + sum(
                c * float(features[name])
                for name, c in zip(self.features, self.coefficients, strict=True)
            )
        except KeyError as exc:
            raise CalibrationError(f"calibration {self.version} needs feature {exc}") from None
        return float(sigmoid(z))

    def require_features(self, available: Sequence[str]) -> None:
        missing = [name for name in self.features if name not in available]
        if missing:
            raise CalibrationError(
                f"calibration {self.version} uses features this code does not compute: {missing}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "model_version": self.model_version,
            "features": list(self.features),
            "coefficients": list(self.coefficients),
            "intercept": self.intercept,
            "formula": "confidence = 1 / (1 + exp(-(intercept + sum(coefficients[i] * features[i]))))",
            **dict(self.metrics),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibration:
        known = {"version", "model_version", "features", "coefficients", "intercept", "formula"}
        try:
            return cls(
                version=str(data["version"]),
                model_version=str(data["model_version"]),
                features=tuple(str(f) for f in data["features"]),
                coefficients=tuple(float(c) for c in data["coefficients"]),
                intercept=float(data["intercept"]),
                metrics={k: v for k, v in data.items() if k not in known},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CalibrationError(f"malformed calibration artifact: {exc!r}") from None


def calibration_version(
    date: str, fit: LogisticFit, features: Sequence[str], model_version: str
) -> str:
    """``<date>-<hash>``: sortable by date, and two different fits never share a name."""
    material = json.dumps(
        [
            list(features),
            [round(c, 12) for c in fit.coefficients],
            round(fit.intercept, 12),
            model_version,
        ]
    )
    return f"{date}-{hashlib.sha256(material.encode()).hexdigest()[:8]}"


def is_finite(values: Sequence[float]) -> bool:
    return all(math.isfinite(v) for v in values)
