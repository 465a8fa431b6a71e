"""Calibration artifacts: versioned JSON files shipped inside the package.

``tandem_answering/calibration/<version>.json``, written by ``python -m tandem_answering
calibrate``. The service uses the newest artifact fitted for the model it runs (by the
date in the version, then the time it was made), or the one pinned in settings.
"""

from __future__ import annotations

import importlib.resources
import json
from pathlib import Path

from ..domain.answer import FEATURE_NAMES
from ..domain.calibration import Calibration, CalibrationError


def artifact_directory() -> Path:
    return Path(str(importlib.resources.files("tandem_answering").joinpath("calibration")))


def available(directory: Path | None = None) -> list[Calibration]:
    folder = directory or artifact_directory()
    found = []
    for path in sorted(folder.glob("*.json")):
        try:
            found.append(Calibration.from_dict(json.loads(path.read_text())))
        except (json.JSONDecodeError, CalibrationError) as exc:
            raise CalibrationError(f"{path.name}: {exc}") from None
    return found


def load_calibration(
    model_version: str, *, version: str | None = None, directory: Path | None = None
) -> Calibration:
    candidates = [c for c in available(directory) if c.model_version == model_version]
    if version is not None:
        candidates = [c for c in candidates if c.version == version]
    if not candidates:
        wanted = f"version {version!r} " if version else ""
        raise CalibrationError(
            f"no calibration {wanted}for model {model_version!r} in {directory or artifact_directory()}; "
            "run `python -m tandem_answering calibrate DATA_DIR`"
        )
    # Versions are <date>-<hash>: two fits of one day are told apart by when they were made.
    chosen = max(
        candidates,
        key=lambda c: (c.version.split("-")[0], str(c.metrics.get("created_at", "")), c.version),
    )
    chosen.require_features(FEATURE_NAMES)
    return chosen


def save_calibration(calibration: Calibration, directory: Path | None = None) -> Path:
    folder = directory or artifact_directory()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{calibration.version}.json"
    path.write_text(json.dumps(calibration.to_dict(), indent=2, sort_keys=False) + "\n")
    return path
