"""The one clock: aware UTC datetimes everywhere; China time (Asia/Shanghai) only where a day
boundary or a display needs it, and only through the helpers here."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

UTC = UTC
CHINA_TZ = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(UTC)


def china_now() -> datetime:
    return datetime.now(CHINA_TZ)


def as_utc(dt: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken as UTC (SQLite hands some back naive)."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def china_date(dt: datetime | None = None) -> date:
    return as_utc(dt or utcnow()).astimezone(CHINA_TZ).date()


def china_day_bounds(day: date | datetime | None = None) -> tuple[datetime, datetime]:
    """[start, end) in UTC of a China calendar day (today when not given)."""
    if day is None or isinstance(day, datetime):
        day = china_date(day)
    start = datetime(day.year, day.month, day.day, tzinfo=CHINA_TZ)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def china_display(dt: datetime, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return as_utc(dt).astimezone(CHINA_TZ).strftime(fmt)
