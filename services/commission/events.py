"""Commission reacts to the orders domain inside the cause's transaction (conn)."""

from __future__ import annotations

from services import events
import services.withdrawals  # noqa: F401  (registers the transfer outbox handler)
from models.commission import OrderAttribution
from services.commission.compute import on_order_paid
from services.promoters import evaluate_level
from services.commission.lifecycle import on_order_completed, on_refund_succeeded


@events.on(events.ORDER_PAID)
async def _paid(order_id: int, conn, **_) -> None:
    await on_order_paid(order_id, conn)


@events.on(events.ORDER_COMPLETED)
async def _completed(order_id: int, conn, **_) -> None:
    await on_order_completed(order_id, conn)
    # Level upgrades (direct invites, team spend, own spend) apply to later orders.
    attribution = await OrderAttribution.get_or_none(order_id=order_id).using_db(conn)
    if attribution is not None:
        for uid in {attribution.buyer_id, attribution.level1_id, attribution.level2_id} - {None}:
            await evaluate_level(uid, conn)


@events.on(events.REFUND_SUCCEEDED)
async def _refunded(refund_id: int, order_id: int, conn, **_) -> None:
    await on_refund_succeeded(refund_id, order_id, conn)
