"""The dashboard's figures: the reporting period and what is derived from raw counts.

The adapters count rows; these functions turn counts into rates and series the same way
for every query, and refuse periods that make no sense.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

DEFAULT_PERIOD = timedelta(days=30)
MAX_PERIOD = timedelta(days=400)


class PeriodError(ValueError):
    """A ``from``/``to`` pair that does not describe a usable period."""


@dataclass(frozen=True)
class Period:
    start: datetime  # inclusive, UTC
    end: datetime  # exclusive, UTC


def _parse_instant(raw: str, name: str, *, end_of_day: bool) -> datetime:
    text = raw.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day, time.min, tzinfo=UTC)
            # A date as the end means "up to and including that day".
            return moment + timedelta(days=1) if end_of_day else moment
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise PeriodError(
            f"{name!r} must be an ISO 8601 date (2026-11-01) or date-time "
            f"(2026-11-01T09:00:00Z), not {raw!r}"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_period(raw_from: str | None, raw_to: str | None, *, now: datetime) -> Period:
    """``[from, to)`` in UTC; ``to`` defaults to now, ``from`` to 30 days before ``to``.

    Naive date-times are read as UTC; a bare date as ``to`` includes that whole day.
    """
    end = _parse_instant(raw_to, "to", end_of_day=True) if raw_to else now.astimezone(UTC)
    start = _parse_instant(raw_from, "from", end_of_day=False) if raw_from else end - DEFAULT_PERIOD
    if start >= end:
        raise PeriodError("'from' must be before 'to'")
    if end - start > MAX_PERIOD:
        raise PeriodError(f"the period may span at most {MAX_PERIOD.days} days")
    return Period(start, end)


def rate(part: int, whole: int) -> float | None:
    """``part / whole`` rounded to 4 places; None when there is nothing to divide by (a rate
    of an empty period is unknown, not 0)."""
    return round(part / whole, 4) if whole else None


def rounded(value: float | None, places: int = 4) -> float | None:
    return None if value is None else round(value, places)


def peak_hours(counts_by_hour: Mapping[int, int]) -> list[int]:
    """24 counts, index = hour of day (UTC)."""
    return [int(counts_by_hour.get(hour, 0)) for hour in range(24)]


def counts(rows: Iterable[tuple[str | None, int]], *, missing: str = "unknown") -> dict[str, int]:
    """``{key: count}`` with None keys named ``missing``, largest first."""
    merged: dict[str, int] = {}
    for key, value in rows:
        name = key or missing
        merged[name] = merged.get(name, 0) + int(value)
    return dict(sorted(merged.items(), key=lambda item: (-item[1], item[0])))
