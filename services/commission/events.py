"""Commission reacts to the orders domain inside the cause's transaction (conn).

Subscribed by the composition root (huituan.wiring)."""

from __future__ import annotations

from huituan.models.commission import OrderAttribution
from huituan.services.commission.compute import on_order_paid
from huituan.services.commission.lifecycle import on_order_completed, on_refund_succeeded
from huituan.services.promoters import evaluate_level


async def on_paid(order_id: int, conn, **_) -> None:
    await on_order_paid(order_id, conn)


async def on_completed(order_id: int, conn, **_) -> None:
    await on_order_completed(order_id, conn)
    # Level upgrades (direct invites, team spend, own spend) apply to later orders.
    attribution = await OrderAttribution.get_or_none(order_id=order_id).using_db(conn)
    if attribution is not None:
        for uid in {attribution.buyer_id, attribution.level1_id, attribution.level2_id} - {None}:
            await evaluate_level(uid, conn)


async def on_refunded(refund_id: int, order_id: int, conn, **_) -> None:
    await on_refund_succeeded(refund_id, order_id, conn)
