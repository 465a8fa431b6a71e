"""The speller (domain/spelling.py): which words it mends, to what, and which it leaves."""

from __future__ import annotations

from tandem_answering.domain.spelling import Speller, one_edit_away

MODEL_WORDS = frozenset({"how", "do", "i", "my", "the", "order", "help", "cancel", "want", "latex"})
SITE = {"cancel": 12, "order": 30, "refund": 8, "refunds": 2, "invoice": 5, "account": 9}


def test_a_typo_one_edit_from_a_site_word_is_mended() -> None:
    mended = Speller(MODEL_WORDS).mend("how do i cancfel my oorder", SITE)
    assert mended.text == "how do i cancel my order"
    assert mended.changes == (("cancfel", "cancel"), ("oorder", "order"))


def test_swapped_letters_and_missing_letters_are_one_edit() -> None:
    speller = Speller(MODEL_WORDS)
    assert speller.mend("my acocunt", SITE).text == "my account"
    assert speller.mend("the invice", SITE).text == "the invoice"


def test_known_words_are_meant_as_typed() -> None:
    speller = Speller(MODEL_WORDS)
    # "latex" is one edit from nothing here, but a model word is never touched anyway.
    assert speller.mend("latex help", {"later": 50}).changes == ()
    # A word of the site's own is known too, even when the model does not know it.
    assert speller.mend("refunds", {"refund": 9, "refunds": 1}).changes == ()


def test_inflections_of_known_words_and_apostrophe_less_contractions_are_kept() -> None:
    speller = Speller(MODEL_WORDS)
    # "helped" is one edit from "helper", "orders" from "borders": both inflect known words.
    assert speller.mend("helped orders", {"helper": 3, "borders": 2}).changes == ()
    assert speller.mend("i dont want it", {"dont": 0, "done": 4}).changes == ()
    assert speller.mend("it wont work", {"want": 10}).changes == ()


def test_short_words_and_words_with_no_near_site_word_are_left() -> None:
    speller = Speller(MODEL_WORDS)
    assert speller.mend("ordr", SITE).text == "order"  # four letters: long enough
    assert speller.mend("ordx", {"order": 1}).changes == ()  # two edits away
    assert speller.mend("xyz rfnd", SITE).changes == ()
    assert speller.mend("anything at all", {}).text == "anything at all"


def test_the_most_frequent_site_word_wins_and_ties_do_not_depend_on_order() -> None:
    speller = Speller(frozenset())
    assert speller.mend("carr", {"care": 2, "card": 7, "cart": 7}).text == "cart"
    assert speller.mend("carr", {"cart": 7, "card": 7, "care": 2}).text == "cart"


def test_digits_punctuation_and_case_around_words_are_kept() -> None:
    mended = Speller(MODEL_WORDS).mend("Cancfel order 1234, please!", SITE)
    assert mended.text == "cancel order 1234, please!"


def test_one_edit_away() -> None:
    edits = one_edit_away("ab")
    assert {"b", "a", "ba", "xb", "abx", "xab", "ab"} <= edits
    assert "abcd" not in edits
