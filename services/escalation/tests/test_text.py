# ruff: noqa: RUF001 -- multilingual and look-alike text is what these tests feed the rules.
import pytest
from tandem_escalation.domain.similarity import TokenJaccard
from tandem_escalation.domain.text import clauses, normalise, similarity_tokens

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Parlér à un HUMAIN !", "parler a un humain"),
        ("ＨＵＭＡＮ please", "human please"),
        ("Rückerstattung", "ruckerstattung"),
        ("Straße", "strasse"),
        ("Łódź", "lodz"),
        ("İstanbul ılık", "istanbul ilik"),
        ("Bjørn Ærø", "bjorn aero"),
        ("don't DOESN’T", "dont doesnt"),
        ("l'agent quelqu'un", "l agent quelqu un"),
        ("إلى أحد مسؤول", "الي احد مسوول"),
        ("مُوَظَّف", "موظف"),
        ("ﾃｽﾄ ガ", "テスト ガ"),
        ("  many\t spaces\n", "many spaces"),
        ("price: $30 (approx.)", "price 30 approx"),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


def test_clauses_split_at_sentence_and_comma_punctuation() -> None:
    assert clauses("No, I want a human. Now!") == ["no", "i want a human", "now"]
    assert clauses("我要转人工。谢谢") == ["我要转人工", "谢谢"]
    assert clauses("...") == []


def test_similarity_tokens_split_cjk_into_bigrams() -> None:
    assert similarity_tokens("我要退款") == {"我要", "要退", "退款"}
    assert similarity_tokens("iphone15の充電") == {"iphone15", "の充", "充電"}
    assert similarity_tokens("where is my order") == {"where", "is", "my", "order"}


def test_token_jaccard() -> None:
    jaccard = TokenJaccard()
    assert jaccard("where is my order", "where is my order") == 1.0
    assert jaccard("where is my order", "my order where is") == 1.0
    assert jaccard("where is my order", "where is my parcel") == pytest.approx(3 / 5)
    assert jaccard("", "where") == 0.0
