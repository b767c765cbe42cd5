"""Refunds: the buyer requests, an operator approves or rejects, the outbox submits it to
WeChat Pay, and the refund notify finishes it (or poll_refunds, when the notify is lost or
the submission was parked)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from huituan.core.clock import utcnow
from huituan.core.errors import InvalidState, NotFound, NotifyMalformed, UpstreamError, ValidationFailed
from huituan.core.money import prorate
from huituan.core.runtime import Runtime
from huituan.models.order import Order, OrderItem, OrderStatus, Refund, RefundStatus, order_status_label, refund_status_label
from huituan.models.outbox import OutboxMessage
from huituan.services import events, notifications, outbox
from huituan.services.orders import unmatched_payments
from huituan.services.orders.numbers import new_number
from huituan.services.orders.payments import enqueue_refund, notify_text
from huituan.services.orders.queries import get_own_order
from huituan.services.orders.serialize import refund_to_dict

log = logging.getLogger("huituan.refunds")

REFUNDABLE = (OrderStatus.paid, OrderStatus.shipped, OrderStatus.ready_for_pickup,
              OrderStatus.completed, OrderStatus.partly_refunded)


async def request_refund(user_id: int, order_id: int, reason: str,
                         items: list[dict[str, Any]] | None = None, *,
                         only_from: tuple[OrderStatus, ...] = REFUNDABLE) -> dict[str, Any]:
    """Buyer asks for a refund of the whole order (items omitted) or of some units.

    paid | shipped | ready_for_pickup | completed | partly_refunded -> refunding, with the
    previous status kept in status_before_refund; one open refund per order (the CAS on the
    status is what makes a second request lose). The CAS also guards paid_fen and refunded_fen
    as read: an amount computed from a state that changed meanwhile is refused (409), never
    submitted. The amount is computed here, never taken
    from the client: a line's paid_fen prorated by quantity (floored), the last units of a
    line take the remainder; when the request covers everything still refundable, shipping
    goes back too. ``only_from`` narrows the statuses a caller refunds from (a shortage refunds
    goods still waiting at the point, never an order picked up meanwhile): the CAS below keeps
    the status as read, so an order that moved on in between is refused, not refunded.
    """
    order = await get_own_order(user_id, order_id)
    if order.status not in REFUNDABLE or order.status not in only_from:
        raise InvalidState(f"订单当前状态（{order_status_label(order.status)}）不能申请退款", code="order_not_refundable",
                           status=str(order.status))
    remaining = order.paid_fen - order.refunded_fen
    if remaining <= 0:
        raise InvalidState("订单已无可退金额", code="nothing_to_refund")
    lines = await OrderItem.filter(order_id=order.id).order_by("id")
    by_id = {it.id: it for it in lines}
    refund_items: list[dict[str, Any]] = []
    whole = not items
    if whole:
        amount = remaining
    else:
        wanted: dict[int, int] = {}
        for idx, req in enumerate(items):
            item_id, q = int(req["item_id"]), int(req["quantity"])
            if item_id not in by_id:
                raise NotFound(f"items.{idx}.item_id: 订单中没有这件商品", code="order_item_not_found",
                               field=f"items.{idx}.item_id")
            if q < 1:
                raise ValidationFailed(f"items.{idx}.quantity: 数量必须大于 0", field=f"items.{idx}.quantity")
            wanted[item_id] = wanted.get(item_id, 0) + q
            it = by_id[item_id]
            if wanted[item_id] > it.quantity - it.refunded_quantity:
                raise ValidationFailed(
                    f"items.{idx}.quantity: 最多可退 {it.quantity - it.refunded_quantity} 件",
                    field=f"items.{idx}.quantity", refundable_quantity=it.quantity - it.refunded_quantity)
        amount = 0
        for item_id, q in wanted.items():
            it = by_id[item_id]
            if it.refunded_quantity + q == it.quantity:
                part = it.paid_fen - it.refunded_fen  # the last units take the floor remainders
            else:
                part = prorate(it.paid_fen, q, it.quantity)  # floored
            amount += part
            refund_items.append({"item_id": item_id, "quantity": q, "amount_fen": part})
        if all(it.refunded_quantity + wanted.get(it.id, 0) == it.quantity for it in lines):
            amount = remaining
            whole = True
        if amount <= 0:
            raise ValidationFailed("items: 退款金额为 0", field="items")
    async with in_transaction() as conn:
        # The amount was decided on the order as read above: the compare-and-set guards every
        # figure it came from (a refund finishing in between changes refunded_fen and the lines'
        # refunded amounts in one transaction, and may leave the status where it was).
        moved = await Order.filter(id=order.id, status=order.status, paid_fen=order.paid_fen,
                                   refunded_fen=order.refunded_fen).using_db(conn).update(
            status=OrderStatus.refunding, status_before_refund=str(order.status))
        if moved != 1:
            raise InvalidState("订单状态已变化或已有退款在处理中", code="order_not_refundable")
        refund = await Refund.create(refund_no=new_number("R"), order_id=order.id, user_id=user_id,
                                     status=RefundStatus.requested, amount_fen=amount, items=refund_items,
                                     whole_order=whole, reason=reason or "", using_db=conn)
    return refund_to_dict(refund)


async def _restore_order_status(order_id: int, conn) -> None:
    """refunding -> status_before_refund (rejected or failed refund)."""
    order = await Order.get(id=order_id).using_db(conn)
    if order.status == OrderStatus.refunding and order.status_before_refund:
        await Order.filter(id=order_id, status=OrderStatus.refunding).using_db(conn).update(
            status=OrderStatus(order.status_before_refund), status_before_refund="")


async def approve_refund(rt: Runtime, refund_id: int, operator_id: int, note: str = "") -> dict[str, Any]:
    """requested -> processing; the WeChat refund call is queued in the same transaction."""
    async with in_transaction() as conn:
        moved = await Refund.filter(id=refund_id, status=RefundStatus.requested).using_db(conn).update(
            status=RefundStatus.processing, reviewed_by=operator_id, review_note=(note or "")[:200])
        if moved != 1:
            await _raise_not_reviewable(refund_id)
        refund = await Refund.get(id=refund_id).using_db(conn)
        order = await Order.get(id=refund.order_id).using_db(conn)
        await enqueue_refund(refund, order, total_fen=order.paid_fen, conn=conn)
    outbox.kick(rt)
    return refund_to_dict(refund)


async def reject_refund(rt: Runtime, refund_id: int, operator_id: int, note: str) -> dict[str, Any]:
    """requested -> rejected; the order goes back to status_before_refund. The buyer is told
    why: a reason is required (as for a withdrawal or a leader application)."""
    note = (note or "").strip()
    if not note:
        raise ValidationFailed("note: 驳回退款时请填写理由（买家可见）", field="note")
    async with in_transaction() as conn:
        moved = await Refund.filter(id=refund_id, status=RefundStatus.requested).using_db(conn).update(
            status=RefundStatus.rejected, reviewed_by=operator_id, review_note=note[:200],
            finished_at=utcnow())
        if moved != 1:
            await _raise_not_reviewable(refund_id)
        refund = await Refund.get(id=refund_id).using_db(conn)
        await _restore_order_status(refund.order_id, conn)
    return refund_to_dict(refund)


async def _raise_not_reviewable(refund_id: int) -> None:
    refund = await Refund.get_or_none(id=refund_id)
    if refund is None:
        raise NotFound("退款申请不存在", code="refund_not_found", field="refund_id")
    raise InvalidState(f"退款当前状态（{refund_status_label(refund.status)}）不能审核", code="refund_not_reviewable",
                       status=str(refund.status))


async def deliver_refund(rt: Runtime, payload: dict[str, Any]) -> None:
    """Outbox handler for kind "refund": submit to WeChat Pay. out_refund_no = refund_no, so a
    retried delivery never refunds twice."""
    refund = await Refund.get_or_none(id=payload["refund_id"])
    if refund is None or refund.status != RefundStatus.processing:
        return  # finished meanwhile (a notify beat the retry)
    await rt.wechat.pay.refund(
        out_trade_no=payload["out_trade_no"], out_refund_no=payload["refund_no"],
        refund_fen=int(payload["refund_fen"]), total_fen=int(payload["total_fen"]),
        reason=payload.get("reason") or "", notify_url=rt.settings.base_url() + "/api/v1/pay/refund-notify",
    )



_REFUND_ID_MAX = Refund._meta.fields_map["wechat_refund_id"].max_length


async def handle_refund_notify(rt: Runtime, notify: dict[str, Any]) -> str:
    """Apply one *verified* refund notify. Returns "succeeded", "failed", "duplicate", "ignored".

    SUCCESS: processing -> succeeded; item and order refunded amounts grow; the order goes
    refunding -> refunded when everything paid is back, else back to status_before_refund
    (paid/shipped/ready_for_pickup), or partly_refunded when it came from completed or
    partly_refunded; REFUND_SUCCEEDED. ABNORMAL/CLOSED: processing -> failed, order back to
    status_before_refund. A duplicate notify loses the refund CAS and changes nothing.
    """
    res = notify.get("resource")
    if not isinstance(res, dict):
        raise NotifyMalformed("resource: 格式错误", field="resource")
    out_refund_no = notify_text(res.get("out_refund_no"), "resource.out_refund_no")
    status = notify_text(res.get("refund_status"), "resource.refund_status", max_len=32)
    notify_text(res.get("refund_id"), "resource.refund_id", max_len=_REFUND_ID_MAX, required=False)  # stored
    refund = await Refund.get_or_none(refund_no=out_refund_no)
    if refund is None:
        if unmatched_payments.is_refund_no(out_refund_no):  # a payment that named no order of ours
            return await unmatched_payments.apply_refund_result(out_refund_no, status, res.get("refund_id"))
        log.warning("refund notify for unknown refund %s", out_refund_no)
        return "ignored"
    now = utcnow()
    if status == "SUCCESS":
        async with in_transaction() as conn:
            moved = await Refund.filter(id=refund.id, status=RefundStatus.processing).using_db(conn).update(
                status=RefundStatus.succeeded, wechat_refund_id=res.get("refund_id"), finished_at=now)
            if moved != 1:
                return "duplicate"
            if not refund.automatic:
                await _apply_refund(refund, conn)
                await notifications.refund_result(refund.order_id, refund.refund_no, refund.amount_fen, True, conn)
                # Only a refund of the order's own money is an order refund. An automatic refund
                # returns a late or duplicate payment the order never counted: announcing it
                # would make commission cancel the earnings of an order that stays paid.
                await events.emit(events.REFUND_SUCCEEDED, refund_id=refund.id, order_id=refund.order_id,
                                  conn=conn)
        notifications.kick()
        outbox.kick(rt)  # e.g. a transfer cancelled because the clawback left the wallet in debt
        return "succeeded"
    if status in ("ABNORMAL", "CLOSED"):
        async with in_transaction() as conn:
            moved = await Refund.filter(id=refund.id, status=RefundStatus.processing).using_db(conn).update(
                status=RefundStatus.failed, wechat_refund_id=res.get("refund_id"), finished_at=now)
            if moved != 1:
                return "duplicate"
            if not refund.automatic:
                await _restore_order_status(refund.order_id, conn)
                await notifications.refund_result(refund.order_id, refund.refund_no, refund.amount_fen, False, conn)
        log.warning("refund %s ended %s", refund.refund_no, status)
        notifications.kick()
        return "failed"
    log.info("refund notify %s with status %s ignored", refund.refund_no, status)
    return "ignored"


async def _apply_refund(refund: Refund, conn) -> None:
    if refund.whole_order and not refund.items:
        await OrderItem.filter(order_id=refund.order_id).using_db(conn).update(
            refunded_quantity=F("quantity"), refunded_fen=F("paid_fen"))
    else:
        for line in refund.items:
            await OrderItem.filter(id=line["item_id"], order_id=refund.order_id).using_db(conn).update(
                refunded_quantity=F("refunded_quantity") + int(line["quantity"]),
                refunded_fen=F("refunded_fen") + int(line["amount_fen"]))
    await Order.filter(id=refund.order_id).using_db(conn).update(refunded_fen=F("refunded_fen") + refund.amount_fen)
    order = await Order.get(id=refund.order_id).using_db(conn)
    if order.status != OrderStatus.refunding:
        return
    before = order.status_before_refund
    if order.refunded_fen >= order.paid_fen:
        after = OrderStatus.refunded
    elif before in (OrderStatus.completed, OrderStatus.partly_refunded):
        after = OrderStatus.partly_refunded
    else:
        after = OrderStatus(before)
    await Order.filter(id=order.id, status=OrderStatus.refunding).using_db(conn).update(
        status=after, status_before_refund="")


REFUND_FINAL = ("SUCCESS", "ABNORMAL", "CLOSED")


def _notify_from_query(answer: dict[str, Any]) -> dict[str, Any]:
    """The refund query's answer in the shape of a verified refund notify (the query says
    ``status``, the notify's resource ``refund_status``)."""
    status = str(answer.get("status") or "")
    resource = {
        "out_trade_no": answer.get("out_trade_no"), "transaction_id": answer.get("transaction_id"),
        "out_refund_no": answer.get("out_refund_no"), "refund_id": answer.get("refund_id"),
        "refund_status": status, "user_received_account": answer.get("user_received_account"),
        "amount": answer.get("amount") or {},
    }
    if answer.get("success_time"):
        resource["success_time"] = answer["success_time"]
    return {"event_type": f"REFUND.{status}", "resource": resource}


def _unknown_to_wechat(exc: UpstreamError) -> bool:
    return exc.details.get("wechat_code") == "RESOURCE_NOT_EXISTS" or exc.details.get("http_status") == 404


async def poll_refunds(rt: Runtime, now: datetime | None = None, older_than_seconds: int = 300,
                       limit: int = 200) -> int:
    """Job: ask WeChat Pay about refunds still ``processing`` (the notify may be lost, the
    submission may have been parked as failed by the outbox). Returns how many refunds reached
    a final state or were re-queued.

    SUCCESS / ABNORMAL / CLOSED -> handle_refund_notify with the same notify shape, so the
    final state is applied once whichever of notify and poll comes first (processing ->
    succeeded | failed). PROCESSING -> left for a later round. Unknown to WeChat -> the
    submission never landed: its outbox row goes failed | sent -> pending (same out_refund_no,
    so it can never refund twice) and the outbox is kicked. Other upstream errors -> skipped
    this round.
    """

    cutoff = (now or utcnow()) - timedelta(seconds=older_than_seconds)
    candidates = await Refund.filter(status=RefundStatus.processing, created_at__lte=cutoff).order_by("id").limit(limit)
    if not candidates:
        return 0
    keys = {f"refund:{r.refund_no}": r for r in candidates}
    # The outbox row is written by the approval: a refund requested long ago but approved just
    # now is not due yet (its submission may still be on its way).
    queued_at = {m.dedupe_key: m.created_at for m in await OutboxMessage.filter(dedupe_key__in=list(keys))}
    done = requeued = 0
    for key, refund in keys.items():
        if key in queued_at and queued_at[key] > cutoff:
            continue
        try:
            answer = await rt.wechat.pay.query_refund(refund.refund_no)
        except UpstreamError as exc:
            if not _unknown_to_wechat(exc):
                log.warning("polling refund %s failed, next round: %s %s", refund.refund_no, exc, exc.details)
                continue
            if await outbox.requeue(key):
                log.warning("refund %s unknown to WeChat Pay: submission re-queued", refund.refund_no)
                requeued += 1
            elif key not in queued_at:
                log.error("refund %s unknown to WeChat Pay and has no outbox row", refund.refund_no)
            # else: its row is still pending (retrying): the outbox gets there on its own.
            continue
        if str(answer.get("status") or "") not in REFUND_FINAL:
            continue
        if await handle_refund_notify(rt, _notify_from_query(answer)) in ("succeeded", "failed"):
            done += 1
    if requeued:
        outbox.kick(rt)
    return done + requeued
