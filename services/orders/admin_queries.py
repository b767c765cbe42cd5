"""Operators' reads of orders: search and the full detail (items, payments, refunds)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from huituan.core.errors import NotFound
from huituan.models.order import Order, OrderItem, OrderStatus, Payment, Refund
from huituan.services.orders.serialize import item_to_dict, order_to_dict, payment_to_dict, refund_to_dict


async def search_orders(*, status: OrderStatus | None = None, order_no: str | None = None, user_id: int | None = None,
                        phone: str | None = None, created_from: datetime | None = None,
                        created_to: datetime | None = None, page: int = 1, page_size: int = 20) -> dict[str, Any]:
    """Newest first. ``phone`` matches the buyer's bound phone; ``created_to`` is exclusive."""
    qs = Order.all()
    if status is not None:
        qs = qs.filter(status=status)
    if order_no:
        qs = qs.filter(order_no=order_no.strip())
    if user_id is not None:
        qs = qs.filter(user_id=user_id)
    if phone:
        qs = qs.filter(user__phone=phone.strip())
    if created_from is not None:
        qs = qs.filter(created_at__gte=created_from)
    if created_to is not None:
        qs = qs.filter(created_at__lt=created_to)
    total = await qs.count()
    orders = await qs.order_by("-created_at", "-id").offset((page - 1) * page_size).limit(page_size)
    return {"items": [order_to_dict(o, admin=True) for o in orders], "total": total, "page": page,
            "page_size": page_size}


async def get_order_detail(order_id: int) -> dict[str, Any]:
    order = await Order.get_or_none(id=order_id)
    if order is None:
        raise NotFound("订单不存在", code="order_not_found", field="order_id")
    data = order_to_dict(order, admin=True)
    data["items"] = [item_to_dict(i) for i in await OrderItem.filter(order_id=order_id).order_by("id")]
    data["payments"] = [payment_to_dict(p) for p in await Payment.filter(order_id=order_id).order_by("id")]
    data["refunds"] = [refund_to_dict(r, admin=True) for r in await Refund.filter(order_id=order_id).order_by("id")]
    return data
