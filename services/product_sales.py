"""``Product.sales``: units paid, net of units refunded.

Subscribed by the composition root (huituan.wiring) to ORDER_PAID and REFUND_SUCCEEDED and run
inside the cause's transaction (conn), so the count moves exactly when the payment or the
refund commits. Products are updated in id order so two transactions touching the same
products never wait on each other in opposite orders.
"""

from __future__ import annotations

from collections import Counter

from tortoise.expressions import F

from huituan.models.catalog import Product
from huituan.models.order import OrderItem, Refund, RefundStatus


async def _move(units: Counter, sign: int, conn) -> None:
    for product_id in sorted(units):
        if units[product_id]:
            await Product.filter(id=product_id).using_db(conn).update(sales=F("sales") + sign * units[product_id])


async def on_paid(order_id: int, conn, **_) -> None:
    units: Counter = Counter()
    for product_id, quantity in await OrderItem.filter(order_id=order_id).using_db(conn).values_list(
            "product_id", "quantity"):
        units[product_id] += quantity
    await _move(units, +1, conn)


async def refunded_units(refund: Refund, conn) -> Counter:
    """Units per product that ``refund`` returned. A whole-order refund returns what earlier
    successful refunds of the order had not."""
    items = await OrderItem.filter(order_id=refund.order_id).using_db(conn).values_list("id", "product_id", "quantity")
    product_of = {item_id: product_id for item_id, product_id, _ in items}
    units: Counter = Counter()
    if refund.items:
        for line in refund.items:
            if int(line["item_id"]) in product_of:
                units[product_of[int(line["item_id"])]] += int(line["quantity"])
        return units
    earlier: Counter = Counter()
    for lines in await Refund.filter(order_id=refund.order_id, status=RefundStatus.succeeded, automatic=False).exclude(
            id=refund.id).using_db(conn).values_list("items", flat=True):
        for line in lines or []:
            earlier[int(line["item_id"])] += int(line["quantity"])
    for item_id, product_id, quantity in items:
        units[product_id] += max(quantity - earlier[item_id], 0)
    return units


async def on_refunded(refund_id: int, order_id: int, conn, **_) -> None:
    refund = await Refund.get(id=refund_id).using_db(conn)
    await _move(await refunded_units(refund, conn), -1, conn)
