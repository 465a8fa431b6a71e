# ruff: noqa: RUF001 -- multilingual and look-alike text is what these tests feed the rules.
import pytest
from tandem_escalation.domain.phrases import (
    PhraseSet,
    PhraseSyntaxError,
    compile_pattern,
    within_one_edit,
)

pytestmark = pytest.mark.unit


def test_gaps_between_slots_are_bounded() -> None:
    phrases = PhraseSet.of({"en": ["talk to human"]})
    assert phrases.find("can I talk to a human") is not None
    assert phrases.find("can I talk to a real human") is not None
    assert phrases.find("talk to you later about your human resources") is None


def test_exact_patterns_need_adjacent_words() -> None:
    phrases = PhraseSet.of({"en": ["=not helpful"]})
    assert phrases.find("that was not helpful") is not None
    assert phrases.find("not very helpful") is None


def test_prefix_alternatives() -> None:
    phrases = PhraseSet.of({"en": ["refund*"]})
    assert phrases.find("I was refunded twice") is not None
    assert phrases.find("REFUNDS?") is not None
    assert phrases.find("refurbished") is None


def test_tilde_sets_the_largest_gap() -> None:
    phrases = PhraseSet.of({"en": ["~1 want human"]})
    assert phrases.find("I want a human") is not None
    assert phrases.find("I want to follow a human") is None


def test_a_match_uses_one_typo_at_most() -> None:
    phrases = PhraseSet.of({"it": ["contatt* a persona"]})
    assert phrases.find("contatare a persona") is not None
    assert phrases.find("contattare a person") is not None
    # English words one edit away from both Italian ones: not Italian.
    assert phrases.find("contact list a person") is None
    assert phrases.find("contact a person") is None


def test_match_never_crosses_a_clause_boundary() -> None:
    phrases = PhraseSet.of({"en": ["talk to human"]})
    assert phrases.find("talk to. human") is None


def test_cjk_patterns_match_as_substrings() -> None:
    phrases = PhraseSet.of({"zh": ["转人工"]})
    match = phrases.find("你好，我要 转 人工")
    assert match is not None
    assert match.language == "zh"


def test_typos_are_tolerated_in_long_words_of_multiword_patterns_only() -> None:
    multiword = PhraseSet.of({"en": ["speak to person"]})
    assert multiword.find("I have to speak to a persno") is not None
    assert multiword.find("speak to a prsn") is None
    single = PhraseSet.of({"en": ["terrible"]})
    assert single.find("terribly sorry to bother you") is None


def test_negation_with_volition_declines_the_match() -> None:
    phrases = PhraseSet.of(
        {"en": ["talk to human"]}, negation_words=["dont", "not"], volition_words=["want"]
    )
    assert phrases.find("I don't want to talk to a human") is None
    assert phrases.find("why can't I talk to a human") is not None
    assert phrases.find("I don't know how to talk to a human") is not None


def test_extended_set_keeps_the_original_patterns() -> None:
    base = PhraseSet.of({"en": ["talk to human"]})
    extended = base.extended({"site": ["call me back"]})
    assert len(extended) == 2
    assert extended.find("please call me back").language == "site"
    assert extended.find("talk to a human") is not None
    assert base.find("please call me back") is None


@pytest.mark.parametrize("bad", ["", "=", "~x want human", "~1", "quelqu'un human", "a|b c|"])
def test_bad_patterns_are_refused(bad: str) -> None:
    with pytest.raises(PhraseSyntaxError):
        compile_pattern(bad, "en")


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("person", "person", True),
        ("persno", "person", True),
        ("perrson", "person", True),
        ("peson", "person", True),
        ("parson", "person", True),
        ("pesrno", "person", False),
        ("human", "humanity", False),
    ],
)
def test_within_one_edit(a: str, b: str, expected: bool) -> None:
    assert within_one_edit(a, b) is expected
