"""Operators' reads of orders: search and the full detail (items, payments, refunds)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise import connections
from tortoise.expressions import Q, RawSQL, Subquery

from huituan.core.clock import as_utc
from huituan.core.errors import NotFound
from huituan.models.order import Order, OrderItem, OrderStatus, Payment, Refund
from huituan.models.user import User
from huituan.services.orders.serialize import item_to_dict, order_to_dict, payment_to_dict, refund_to_dict
from huituan.services.orders.wechat_shipping import shipping_state


async def _keyword_filter(qs, keyword: str):
    """Order number prefix, product title, receiver name or phone of the address snapshot,
    or the buyer's bound phone (pickup orders have no address)."""
    conn = connections.get("default")
    if conn.capabilities.dialect == "postgres":
        receiver, receiver_phone = """("address"->>'receiver')""", """("address"->>'phone')"""
    else:
        receiver, receiver_phone = """json_extract("address", '$.receiver')""", """json_extract("address", '$.phone')"""
    qs = qs.annotate(kw_receiver=RawSQL(receiver), kw_phone=RawSQL(receiver_phone))
    return qs.filter(
        Q(order_no__startswith=keyword)
        | Q(id__in=Subquery(OrderItem.filter(title__icontains=keyword).values("order_id")))
        | Q(kw_receiver__contains=keyword) | Q(kw_phone__contains=keyword)
        | Q(user_id__in=Subquery(User.filter(phone__contains=keyword).values("id"))))


async def search_orders(*, status: OrderStatus | None = None, keyword: str | None = None, order_no: str | None = None,
                        user_id: int | None = None, phone: str | None = None, created_from: datetime | None = None,
                        created_to: datetime | None = None, page: int = 1, page_size: int = 20) -> dict[str, Any]:
    """Newest first. ``phone`` matches the buyer's bound phone; ``keyword`` see _keyword_filter;
    ``created_from``/``created_to`` are aware datetimes (``created_to`` exclusive)."""
    qs = Order.all()
    if keyword and keyword.strip():
        qs = await _keyword_filter(qs, keyword.strip())
    if status is not None:
        qs = qs.filter(status=status)
    if order_no:
        qs = qs.filter(order_no=order_no.strip())
    if user_id is not None:
        qs = qs.filter(user_id=user_id)
    if phone:
        qs = qs.filter(user__phone=phone.strip())
    if created_from is not None:
        qs = qs.filter(created_at__gte=as_utc(created_from))
    if created_to is not None:
        qs = qs.filter(created_at__lt=as_utc(created_to))
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
    data["wechat_shipping"] = await shipping_state(order_id)
    return data
