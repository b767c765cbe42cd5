"""Times that come in (bodies and query strings): ISO 8601 text with an offset, within a range the
service can hold.

Pydantic alone takes ``"1"`` or ``"1700000000"`` as a Unix time and any year 1..9999 with any
offset: ``9999-12-31T23:59:59-14:00`` is a valid datetime whose UTC instant does not exist, and
converting it raised OverflowError deep in a service (a 500; attacker pass of session 7). Every
time a request carries is read through ``Instant`` (or checked with ``check_instant``): the
refusal is a 422 naming the field.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import PlainValidator, WithJsonSchema

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
RANGE_MESSAGE = "时间超出范围（2000 年到 2099 年）"
FORMAT_MESSAGE = "应为时间，格式如 2024-05-01T08:00:00+08:00"
_ISO_DATETIME = re.compile(r"\s*\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def parse_instant(value: Any) -> datetime:
    """ISO 8601 text with an offset (or a datetime, from Python callers) to its aware UTC
    instant; ValueError with the Chinese reason otherwise. Read here, not by pydantic: its
    strict JSON mode hands a before-validator's text on as a Python str and then refuses it."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and _ISO_DATETIME.match(value):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(FORMAT_MESSAGE) from None
    else:
        raise ValueError(FORMAT_MESSAGE)
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError("时间必须带时区，如 +08:00")
    return check_instant(parsed)


def check_instant(value: datetime) -> datetime:
    """The aware UTC instant of ``value`` (naive is taken as UTC), or ValueError when it has
    none or lies outside 2000..2099."""
    try:
        utc = value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)
    except OverflowError:
        raise ValueError(RANGE_MESSAGE) from None
    if not EARLIEST <= utc < LATEST:
        raise ValueError(RANGE_MESSAGE)
    return utc


# A time with an offset, in range, handed on as UTC; documented as an ISO 8601 date-time.
Instant = Annotated[datetime, PlainValidator(parse_instant),
                    WithJsonSchema({"type": "string", "format": "date-time"})]
