"""Order, payment and refund numbers."""

from __future__ import annotations

import secrets

from huituan.core.clock import utcnow


def new_number(prefix: str = "") -> str:
    """Time-ordered and unguessable: 14 digits of UTC time + 10 random digits (24-25 chars)."""
    return f"{prefix}{utcnow():%Y%m%d%H%M%S}{secrets.randbelow(10**10):010d}"
