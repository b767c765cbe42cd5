"""Helpers shared by the order flows: numbers, serialization, ownership, stock return."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from tortoise.expressions import F

from huituan.core.clock import utcnow
from huituan.core.errors import NotFound
from huituan.models.catalog import Sku
from huituan.models.order import Order, OrderItem, Refund


def new_number(prefix: str = "") -> str:
    """Time-ordered and unguessable: 14 digits of UTC time + 10 random digits (24-25 chars)."""
    return f"{prefix}{utcnow():%Y%m%d%H%M%S}{secrets.randbelow(10**10):010d}"


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def item_to_dict(i: OrderItem) -> dict[str, Any]:
    return {
        "id": i.id, "product_id": i.product_id, "sku_id": i.sku_id, "title": i.title,
        "sku_name": i.sku_name, "image": i.image, "unit_price_fen": i.unit_price_fen,
        "quantity": i.quantity, "paid_fen": i.paid_fen, "refunded_quantity": i.refunded_quantity,
        "refunded_fen": i.refunded_fen,
    }


def order_to_dict(o: Order, items: list[OrderItem]) -> dict[str, Any]:
    return {
        "id": o.id, "order_no": o.order_no, "status": str(o.status),
        "delivery_mode": str(o.delivery_mode), "address": o.address,
        "pickup_point_id": o.pickup_point_id, "activity_type": str(o.activity_type),
        "goods_fen": o.goods_fen, "discount_fen": o.discount_fen, "shipping_fen": o.shipping_fen,
        "payable_fen": o.payable_fen, "paid_fen": o.paid_fen, "refunded_fen": o.refunded_fen,
        "remark": o.remark, "pay_deadline": _iso(o.pay_deadline), "paid_at": _iso(o.paid_at),
        "shipped_at": _iso(o.shipped_at), "completed_at": _iso(o.completed_at),
        "cancelled_at": _iso(o.cancelled_at), "cancel_reason": o.cancel_reason,
        "express_company": o.express_company, "express_no": o.express_no,
        "created_at": _iso(o.created_at),
        "items": [item_to_dict(i) for i in items],
    }


def refund_to_dict(r: Refund) -> dict[str, Any]:
    return {
        "id": r.id, "refund_no": r.refund_no, "order_id": r.order_id, "status": str(r.status),
        "amount_fen": r.amount_fen, "items": list(r.items or []), "whole_order": r.whole_order,
        "reason": r.reason, "automatic": r.automatic, "review_note": r.review_note,
        "created_at": _iso(r.created_at), "finished_at": _iso(r.finished_at),
    }


async def get_own_order(user_id: int, order_id: int, conn=None) -> Order:
    """Someone else's order is indistinguishable from a missing one (404)."""
    o = await Order.get_or_none(id=order_id, user_id=user_id).using_db(conn)
    if o is None:
        raise NotFound("订单不存在", code="order_not_found", field="id")
    return o


async def load_order_dict(order: Order, conn=None) -> dict[str, Any]:
    items = await OrderItem.filter(order_id=order.id).using_db(conn).order_by("id")
    return order_to_dict(order, items)


async def return_stock(order_id: int, conn) -> None:
    """Give an order's units back to their SKUs (inside the transaction that cancels it).
    Sorted by SKU id, like order creation, so concurrent transactions lock in one order."""
    items = await OrderItem.filter(order_id=order_id).using_db(conn).order_by("sku_id")
    for it in items:
        await Sku.filter(id=it.sku_id).using_db(conn).update(stock=F("stock") + it.quantity)
