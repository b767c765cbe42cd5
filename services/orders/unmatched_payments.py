"""Payments WeChat Pay confirmed for an out_trade_no that names no order of ours.

WeChat only pays orders we opened, so such a payment means data was lost or a bill was made
outside this service; either way money was taken from a buyer and no order keeps it. There is
no order to hang an automatic refund on (``Refund`` belongs to an order), so the payment is
recorded once per transaction id, logged at ERROR, and listed for operators
(``GET /api/admin/v1/unmatched-payments``) until one of them resolves it: refunded at the
merchant platform, or matched by hand. open -> resolved is a compare-and-set.
"""

from __future__ import annotations

import logging
from typing import Any

from huituan.core.clock import utcnow
from huituan.core.errors import Conflict, NotFound, ValidationFailed
from huituan.models.order import UnmatchedPayment, UnmatchedPaymentStatus

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
            "created_at": row.created_at, "resolved_at": row.resolved_at}


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
    if row is None:
        raise NotFound("未匹配支付不存在", code="unmatched_payment_not_found", field="payment_id")
    if not moved:
        raise Conflict("该笔支付已处理", code="unmatched_payment_resolved")
    return to_dict(row)
