"""Units going back to their SKUs when an order that held them is cancelled."""

from __future__ import annotations

from tortoise.expressions import F

from huituan.models.catalog import Sku
from huituan.models.order import OrderItem


async def return_stock(order_id: int, conn) -> None:
    """Give an order's units back to their SKUs (inside the transaction that cancels it).
    Sorted by SKU id, like order creation, so concurrent transactions lock in one order."""
    items = await OrderItem.filter(order_id=order_id).using_db(conn).order_by("sku_id")
    for it in items:
        await Sku.filter(id=it.sku_id).using_db(conn).update(stock=F("stock") + it.quantity)
