from __future__ import annotations

import json

import numpy as np
import pytest
from tandem_answering.adapters.calibration_store import (
    available,
    load_calibration,
    save_calibration,
)
from tandem_answering.adapters.embedder import model_version, multilingual_model_version
from tandem_answering.domain.answer import FEATURE_NAMES
from tandem_answering.domain.calibration import (
    Calibration,
    CalibrationError,
    brier_score,
    calibration_version,
    cross_validated_probabilities,
    expected_calibration_error,
    fit_logistic,
    sigmoid,
)

pytestmark = pytest.mark.unit


def synthetic(n: int = 4000, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2)) * np.array([1.0, 3.0]) + np.array([0.5, -1.0])
    true_w, true_b = np.array([2.0, -0.5]), 0.3
    y = (rng.random(n) < sigmoid(x @ true_w + true_b)).astype(float)
    return x, y, true_w, true_b


def test_fit_recovers_known_coefficients() -> None:
    x, y, true_w, true_b = synthetic()
    fit = fit_logistic(x, y, l2=0.0)
    assert np.allclose(fit.coefficients, true_w, atol=0.2)
    assert fit.intercept == pytest.approx(true_b, abs=0.15)
    assert fit.iterations < 50


def test_raw_unit_coefficients_match_predictions() -> None:
    x, y, _, _ = synthetic(500)
    fit = fit_logistic(x, y, l2=1.0)
    manual = 1 / (1 + np.exp(-(x @ np.array(fit.coefficients) + fit.intercept)))
    assert np.allclose(fit.predict(x), manual)


def test_l2_shrinks_slopes() -> None:
    x, y, _, _ = synthetic(300)
    loose = fit_logistic(x, y, l2=0.0)
    tight = fit_logistic(x, y, l2=500.0)
    assert abs(tight.coefficients[0]) < abs(loose.coefficients[0])


def test_separable_data_stays_finite() -> None:
    x = np.array([[0.0], [0.1], [0.9], [1.0]])
    fit = fit_logistic(x, [0, 0, 1, 1], l2=0.1)
    assert np.all(np.isfinite(fit.coefficients))
    assert fit.predict([[1.0]])[0] > 0.9


def test_constant_feature_is_harmless() -> None:
    x = np.array([[1.0, 0.2], [1.0, 0.8], [1.0, 0.3], [1.0, 0.9]])
    fit = fit_logistic(x, [0, 1, 0, 1])
    assert np.all(np.isfinite(fit.coefficients))


def test_fit_validates_input() -> None:
    with pytest.raises(ValueError, match="labels"):
        fit_logistic([[0.0], [1.0]], [0, 2])
    with pytest.raises(ValueError, match="lengths"):
        fit_logistic([[0.0]], [0, 1])


def test_ece_of_perfect_and_overconfident_predictions() -> None:
    labels = np.array([1, 0, 1, 0])
    assert expected_calibration_error([1.0, 0.0, 1.0, 0.0], labels) == 0.0
    # Always 0.9 but right half of the time: off by 0.4.
    assert expected_calibration_error([0.9] * 4, labels) == pytest.approx(0.4)
    # Two bins: 0.2 (rate 0) and 0.8 (rate 1), each off by 0.2, each half of the samples.
    assert expected_calibration_error([0.2, 0.2, 0.8, 0.8], [0, 0, 1, 1]) == pytest.approx(0.2)
    assert expected_calibration_error([], []) == 0.0


def test_brier() -> None:
    assert brier_score([1.0, 0.0], [1, 0]) == 0.0
    assert brier_score([0.5, 0.5], [1, 0]) == pytest.approx(0.25)


def test_fitted_model_is_calibrated_out_of_fold() -> None:
    x, y, _, _ = synthetic(3000)
    probabilities = cross_validated_probabilities(x, y, folds=5)
    assert expected_calibration_error(probabilities, y) < 0.04


def make_calibration(
    version: str = "20250101-aaaaaaaa", model: str = "m==1", created_at: str = ""
) -> Calibration:
    return Calibration(
        version=version,
        model_version=model,
        features=FEATURE_NAMES,
        coefficients=(1.0, 2.0, *[0.0] * (len(FEATURE_NAMES) - 2)),
        intercept=-1.0,
        metrics={"ece": 0.02} | ({"created_at": created_at} if created_at else {}),
    )


def test_calibration_confidence_uses_named_features() -> None:
    calibration = make_calibration()
    features = dict.fromkeys(FEATURE_NAMES, 0.0) | {"top_score": 0.5, "margin": 0.25}
    assert calibration.confidence(features) == pytest.approx(1 / (1 + np.exp(-(0.5 + 0.5 - 1.0))))
    with pytest.raises(CalibrationError, match="needs feature"):
        calibration.confidence({"top_score": 1.0})


def test_artifacts_round_trip_and_newest_for_the_model_wins(tmp_path) -> None:  # type: ignore[no-untyped-def]
    save_calibration(make_calibration("20250101-aaaaaaaa"), tmp_path)
    save_calibration(make_calibration("20250301-bbbbbbbb"), tmp_path)
    save_calibration(make_calibration("20250401-cccccccc", model="other==2"), tmp_path)
    assert len(available(tmp_path)) == 3
    assert load_calibration("m==1", directory=tmp_path).version == "20250301-bbbbbbbb"
    assert (
        load_calibration("m==1", version="20250101-aaaaaaaa", directory=tmp_path).metrics["ece"]
        == 0.02
    )
    with pytest.raises(CalibrationError, match="no calibration"):
        load_calibration("unknown==0", directory=tmp_path)


def test_two_fits_of_one_day_are_ordered_by_when_they_were_made(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # The hash part sorts the other way round: only the time can pick the newer fit.
    save_calibration(
        make_calibration("20250101-ffffffff", created_at="2025-01-01T09:00:00"), tmp_path
    )
    save_calibration(
        make_calibration("20250101-00000000", created_at="2025-01-01T17:30:00"), tmp_path
    )
    assert load_calibration("m==1", directory=tmp_path).version == "20250101-00000000"


def test_artifact_with_unknown_feature_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = make_calibration().to_dict() | {"features": ["mystery", *FEATURE_NAMES[1:]]}
    (tmp_path / "x.json").write_text(json.dumps(data))
    with pytest.raises(CalibrationError, match="does not compute"):
        load_calibration("m==1", directory=tmp_path)


def test_shipped_artifacts_are_valid_and_cover_both_routes() -> None:
    shipped = available()
    assert shipped, "the package must ship at least one calibration"
    for calibration in shipped:
        calibration.require_features(FEATURE_NAMES)
        assert 0.0 <= float(calibration.metrics["ece"]) < 0.1
    # The installed models' versions: the service refuses to start without a fit for each.
    for version in (model_version(), multilingual_model_version()):
        assert load_calibration(version).model_version == version


def test_version_names_differ_for_different_fits() -> None:
    x, y, _, _ = synthetic(200)
    a = fit_logistic(x, y, l2=1.0)
    b = fit_logistic(x, y, l2=10.0)
    assert calibration_version("20250101", a, FEATURE_NAMES, "m") != calibration_version(
        "20250101", b, FEATURE_NAMES, "m"
    )
    assert calibration_version("20250101", a, FEATURE_NAMES, "m").startswith("20250101-")
