"""Chinese labels and money display for bot replies (yuan only at display)."""

from __future__ import annotations

from datetime import datetime

from huituan.core.clock import china_display
from huituan.core.money import yuan
from huituan.models.order import ORDER_STATUS_LABELS  # noqa: F401  (re-exported for the commands)

DELIVERY_LABELS = {"express": "快递", "pickup": "自提"}


def money(fen: int) -> str:
    return f"¥{yuan(fen)}"


def when(dt: datetime | None) -> str:
    if dt is None:
        return "—"
    return china_display(dt, "%m-%d %H:%M:%S")
