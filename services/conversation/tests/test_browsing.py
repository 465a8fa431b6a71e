"""The dashboard's conversation filters and paging cursor (pure rules)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from tandem_conversation.domain.browsing import ConversationQuery, Cursor, InvalidQuery

pytestmark = pytest.mark.unit

NOON = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_a_cursor_survives_the_round_trip() -> None:
    cursor = Cursor(NOON, uuid.uuid4())
    encoded = cursor.encode()
    assert "=" not in encoded and "/" not in encoded and "+" not in encoded
    assert Cursor.decode(encoded) == cursor


@pytest.mark.parametrize(
    "text",
    ["", "not base64 at all!", "aGVsbG8", Cursor(NOON, uuid.uuid4()).encode()[:-3]],
)
def test_cursors_not_given_out_are_refused(text: str) -> None:
    with pytest.raises(InvalidQuery, match="cursor"):
        Cursor.decode(text)


def test_a_cursor_without_a_time_zone_is_refused() -> None:
    naive = Cursor(NOON.replace(tzinfo=None), uuid.uuid4()).encode()
    with pytest.raises(InvalidQuery, match="cursor"):
        Cursor.decode(naive)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"created_from": NOON, "created_before": NOON}, "not after its start"),
        ({"created_from": NOON, "created_before": NOON - timedelta(days=1)}, "not after"),
        ({"created_from": NOON.replace(tzinfo=None)}, "time zone"),
        ({"language": "<script>"}, "language"),
        ({"language": "english please"}, "language"),
        ({"text": "   "}, "blank"),
        ({"text": "x" * 201}, "at most 200"),
        ({"text": "nul\x00byte"}, "control"),
        ({"after": Cursor(NOON, uuid.uuid4())}, "order=created"),
        ({"waiting": True, "order": "created"}, "longest waiting"),
    ],
)
def test_queries_that_make_no_sense_are_refused(fields: dict[str, object], problem: str) -> None:
    with pytest.raises(InvalidQuery, match=problem):
        ConversationQuery(**fields)  # type: ignore[arg-type]


def test_a_search_for_an_id_looks_the_id_up() -> None:
    conversation = uuid.uuid4()
    assert ConversationQuery(text=f"  {conversation} ").searched_id() == conversation
    assert ConversationQuery(text="order 1234").searched_id() is None
    assert ConversationQuery(text="  refund  ").search == "refund"
    assert ConversationQuery().search is None


def test_sensible_queries_pass() -> None:
    query = ConversationQuery(
        status="active",
        created_from=NOON,
        created_before=NOON + timedelta(days=1),
        confidence="low",
        language="pt-BR",
        escalated=False,
        text='"late delivery" -refund',
        order="created",
        after=Cursor(NOON, uuid.uuid4()),
    )
    assert query.search == '"late delivery" -refund'
