"""Givens for the distribution tests: orders written directly, then the commission
subscribers run in a transaction exactly as the orders domain calls them."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from tortoise.transactions import in_transaction

from models.commission import DistributionSettings
from models.order import ActivityType, Order, OrderItem, OrderStatus, Refund, RefundStatus
from models.referral import BindingStatus, ReferralBinding
from services import events
from services.distribution_settings import get_settings
from tests.factories import make_user


def now() -> datetime:
    return datetime.now(timezone.utc)


async def set_settings(**values: Any) -> DistributionSettings:
    await get_settings()
    await DistributionSettings.filter(id=1).update(**values)
    return await get_settings()


async def bind(user, promoter) -> None:
    await ReferralBinding.create(user_id=user.id if hasattr(user, "id") else user,
                                 promoter_id=promoter.id if hasattr(promoter, "id") else promoter,
                                 status=BindingStatus.active, bound_at=now())


async def chain(n: int = 3):
    """users u0 <- u1 <- u2 ... (u[i] bound to u[i-1])."""
    users = [await make_user() for _ in range(n)]
    for i in range(1, n):
        await bind(users[i], users[i - 1])
    return users


async def paid_order(buyer, lines: list[tuple[int, int]] | None = None, *, product_id: int = 1,
                     activity: ActivityType = ActivityType.normal) -> Order:
    """A paid order with lines [(paid_fen, quantity)]; emits ORDER_PAID in its transaction."""
    lines = lines or [(10_000, 1)]
    total = sum(p for p, _ in lines)
    buyer_id = buyer.id if hasattr(buyer, "id") else buyer
    async with in_transaction() as conn:
        order = await Order.create(order_no=uuid.uuid4().hex[:20], user_id=buyer_id,
                                   idempotency_key=uuid.uuid4().hex, status=OrderStatus.paid,
                                   activity_type=activity, goods_fen=total, payable_fen=total, paid_fen=total,
                                   pay_deadline=now() + timedelta(minutes=15), paid_at=now(), using_db=conn)
        for i, (paid, qty) in enumerate(lines):
            await OrderItem.create(order_id=order.id, product_id=product_id, sku_id=1, title=f"商品{i}",
                                   unit_price_fen=paid // max(qty, 1), quantity=qty, paid_fen=paid, using_db=conn)
        await events.emit(events.ORDER_PAID, order_id=order.id, conn=conn)
    return order


async def complete(order, at: datetime | None = None) -> None:
    oid = order.id if hasattr(order, "id") else order
    async with in_transaction() as conn:
        await Order.filter(id=oid).using_db(conn).update(status=OrderStatus.completed, completed_at=at or now())
        await events.emit(events.ORDER_COMPLETED, order_id=oid, conn=conn)


async def refund(order, items: list[tuple[int, int, int]] | None = None) -> Refund:
    """A succeeded refund: items [(item_id, quantity, amount_fen)] or None for the whole order."""
    oid = order.id if hasattr(order, "id") else order
    async with in_transaction() as conn:
        o = await Order.get(id=oid).using_db(conn)
        if items is None:
            its = await OrderItem.filter(order_id=oid).using_db(conn)
            items_json: list[dict] = []
            amount = o.paid_fen - o.refunded_fen
            for it in its:
                await OrderItem.filter(id=it.id).using_db(conn).update(refunded_quantity=it.quantity,
                                                                       refunded_fen=it.paid_fen)
            whole = True
        else:
            items_json = [{"item_id": i, "quantity": q, "amount_fen": a} for i, q, a in items]
            amount = sum(a for _, _, a in items)
            for i, q, a in items:
                it = await OrderItem.get(id=i).using_db(conn)
                await OrderItem.filter(id=i).using_db(conn).update(refunded_quantity=it.refunded_quantity + q,
                                                                   refunded_fen=it.refunded_fen + a)
            whole = False
        r = await Refund.create(refund_no=uuid.uuid4().hex[:20], order_id=oid, user_id=o.user_id,
                                status=RefundStatus.succeeded, amount_fen=amount, items=items_json,
                                whole_order=whole, finished_at=now(), using_db=conn)
        await Order.filter(id=oid).using_db(conn).update(refunded_fen=o.refunded_fen + amount)
        await events.emit(events.REFUND_SUCCEEDED, refund_id=r.id, order_id=oid, conn=conn)
    return r


_fund_product = iter(range(900_000, 10**9))


async def fund(promoter, amount_fen: int, *, settle: bool = True):
    """Give ``promoter`` ``amount_fen`` of commission through the real flow: a bound buyer pays
    (fixed commission = the amount), the order completes, the settlement job runs."""
    from models.commission import CommissionMode, ProductCommissionRule
    from services.commission.settlement import settle_commissions

    buyer = await make_user()
    await bind(buyer, promoter)
    pid = next(_fund_product)
    await ProductCommissionRule.create(product_id=pid, mode=CommissionMode.fixed, level1_value=amount_fen,
                                       level2_value=0)
    order = await paid_order(buyer, [(amount_fen, 1)], product_id=pid)
    if settle:
        await complete(order)
        await settle_commissions(None, now=now() + timedelta(days=60))
    return order
