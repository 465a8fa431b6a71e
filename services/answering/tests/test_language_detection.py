"""The language detector's fallbacks (py3langid's real model, no servers)."""

from __future__ import annotations

import pytest
from tandem_answering.adapters.language import LanguageDetector
from tandem_answering.domain.answer import ENGLISH_ROUTE, MULTILINGUAL_ROUTE, route_for

pytestmark = pytest.mark.unit

detector = LanguageDetector()


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Where can I see the status of my order?", "en"),
        ("Wie reinige ich das Mahlwerk meiner Kaffeemühle?", "de"),
        ("¿Cuánto tarda el envío internacional?", "es"),
    ],
)
def test_confident_guesses_are_taken(text: str, language: str) -> None:
    assert detector.detect(text) == language


def test_too_little_text_gives_way_to_the_hint_then_the_default() -> None:
    assert detector.detect("hi") == "en"
    assert detector.detect("12345") == "en"
    assert detector.detect("") == "en"
    assert detector.detect("hi", hint="pt-BR") == "pt"
    assert detector.detect("hallo", hint="de_DE") == "de"


def test_an_unsure_guess_that_rules_english_out_is_not_sent_the_english_way() -> None:
    # A short Serbian command: no language reaches 0.5, English is all but excluded. It
    # used to fall back to English and reach the model that cannot read it.
    language = detector.detect("postavi alarm za 7")
    assert language != "en"
    assert route_for(language) == MULTILINGUAL_ROUTE


def test_an_unsure_guess_that_english_remains_plausible_for_stays_english() -> None:
    text = "cancel order pls"
    ranked = dict(detector._model().rank(text))
    assert max(ranked.values()) < detector.min_probability
    assert ranked["en"] >= detector.default_floor
    assert route_for(detector.detect(text)) == ENGLISH_ROUTE
