"""Which language a visitor wrote in (py3langid, a small offline n-gram model).

Short messages ("hi", "refund") carry too few n-grams to tell languages apart. A guess
below ``min_probability`` gives way to the widget's locale; without one, to the default
language when the model still gives it a real chance (``default_floor``), else to the
model's best guess (one word, or text without letters, is too little to go by: the
default). Falling back to the default unconditionally sent a fifth of the
non-English questions of xSID (short Serbian, Danish, Indonesian commands) to the English
model, which cannot match them to anything; on the evaluation sets, low-confidence English
questions have P(en) around 0.25 (10th percentile 0.05-0.09) while low-confidence
non-English ones have a median of 0.001 (90th percentile 0.07).
"""

from __future__ import annotations

import threading
from typing import Any


class LanguageDetector:
    def __init__(
        self, *, min_probability: float = 0.5, default: str = "en", default_floor: float = 0.05
    ) -> None:
        self.min_probability = min_probability
        self.default = default
        self.default_floor = default_floor
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
        """An ISO 639-1 code: the detected language, else the hint's language, else the
        default if it is plausible, else the best guess."""
        return self.identify(text, hint=hint)[0]

    def identify(self, text: str, *, hint: str | None = None) -> tuple[str, bool]:
        """``detect``'s answer, and whether it is sure: a guess of at least
        ``min_probability`` or the visitor's own locale, not a fallback."""
        ranked = self._model().rank(text)
        if not ranked:
            return self.default, False
        language, probability = ranked[0]
        if probability >= self.min_probability and language:
            return str(language), True
        if hint:
            primary = hint.replace("_", "-").split("-")[0].strip().lower()
            if 2 <= len(primary) <= 3 and primary.isalpha():
                return primary, True
        # One word ("hi", "refund") or no letters at all is no evidence against the default.
        if len(text.split()) <= 1 or not any(ch.isalpha() for ch in text):
            return self.default, False
        default_probability = next((p for code, p in ranked if code == self.default), 0.0)
        if default_probability >= self.default_floor or not language:
            return self.default, False
        return str(language), False
