"""WeChat Pay for orders: prepay (the wx.requestPayment parameters) and the payment notify."""

from __future__ import annotations

import logging
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from huituan.core import sql
from huituan.core.clock import utcnow
from huituan.core.errors import InvalidState, NotifyMalformed
from huituan.core.runtime import Runtime
from huituan.models.order import Order, OrderItem, OrderStatus, Payment, PaymentStatus, Refund, RefundStatus, order_status_label
from huituan.services import events, outbox
from huituan.services.orders import activity, unmatched_payments
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
        raise InvalidState(f"订单当前状态（{order_status_label(order.status)}）不能支付", code="order_not_payable",
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


def notify_text(value: Any, field: str, *, max_len: int = 64, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value) or len(value) > max_len:
        raise NotifyMalformed(f"{field}: 格式错误", field=field)
    return value


def _amount(value: Any, field: str) -> int:
    """Fen as WeChat sends them: a JSON integer, 1 .. 2^31-1. Not a float, string or bool."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
        raise NotifyMalformed(f"{field}: 金额格式错误", field=field)
    return value


# The ids a notify carries that we store are held to their columns when read: a value the column
# cannot hold is refused naming WeChat's field (400), never a database error WeChat retries forever.
_TRANSACTION_ID_MAX = Payment._meta.fields_map["transaction_id"].max_length
_PAYER_OPENID_MAX = Payment._meta.fields_map["payer_openid"].max_length


def parse_payment_resource(res: Any) -> tuple[str, str, str, int, str]:
    """(trade_state, out_trade_no, transaction_id, total_fen, payer_openid) of a decrypted
    TRANSACTION.SUCCESS resource (or an order query's answer, same shape); NotifyMalformed
    when a field has the wrong type or range. A trade_state other than SUCCESS needs no amount."""
    if not isinstance(res, dict):
        raise NotifyMalformed("resource: 格式错误", field="resource")
    state = notify_text(res.get("trade_state"), "resource.trade_state", max_len=32)  # WeChat always sends it
    out_trade_no = notify_text(res.get("out_trade_no"), "resource.out_trade_no", max_len=32)
    if state != "SUCCESS":
        return state, out_trade_no, "", 0, ""
    transaction_id = notify_text(res.get("transaction_id"), "resource.transaction_id", max_len=_TRANSACTION_ID_MAX)
    amount = res.get("amount")
    if not isinstance(amount, dict):
        raise NotifyMalformed("resource.amount: 格式错误", field="resource.amount")
    total = _amount(amount.get("total"), "resource.amount.total")
    if "payer_total" in amount and amount["payer_total"] is not None:
        _amount(amount["payer_total"], "resource.amount.payer_total")
    payer = res.get("payer") or {}
    if not isinstance(payer, dict):
        raise NotifyMalformed("resource.payer: 格式错误", field="resource.payer")
    payer_openid = notify_text(payer.get("openid"), "resource.payer.openid", max_len=_PAYER_OPENID_MAX,
                               required=False)
    return state, out_trade_no, transaction_id, total, payer_openid


async def handle_pay_notify(rt: Runtime, notify: dict[str, Any]) -> str:
    """Apply one *verified* payment notify. Idempotent by transaction_id. Returns what happened:
    "paid", "duplicate", "amount_mismatch", "late", "unmatched" (no such order: kept for an
    operator, ``unmatched_payments``), "ignored". A malformed resource (amount not
    a positive integer, ids not strings) raises NotifyMalformed before anything is stored.

    unpaid -> paid when the amount equals payable_fen (Payment succeeded, ORDER_PAID).
    Every other payment is money no paid order keeps, and goes back automatically, once:
    a different amount (short or over) is recorded as Payment amount_mismatch and the order
    stays unpaid; a payment for a cancelled order, or a second payment of a paid one, is
    recorded as late. Either way an automatic Refund of the whole payment (its transaction_id
    UNIQUE on the refund: returned once) is queued in the same transaction.
    Concurrent copies: the order row CAS and the UNIQUE transaction_id let exactly one win; the
    losers' inserts raise IntegrityError, their transaction rolls back, and they are duplicates.
    """
    if notify.get("event_type") != "TRANSACTION.SUCCESS":
        # Only a payment's own event pays: a refund's or transfer's notify sent here (however
        # signed) is acknowledged and changes nothing.
        log.warning("pay notify with event_type %r ignored", str(notify.get("event_type"))[:64])
        return "ignored"
    state, out_trade_no, transaction_id, total, payer_openid = parse_payment_resource(notify.get("resource"))
    res = notify["resource"]
    if state != "SUCCESS":
        log.info("pay notify ignored: trade_state=%s out_trade_no=%s", state, out_trade_no)
        return "ignored"
    paid = await _mark_paid(out_trade_no, transaction_id, total, payer_openid, res)
    if paid is not None:
        if paid == "paid":
            outbox.kick(rt)  # what ORDER_PAID queued (a group's success notices ...) goes now, not at the next sweep
        return paid
    # Not the plain unpaid -> paid case (or a copy): the full decision below.
    if await Payment.filter(transaction_id=transaction_id).exists():
        return "duplicate"
    order = await Order.get_or_none(order_no=out_trade_no)
    if order is None:
        # No order to hang a refund on: kept for an operator (WeChat only pays orders we opened).
        created = await unmatched_payments.record(out_trade_no, transaction_id, total, payer_openid, res)
        return "unmatched" if created else "duplicate"

    try:
        async with in_transaction() as conn:
            if total != order.payable_fen:
                log.warning("pay notify amount mismatch: order %s payable %s notified %s (transaction %s)",
                            order.order_no, order.payable_fen, total, transaction_id)
                await Payment.create(order_id=order.id, transaction_id=transaction_id, amount_fen=total,
                                     status=PaymentStatus.amount_mismatch, payer_openid=payer_openid,
                                     notify_payload=res, using_db=conn)
                refund = await _refund_payment(order, transaction_id, total, "支付金额与订单不符，自动退回", conn)
                result = "amount_mismatch"
            else:
                now = utcnow()
                moved = await Order.filter(id=order.id, status=OrderStatus.unpaid).using_db(conn).update(
                    status=OrderStatus.paid, paid_fen=total, paid_at=now, transaction_id=transaction_id)
                if moved == 1:
                    await Payment.create(order_id=order.id, transaction_id=transaction_id, amount_fen=total,
                                         status=PaymentStatus.succeeded, payer_openid=payer_openid,
                                         notify_payload=res, using_db=conn)
                    await activity.dispatch("on_paid", conn, order.id, order.activity_type, order.activity_ref)
                    await events.emit(events.ORDER_PAID, order_id=order.id, conn=conn)
                    result = "paid"
                else:
                    current = await Order.get(id=order.id).using_db(conn)
                    if current.transaction_id == transaction_id:
                        return "duplicate"  # a concurrent copy won while we waited on the row
                    # Cancelled before the money arrived (or paid twice): keep the record, give it back.
                    await Payment.create(order_id=order.id, transaction_id=transaction_id, amount_fen=total,
                                         status=PaymentStatus.late, payer_openid=payer_openid,
                                         notify_payload=res, using_db=conn)
                    reason = "订单已关闭，支付自动退回" if current.status == OrderStatus.cancelled else "重复支付，自动退回"
                    refund = await _refund_payment(order, transaction_id, total, reason, conn)
                    result = "late"
                    await activity.dispatch("on_late_payment", conn, order.id, order.activity_type, order.activity_ref)
            if result != "paid":
                log.warning("%s payment %s for order %s: automatic refund %s queued",
                            result, transaction_id, order.order_no, refund.refund_no)
    except IntegrityError:
        return "duplicate"
    outbox.kick(rt)
    return result


async def _refund_payment(order: Order, transaction_id: str, amount_fen: int, reason: str, conn) -> Refund:
    """The automatic refund of one payment no paid order keeps (processing at once, no review).
    UNIQUE payment_transaction_id: a payment is given back once, whoever asks twice."""
    refund = await Refund.create(
        refund_no=new_number("R"), order_id=order.id, user_id=order.user_id, status=RefundStatus.processing,
        amount_fen=amount_fen, items=[], whole_order=True, reason=reason, automatic=True,
        payment_transaction_id=transaction_id, using_db=conn)
    await enqueue_refund(refund, order, total_fen=amount_fen, conn=conn)
    return refund


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


