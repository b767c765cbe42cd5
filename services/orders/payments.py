"""WeChat Pay for orders: prepay (the wx.requestPayment parameters) and the payment notify."""

from __future__ import annotations

import logging
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from huituan.core import sql
from huituan.core.clock import utcnow
from huituan.core.errors import InvalidState
from huituan.core.runtime import Runtime
from huituan.models.order import Order, OrderItem, OrderStatus, Payment, PaymentStatus, Refund, RefundStatus
from huituan.services import events, outbox
from huituan.services.orders import activity
from huituan.services.orders.numbers import new_number
from huituan.services.orders.queries import get_own_order
from huituan.services.users import get_active_user

log = logging.getLogger("huituan.payments")


async def prepay_order(rt: Runtime, user_id: int, order_id: int) -> dict[str, Any]:
    """Parameters for wx.requestPayment. The prepay_id is stored and reused while the order is
    unpaid (WeChat rejects a second prepay with the same out_trade_no and other parameters)."""
    user = await get_active_user(user_id)
    order = await get_own_order(user_id, order_id)
    if order.status != OrderStatus.unpaid:
        raise InvalidState(f"订单当前状态（{order.status}）不能支付", code="order_not_payable",
                           status=str(order.status))
    if utcnow() >= order.pay_deadline:
        raise InvalidState("订单已超过支付期限", code="order_pay_expired")
    prepay_id = order.prepay_id
    if not prepay_id:
        items = await OrderItem.filter(order_id=order.id).order_by("id")
        description = items[0].title if items else "惠团订单"
        if len(items) > 1:
            description = f"{description} 等{len(items)}件商品"
        prepay_id = await rt.wechat.pay.jsapi_prepay(
            out_trade_no=order.order_no, description=description[:127], amount_fen=order.payable_fen,
            payer_openid=user.openid, notify_url=rt.settings.base_url() + "/api/v1/pay/notify",
            time_expire=order.pay_deadline,
        )
        # Two concurrent pay taps: the first stored prepay_id wins, both use it.
        stored = await Order.filter(id=order.id, prepay_id=None).update(prepay_id=prepay_id)
        if stored != 1:
            prepay_id = (await Order.get(id=order.id)).prepay_id or prepay_id
    params = rt.wechat.pay.request_payment_params(prepay_id)
    return {"order_id": order.id, "order_no": order.order_no, "payable_fen": order.payable_fen,
            "payment": params}


async def handle_pay_notify(rt: Runtime, notify: dict[str, Any]) -> str:
    """Apply one *verified* payment notify. Idempotent by transaction_id. Returns what happened:
    "paid", "duplicate", "amount_mismatch", "late", "ignored".

    unpaid -> paid when the amount equals payable_fen (Payment succeeded, ORDER_PAID).
    A different amount is recorded (Payment amount_mismatch) and the order stays unpaid.
    A payment for a cancelled order (or a second payment of a paid one) is recorded as late
    and refunded automatically through the outbox.
    Concurrent copies: the order row CAS and the UNIQUE transaction_id let exactly one win; the
    losers' inserts raise IntegrityError, their transaction rolls back, and they are duplicates.
    """
    res = notify.get("resource") or {}
    if res.get("trade_state", "SUCCESS") != "SUCCESS":
        log.info("pay notify ignored: trade_state=%s out_trade_no=%s", res.get("trade_state"), res.get("out_trade_no"))
        return "ignored"
    out_trade_no = str(res.get("out_trade_no") or "")
    transaction_id = str(res.get("transaction_id") or "")
    amount = res.get("amount") or {}
    total = int(amount.get("total", amount.get("payer_total", -1)))
    payer_openid = str((res.get("payer") or {}).get("openid") or "")
    if not transaction_id or not out_trade_no:
        log.warning("pay notify without transaction_id/out_trade_no: %s", res)
        return "ignored"
    paid = await _mark_paid(out_trade_no, transaction_id, total, payer_openid, res)
    if paid is not None:
        return paid
    # Not the plain unpaid -> paid case (or a copy): the full decision below.
    if await Payment.filter(transaction_id=transaction_id).exists():
        return "duplicate"
    order = await Order.get_or_none(order_no=out_trade_no)
    if order is None:
        log.warning("pay notify for unknown order %s (transaction %s)", out_trade_no, transaction_id)
        return "ignored"

    try:
        async with in_transaction() as conn:
            if total != order.payable_fen:
                log.warning("pay notify amount mismatch: order %s payable %s notified %s (transaction %s)",
                            order.order_no, order.payable_fen, total, transaction_id)
                await Payment.create(order_id=order.id, transaction_id=transaction_id, amount_fen=total,
                                     status=PaymentStatus.amount_mismatch, payer_openid=payer_openid,
                                     notify_payload=res, using_db=conn)
                return "amount_mismatch"
            now = utcnow()
            moved = await Order.filter(id=order.id, status=OrderStatus.unpaid).using_db(conn).update(
                status=OrderStatus.paid, paid_fen=total, paid_at=now, transaction_id=transaction_id)
            if moved == 1:
                await Payment.create(order_id=order.id, transaction_id=transaction_id, amount_fen=total,
                                     status=PaymentStatus.succeeded, payer_openid=payer_openid,
                                     notify_payload=res, using_db=conn)
                await activity.dispatch("on_paid", conn, order.id, order.activity_type, order.activity_ref)
                await events.emit(events.ORDER_PAID, order_id=order.id, conn=conn)
                return "paid"
            current = await Order.get(id=order.id).using_db(conn)
            if current.transaction_id == transaction_id:
                return "duplicate"  # a concurrent copy won while we waited on the row
            # Cancelled before the money arrived (or paid twice): keep the record, give it back.
            await Payment.create(order_id=order.id, transaction_id=transaction_id, amount_fen=total,
                                 status=PaymentStatus.late, payer_openid=payer_openid,
                                 notify_payload=res, using_db=conn)
            refund = await Refund.create(
                refund_no=new_number("R"), order_id=order.id, user_id=order.user_id,
                status=RefundStatus.processing, amount_fen=total, items=[], whole_order=True,
                reason="订单已关闭，支付自动退回", automatic=True, using_db=conn)
            await enqueue_refund(refund, order, total_fen=total, conn=conn)
            await activity.dispatch("on_late_payment", conn, order.id, order.activity_type, order.activity_ref)
            log.warning("late payment for order %s (status %s): refund %s queued",
                        order.order_no, current.status, refund.refund_no)
    except IntegrityError:
        return "duplicate"
    outbox.kick(rt)
    return "late"


_PAID_CAS = ('UPDATE "order" SET status = ?, paid_fen = ?, paid_at = ?, transaction_id = ? '
             "WHERE order_no = ? AND status = ? AND payable_fen = ? RETURNING id, activity_type, activity_ref")
_PAYMENT_INSERT = ("INSERT INTO payment (order_id, transaction_id, amount_fen, status, payer_openid, notify_payload,"
                   " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
_PAYLOAD_FIELD = Payment._meta.fields_map["notify_payload"]


async def _mark_paid(out_trade_no: str, transaction_id: str, total: int, payer_openid: str,
                     res: dict[str, Any]) -> str | None:
    """The common case in one transaction: unpaid -> paid by CAS on the order row when the
    amount equals payable_fen, the succeeded Payment and ORDER_PAID. Returns "paid", "duplicate"
    (a concurrent copy: the UNIQUE transaction_id on order or payment), or None when the CAS
    matched nothing (paid already, cancelled, other amount, unknown order): nothing written then.
    """
    try:
        async with in_transaction() as conn:
            now = utcnow()
            rows = await sql.fetch(conn, _PAID_CAS, [OrderStatus.paid.value, total, now, transaction_id,
                                                     out_trade_no, OrderStatus.unpaid.value, total])
            if not rows:
                return None
            order_id = rows[0]["id"]
            await sql.execute(conn, _PAYMENT_INSERT, [
                order_id, transaction_id, total, PaymentStatus.succeeded.value, payer_openid,
                _PAYLOAD_FIELD.to_db_value(res, Payment), now])
            if rows[0]["activity_type"] != "normal":
                await activity.dispatch("on_paid", conn, order_id, rows[0]["activity_type"], rows[0]["activity_ref"])
            await events.emit(events.ORDER_PAID, order_id=order_id, conn=conn)
            return "paid"
    except IntegrityError:
        return "duplicate"


async def enqueue_refund(refund: Refund, order: Order, *, total_fen: int, conn) -> None:
    """Queue the WeChat refund call in the caller's transaction (delivered after commit)."""
    await outbox.enqueue("refund", f"refund:{refund.refund_no}", {
        "refund_id": refund.id, "refund_no": refund.refund_no, "out_trade_no": order.order_no,
        "refund_fen": refund.amount_fen, "total_fen": total_fen, "reason": refund.reason,
    }, conn=conn)


