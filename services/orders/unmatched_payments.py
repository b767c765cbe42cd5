"""Payments WeChat Pay confirmed for an out_trade_no that names no order of ours.

WeChat only pays orders we opened, so such a payment means data was lost or a bill was made
outside this service; either way money was taken from a buyer and no order keeps it. There is
no order to hang an automatic refund on (``Refund`` belongs to an order), so the payment is
recorded once per transaction id, logged at ERROR, and listed for operators
(``GET /api/admin/v1/unmatched-payments``). An operator either sends it back
(``.../{id}/refund``: a WeChat Pay refund by its transaction id, through the outbox) or
resolves it by hand with a note (``.../{id}/resolve``: matched to an order, refunded elsewhere).

    open --refund--> refunding --SUCCESS--> refunded
                     refunding --ABNORMAL / CLOSED / WeChat refused--> open (refund_failure says why)
    open --resolve--> resolved

Every move is a compare-and-set on the status. Each attempt has its own out_refund_no
(``UP<id>R<attempt>``): a retried delivery of one attempt never refunds twice, and a refund
WeChat closed can be asked again. WeChat itself refuses to refund more than was paid.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from huituan.core.clock import utcnow
from huituan.core.errors import Conflict, NotFound, UpstreamError, ValidationFailed
from huituan.core.runtime import Runtime
from huituan.models.order import UnmatchedPayment, UnmatchedPaymentStatus
from huituan.models.outbox import OutboxKind
from huituan.services import outbox

log = logging.getLogger("huituan.orders.unmatched_payments")


async def record(out_trade_no: str, transaction_id: str, amount_fen: int, payer_openid: str,
                 payload: dict[str, Any]) -> bool:
    """Keep the payment for an operator. False when this transaction id is already kept (WeChat
    retries a notify until it is acknowledged; concurrent copies meet the UNIQUE key)."""
    # A concurrent copy that inserts between the read and the insert meets the UNIQUE key:
    # get_or_create then reads that row (created False).
    _, created = await UnmatchedPayment.get_or_create(
        transaction_id=transaction_id,
        defaults={"out_trade_no": out_trade_no, "amount_fen": amount_fen, "payer_openid": payer_openid,
                  "notify_payload": payload})
    if created:
        log.error("pay notify for unknown order %s (transaction %s, %s fen): kept as an unmatched payment "
                  "for an operator", out_trade_no, transaction_id, amount_fen)
    return created


async def open_count() -> int:
    """How many wait for an operator (the 待审核 queue and the operators' digest say it)."""
    return await UnmatchedPayment.filter(status=UnmatchedPaymentStatus.open).count()


def to_dict(row: UnmatchedPayment) -> dict[str, Any]:
    return {"id": row.id, "transaction_id": row.transaction_id, "out_trade_no": row.out_trade_no,
            "amount_fen": row.amount_fen, "payer_openid": row.payer_openid, "status": row.status,
            "resolved_by": row.resolved_by, "resolution_note": row.resolution_note,
            "refund_no": row.refund_no, "refund_attempts": row.refund_attempts,
            "wechat_refund_id": row.wechat_refund_id, "refund_failure": row.refund_failure,
            "created_at": row.created_at, "refund_requested_at": row.refund_requested_at,
            "resolved_at": row.resolved_at}


async def list_unmatched(*, status: UnmatchedPaymentStatus | None = None, page: int = 1,
                         page_size: int = 20) -> dict[str, Any]:
    qs = UnmatchedPayment.all()
    if status is not None:
        qs = qs.filter(status=status)
    total = await qs.count()
    rows = await qs.order_by("-id").offset((page - 1) * page_size).limit(page_size)
    return {"items": [to_dict(r) for r in rows], "total": total, "page": page, "page_size": page_size}


async def resolve(payment_id: int, operator_id: int, note: str) -> dict[str, Any]:
    """open -> resolved with the operator's note (what was done: refunded at the merchant
    platform, matched to an order by hand). A second resolve is 409; the first note stays."""
    note = note.strip()
    if not note:
        raise ValidationFailed("note: 请写明处理方式（如已在商户平台退款）", field="note")
    moved = await UnmatchedPayment.filter(id=payment_id, status=UnmatchedPaymentStatus.open).update(
        status=UnmatchedPaymentStatus.resolved, resolved_by=operator_id, resolution_note=note, resolved_at=utcnow())
    row = await UnmatchedPayment.get_or_none(id=payment_id)
    _found_and_moved(row, moved)
    return to_dict(row)


def _found_and_moved(row: UnmatchedPayment | None, moved: int) -> None:
    if row is None:
        raise NotFound("未匹配支付不存在", code="unmatched_payment_not_found", field="payment_id")
    if not moved:
        label = {UnmatchedPaymentStatus.refunding: "正在退款", UnmatchedPaymentStatus.refunded: "已退款"}.get(
            row.status, "已处理")
        raise Conflict(f"该笔支付{label}", code="unmatched_payment_resolved", status=str(row.status))


# -- the refund by transaction id --------------------------------------------------------------

REFUND_NO_PREFIX = "UP"
_REFUND_NO = re.compile(r"UP(\d{12,19})R(\d{1,4})")
REFUND_REASON = "款项未匹配到订单，原路退回"
# WeChat Pay answers that a retry cannot change: the attempt ends, the payment is open again.
_FINAL_REFUSALS = {"PARAM_ERROR", "INVALID_REQUEST", "RESOURCE_NOT_EXISTS", "NO_AUTH", "USER_ACCOUNT_ABNORMAL",
                   "ORDER_NOT_EXIST", "REFUND_AMOUNT_EXCEEDED", "NOT_FOUND"}


def refund_no_for(payment_id: int, attempt: int) -> str:
    return f"{REFUND_NO_PREFIX}{payment_id:012d}R{attempt}"


def is_refund_no(out_refund_no: str) -> bool:
    return _REFUND_NO.fullmatch(out_refund_no) is not None


async def request_refund(rt: Runtime, payment_id: int, operator_id: int, note: str = "") -> dict[str, Any]:
    """open -> refunding: the whole payment goes back to the payer by its transaction id. The
    WeChat Pay call is queued in the outbox in the same transaction (after commit it is sent;
    retried with the same out_refund_no). A second request is 409; a new attempt is possible
    once an earlier one failed (the payment is open again)."""
    note = note.strip()
    async with in_transaction() as conn:
        row = await UnmatchedPayment.get_or_none(id=payment_id).using_db(conn)
        if row is None or row.status != UnmatchedPaymentStatus.open:
            _found_and_moved(row, 0)
        attempt = row.refund_attempts + 1
        refund_no = refund_no_for(row.id, attempt)
        moved = await UnmatchedPayment.filter(
            id=row.id, status=UnmatchedPaymentStatus.open, refund_attempts=row.refund_attempts).using_db(conn).update(
            status=UnmatchedPaymentStatus.refunding, refund_attempts=attempt, refund_no=refund_no,
            refund_failure="", wechat_refund_id=None, resolved_by=operator_id,
            resolution_note=note or f"原路退款（第 {attempt} 次）", refund_requested_at=utcnow())
        if not moved:
            _found_and_moved(await UnmatchedPayment.get(id=row.id).using_db(conn), 0)
        await outbox.enqueue(OutboxKind.unmatched_refund, f"unmatched_refund:{refund_no}", {
            "payment_id": row.id, "refund_no": refund_no, "transaction_id": row.transaction_id,
            "amount_fen": row.amount_fen}, conn)
    log.warning("unmatched payment %s (transaction %s, %s fen): refund %s requested by operator %s",
                row.id, row.transaction_id, row.amount_fen, refund_no, operator_id)
    outbox.kick(rt)
    return to_dict(await UnmatchedPayment.get(id=row.id))


async def deliver_refund(rt: Runtime, payload: dict[str, Any]) -> None:
    """Outbox handler for kind "unmatched_refund": ask WeChat Pay to refund the transaction.
    The same out_refund_no on every retry: WeChat returns the same refund, never a second one.
    A refusal a retry cannot change ends the attempt (the payment is open again, with why)."""
    refund_no = payload["refund_no"]
    row = await UnmatchedPayment.get_or_none(id=int(payload["payment_id"]))
    if row is None or row.status != UnmatchedPaymentStatus.refunding or row.refund_no != refund_no:
        return  # finished meanwhile (a notify or the poll got there first)
    try:
        await rt.wechat.pay.refund(
            None, refund_no, int(payload["amount_fen"]), int(payload["amount_fen"]), REFUND_REASON,
            rt.settings.base_url() + "/api/v1/pay/refund-notify", transaction_id=payload["transaction_id"])
    except UpstreamError as exc:
        code = exc.details.get("wechat_code")
        if code not in _FINAL_REFUSALS:
            raise  # network, SYSTEM_ERROR, NOT_ENOUGH (merchant balance): the outbox retries
        reason = f"微信支付拒绝退款：{exc.details.get('wechat_message') or code}"
        await _attempt_failed(refund_no, reason)
        raise outbox.PermanentDeliveryError(f"{code}: {exc.details.get('wechat_message', '')}") from None


async def on_delivery_failed(payload: dict[str, Any], error: str, errcode: int | None) -> None:
    """The outbox gave up on the call (attempts exhausted): the attempt ends, open again. Its
    out_refund_no stays known: should WeChat still finish it, its notify marks it refunded."""
    await _attempt_failed(payload["refund_no"], f"退款请求未能送达微信支付：{error}"[:200])


async def _attempt_failed(refund_no: str, reason: str) -> bool:
    moved = await UnmatchedPayment.filter(refund_no=refund_no, status=UnmatchedPaymentStatus.refunding).update(
        status=UnmatchedPaymentStatus.open, refund_failure=reason[:200])
    if moved:
        log.error("refund %s of an unmatched payment failed: %s", refund_no, reason)
    return bool(moved)


async def apply_refund_result(out_refund_no: str, status: str, refund_id: str | None) -> str:
    """A verified refund notify (or the poll's answer) for one of our ``UP…`` refund numbers:
    "succeeded", "failed", "duplicate" or "ignored". SUCCESS marks the payment refunded from
    refunding, or from open (a late result of an attempt given up on): the money is back
    either way. ABNORMAL / CLOSED end the current attempt (open again, with why)."""
    match = _REFUND_NO.fullmatch(out_refund_no)
    if match is None:
        return "ignored"
    payment_id = int(match.group(1))
    if status == "SUCCESS":
        moved = await UnmatchedPayment.filter(
            id=payment_id, status__in=(UnmatchedPaymentStatus.refunding, UnmatchedPaymentStatus.open)).update(
            status=UnmatchedPaymentStatus.refunded, refund_no=out_refund_no, wechat_refund_id=refund_id,
            refund_failure="", resolved_at=utcnow())
        if moved:
            log.warning("unmatched payment %s refunded (%s)", payment_id, out_refund_no)
            return "succeeded"
        return "duplicate" if await UnmatchedPayment.exists(id=payment_id) else "ignored"
    if status in ("ABNORMAL", "CLOSED"):
        reason = {"ABNORMAL": "退款异常（用户账户异常），请在商户平台处理", "CLOSED": "退款已关闭"}[status]
        return "failed" if await _attempt_failed(out_refund_no, reason) else "duplicate"
    return "ignored"  # PROCESSING: the result comes later


async def poll_refunds(rt: Runtime, now: datetime | None = None, older_than_seconds: int = 300,
                       limit: int = 100) -> int:
    """Job (with the order refunds' poll): ask WeChat Pay about refunds still ``refunding``
    after a while (the notify may be lost). Returns how many reached a result. A refund WeChat
    does not know was never delivered: left to the outbox, which retries or gives up."""
    cutoff = (now or utcnow()) - timedelta(seconds=older_than_seconds)
    done = 0
    for row in await UnmatchedPayment.filter(status=UnmatchedPaymentStatus.refunding,
                                             refund_requested_at__lte=cutoff).order_by("id").limit(limit):
        try:
            answer = await rt.wechat.pay.query_refund(row.refund_no)
        except UpstreamError as exc:
            log.warning("polling refund %s of an unmatched payment failed, next round: %s", row.refund_no, exc)
            continue
        status, refund_id = answer.get("status"), answer.get("refund_id")
        if not isinstance(status, str) or (refund_id is not None and (
                not isinstance(refund_id, str) or len(refund_id) > _REFUND_ID_MAX)):
            log.error("WeChat Pay answered a malformed refund %s: %r", row.refund_no, answer)
            continue
        if await apply_refund_result(row.refund_no, status, refund_id) in ("succeeded", "failed"):
            done += 1
    return done


_REFUND_ID_MAX = UnmatchedPayment._meta.fields_map["wechat_refund_id"].max_length
