"""The one clock: aware UTC datetimes everywhere (China time only where a day boundary or a
display needs it)."""

from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
