"""Which language a visitor wrote in (py3langid, a small offline n-gram model).

Short messages ("hi", "refund") carry too few n-grams to tell languages apart, so a guess
below ``min_probability`` gives way to the widget's locale, then to the default.
"""

from __future__ import annotations

import threading
from typing import Any


class LanguageDetector:
    def __init__(self, *, min_probability: float = 0.5, default: str = "en") -> None:
        self.min_probability = min_probability
        self.default = default
        self._identifier: Any = None
        self._lock = threading.Lock()

    def _model(self) -> Any:
        with self._lock:
            if self._identifier is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                self._identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            return self._identifier

    def load(self) -> None:
        self._model()

    def detect(self, text: str, *, hint: str | None = None) -> str:
        """An ISO 639-1 code: the detected language, else the hint's language, else the default."""
        language, probability = self._model().classify(text)
        if probability >= self.min_probability and language:
            return str(language)
        if hint:
            primary = hint.replace("_", "-").split("-")[0].strip().lower()
            if 2 <= len(primary) <= 3 and primary.isalpha():
                return primary
        return self.default
