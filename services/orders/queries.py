"""Order reads for the buyer: own orders only."""

from __future__ import annotations

from typing import Any

from huituan.core.errors import NotFound
from huituan.models.order import Order, OrderItem, OrderStatus, Refund
from huituan.services.orders.serialize import order_to_dict, refund_to_dict


async def get_own_order(user_id: int, order_id: int, conn=None) -> Order:
    """Someone else's order is indistinguishable from a missing one (404)."""
    o = await Order.get_or_none(id=order_id, user_id=user_id).using_db(conn)
    if o is None:
        raise NotFound("订单不存在", code="order_not_found", field="id")
    return o


async def load_order_dict(order: Order, conn=None) -> dict[str, Any]:
    items = await OrderItem.filter(order_id=order.id).using_db(conn).order_by("id")
    return order_to_dict(order, items)


async def list_orders(user_id: int, status: str | None = None, page: int = 1, page_size: int = 20) -> dict[str, Any]:
    qs = Order.filter(user_id=user_id)
    if status:
        qs = qs.filter(status=OrderStatus(status))
    total = await qs.count()
    orders = await qs.order_by("-id").offset((page - 1) * page_size).limit(page_size)
    by_order: dict[int, list[OrderItem]] = {o.id: [] for o in orders}
    if orders:
        for it in await OrderItem.filter(order_id__in=list(by_order)).order_by("id"):
            by_order[it.order_id].append(it)
    return {"items": [order_to_dict(o, by_order[o.id]) for o in orders], "total": total,
            "page": page, "page_size": page_size}


async def get_order(user_id: int, order_id: int) -> dict[str, Any]:
    return await load_order_dict(await get_own_order(user_id, order_id))


async def list_refunds(user_id: int, order_id: int) -> dict[str, Any]:
    order = await get_own_order(user_id, order_id)
    rows = await Refund.filter(order_id=order.id).order_by("-id")
    return {"items": [refund_to_dict(r) for r in rows]}
