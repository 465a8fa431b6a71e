from datetime import UTC, datetime, timedelta

import pytest
from tandem_analytics.domain.report import (
    MAX_PERIOD,
    Period,
    PeriodError,
    counts,
    parse_period,
    peak_hours,
    rate,
    rounded,
)
from tandem_analytics.domain.text import normalise_question

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 21, 10, 30, tzinfo=UTC)


def test_default_period_is_the_last_30_days() -> None:
    assert parse_period(None, None, now=NOW) == Period(NOW - timedelta(days=30), NOW)


def test_dates_cover_whole_days() -> None:
    period = parse_period("2026-11-01", "2026-11-30", now=NOW)
    assert period.start == datetime(2026, 11, 1, tzinfo=UTC)
    assert period.end == datetime(2026, 12, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-01T09:00:00Z", datetime(2026, 11, 1, 9, tzinfo=UTC)),
        ("2026-11-01T09:00:00+02:00", datetime(2026, 11, 1, 7, tzinfo=UTC)),
        ("2026-11-01T09:00:00", datetime(2026, 11, 1, 9, tzinfo=UTC)),
    ],
)
def test_date_times_are_read_in_utc(raw: str, expected: datetime) -> None:
    assert parse_period(raw, "2026-11-02", now=NOW).start == expected


def test_from_alone_runs_to_now_and_to_alone_goes_back_30_days() -> None:
    assert parse_period("2026-11-20", None, now=NOW).end == NOW
    period = parse_period(None, "2026-11-20T00:00:00Z", now=NOW)
    assert period.end - period.start == timedelta(days=30)


@pytest.mark.parametrize(
    ("raw_from", "raw_to", "message"),
    [
        ("yesterday", None, "ISO 8601"),
        ("2026-13-01", None, "ISO 8601"),
        (None, "2026-11-01T25:00", "ISO 8601"),
        ("2026-11-02", "2026-11-01", "before"),
        ("2026-11-01T10:00:00Z", "2026-11-01T10:00:00Z", "before"),
        ("2020-01-01", "2026-01-01", f"{MAX_PERIOD.days} days"),
    ],
)
def test_bad_periods_are_refused(raw_from: str | None, raw_to: str | None, message: str) -> None:
    with pytest.raises(PeriodError, match=message):
        parse_period(raw_from, raw_to, now=NOW)


def test_rates_are_unknown_without_a_denominator() -> None:
    assert rate(1, 3) == 0.3333
    assert rate(0, 5) == 0.0
    assert rate(0, 0) is None
    assert rounded(None) is None
    assert rounded(0.123456) == 0.1235


def test_peak_hours_has_24_values() -> None:
    hours = peak_hours({0: 2, 13: 5})
    assert len(hours) == 24
    assert hours[0] == 2
    assert hours[13] == 5
    assert sum(hours) == 7


def test_counts_name_missing_keys_and_sort_largest_first() -> None:
    assert counts([("en", 2), (None, 1), ("fr", 5), ("unknown", 1)]) == {
        "fr": 5,
        "en": 2,
        "unknown": 2,
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Where is my ORDER?", "where is my order"),
        ("  where   is my order  ", "where is my order"),
        ("¿Dónde está mi pedido?", "donde esta mi pedido"),
        ("我的订单在哪里？", "我的订单在哪里"),  # noqa: RUF001
    ],
)
def test_normalise_question(raw: str, expected: str) -> None:
    assert normalise_question(raw) == expected


def test_normalised_questions_are_bounded() -> None:
    assert len(normalise_question("word " * 500)) <= 300
