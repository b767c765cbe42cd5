"""Order lifecycle after creation: cancel, timeout close, complete (shipping is in
``services.orders.shipping``).

Every transition is a compare-and-set on the status; 0 rows means someone else moved it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from huituan.core.clock import utcnow
from huituan.core.errors import InvalidState, UpstreamError
from huituan.core.runtime import Runtime
from huituan.models.order import ActivityType, Order, OrderStatus, order_status_label
from huituan.services import events, notifications
from huituan.services.orders import activity
from huituan.services.orders.payments import handle_pay_notify
from huituan.services.orders.queries import get_own_order, load_order_dict
from huituan.services.orders.stock import return_stock

log = logging.getLogger("huituan.orders")


async def _cancel_unpaid(order_id: int, reason: str, now: datetime) -> bool:
    """unpaid -> cancelled, stock back, ORDER_CANCELLED. False if the order was not unpaid."""
    async with in_transaction() as conn:
        moved = await Order.filter(id=order_id, status=OrderStatus.unpaid).using_db(conn).update(
            status=OrderStatus.cancelled, cancelled_at=now, cancel_reason=reason)
        if moved != 1:
            return False
        row = (await Order.filter(id=order_id).using_db(conn).values("activity_type", "activity_ref"))[0]
        policy = activity.policy_for(row["activity_type"])
        if policy is None or policy.takes_sku_stock:
            await return_stock(order_id, conn)
        if policy is not None:
            await policy.release(conn, order_id, row["activity_ref"], reason)
        await events.emit(events.ORDER_CANCELLED, order_id=order_id, conn=conn)
    return True


async def cancel_unpaid(order_id: int, reason: str) -> bool:
    """unpaid -> cancelled for a service that closes an order for its own reason (a group
    that expired with this seat unpaid). False if the order was not unpaid."""
    return await _cancel_unpaid(order_id, reason, utcnow())


async def close_at_wechat(rt: Runtime, order: Order) -> bool:
    """Before an unpaid order is cancelled, make sure WeChat Pay takes no money for it any more:
    close the WeChat order (close_order). True when nothing can be paid now (closed, or never
    opened at WeChat: no prepay_id was ever handed out). When WeChat answers that it is paid
    already, its payment is queried and applied (the notify may be late or lost): the order
    becomes paid, or the payment is refunded automatically if its amount is wrong; True then
    too (the cancel that follows only moves an order that is still unpaid). False when WeChat
    could not be asked: leave the order for the next round."""
    if not order.prepay_id:
        return True  # nothing to pay with: the prepay is refused past the deadline
    try:
        await rt.wechat.pay.close_order(order.order_no)
        return True
    except UpstreamError as exc:
        code = exc.details.get("wechat_code")
        if code == "ORDER_NOT_EXIST":
            return True
        if code != "ORDERPAID":
            log.warning("closing WeChat order %s failed, next round: %s %s", order.order_no, exc, exc.details)
            return False
    try:
        answer = await rt.wechat.pay.query_order(order.order_no)
    except UpstreamError as exc:
        log.warning("querying WeChat order %s failed, next round: %s %s", order.order_no, exc, exc.details)
        return False
    if answer.get("trade_state") not in ("SUCCESS", "REFUND"):
        return False
    answer = {**answer, "trade_state": "SUCCESS"}
    result = await handle_pay_notify(rt, {"event_type": "TRANSACTION.SUCCESS", "resource": answer})
    log.warning("order %s was paid at WeChat before it could be closed: payment applied (%s)",
                order.order_no, result)
    return True


async def cancel_order(user_id: int, order_id: int, rt: Runtime | None = None) -> dict[str, Any]:
    """Buyer cancels: unpaid -> cancelled; any other status is 409 invalid_state. With ``rt``
    the WeChat order is closed first (close_at_wechat), so a payment made a moment ago is
    applied instead of taken and refunded; if WeChat cannot be reached the order is cancelled
    anyway (a payment that lands later is refunded automatically)."""
    order = await get_own_order(user_id, order_id)
    if rt is not None and order.status == OrderStatus.unpaid:
        await close_at_wechat(rt, order)
    if not await _cancel_unpaid(order.id, "user_cancelled", utcnow()):
        order = await get_own_order(user_id, order_id)
        raise InvalidState(f"订单当前状态（{order_status_label(order.status)}）不能取消", code="order_not_cancellable",
                           status=str(order.status))
    return await load_order_dict(await get_own_order(user_id, order_id))


async def close_expired_orders(rt: Runtime, now: datetime | None = None, batch: int = 500,
                               activity_only: bool = False) -> int:
    """Sweep: unpaid orders past pay_deadline -> cancelled (reason pay_timeout), stock back,
    each after its WeChat order is closed (close_at_wechat): a payment made at the last second
    is applied (the order is paid, not cancelled) instead of taken and then refunded. An order
    WeChat could not be asked about waits for the next round. Idempotent and safe on two
    processes: each order moves under its own CAS. The activity's seat or claim goes back through
    its policy; ``activity_only`` is the frequent sweep that frees scarce seats and flash-sale
    units quickly."""
    now = now or utcnow()
    q = Order.filter(status=OrderStatus.unpaid, pay_deadline__lt=now)
    if activity_only:
        q = q.exclude(activity_type=ActivityType.normal)
    orders = await q.order_by("pay_deadline").limit(batch)
    closed = 0
    for order in orders:
        if not await close_at_wechat(rt, order):
            continue
        if await _cancel_unpaid(order.id, "pay_timeout", now):
            closed += 1
    if closed:
        log.info("closed %s expired unpaid orders", closed)
    return closed


async def complete_order(order_id: int, conn=None, *, expected: tuple[OrderStatus, ...] | None = None) -> bool:
    """shipped | ready_for_pickup -> completed, ORDER_COMPLETED. False if not in those states.
    With ``conn`` it joins the caller's transaction (pickup verification)."""
    expected = expected or (OrderStatus.shipped, OrderStatus.ready_for_pickup)

    async def run(c) -> bool:
        moved = await Order.filter(id=order_id, status__in=list(expected)).using_db(c).update(
            status=OrderStatus.completed, completed_at=utcnow())
        if moved != 1:
            return False
        await events.emit(events.ORDER_COMPLETED, order_id=order_id, conn=c)
        return True

    if conn is not None:
        return await run(conn)
    async with in_transaction() as c:
        return await run(c)


async def confirm_receipt(user_id: int, order_id: int) -> dict[str, Any]:
    """Buyer confirms: shipped | ready_for_pickup -> completed."""
    order = await get_own_order(user_id, order_id)
    if not await complete_order(order.id):
        order = await get_own_order(user_id, order_id)
        raise InvalidState(f"订单当前状态（{order_status_label(order.status)}）不能确认收货", code="order_not_confirmable",
                           status=str(order.status))
    notifications.kick()  # WeChat's confirm-receive reminder, queued by an ORDER_COMPLETED subscriber
    return await load_order_dict(await get_own_order(user_id, order_id))


async def auto_confirm_orders(after_days: int, now: datetime | None = None, batch: int = 500) -> int:
    """Sweep: shipped orders with shipped_at older than order_auto_confirm_days -> completed."""
    now = now or utcnow()
    cutoff = now - timedelta(days=after_days)
    ids = await Order.filter(status=OrderStatus.shipped, shipped_at__lt=cutoff).order_by("shipped_at") \
        .limit(batch).values_list("id", flat=True)
    done = 0
    for oid in ids:
        if await complete_order(oid, expected=(OrderStatus.shipped,)):
            done += 1
    return done
