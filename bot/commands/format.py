"""Chinese labels and money display for bot replies (yuan only at display)."""

from __future__ import annotations

from datetime import datetime

from huituan.core.clock import china_display
from huituan.core.money import yuan

ORDER_STATUS_LABELS = {
    "unpaid": "待付款",
    "paid": "已付款",
    "shipped": "已发货",
    "ready_for_pickup": "待自提",
    "completed": "已完成",
    "cancelled": "已取消",
    "refunding": "退款中",
    "refunded": "已退款",
    "partly_refunded": "部分退款",
}

DELIVERY_LABELS = {"express": "快递", "pickup": "自提"}


def money(fen: int) -> str:
    return f"¥{yuan(fen)}"


def when(dt: datetime | None) -> str:
    if dt is None:
        return "—"
    return china_display(dt, "%m-%d %H:%M:%S")
