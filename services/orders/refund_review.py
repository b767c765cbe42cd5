"""Operators' refund review: the queue, one refund, approve and reject (the transitions are
``services.orders.refunds``; this returns what the operator sees afterwards)."""

from __future__ import annotations

from typing import Any

from huituan.core.errors import NotFound
from huituan.core.runtime import Runtime
from huituan.models.order import Refund, RefundStatus
from huituan.services.orders import refunds
from huituan.services.orders.serialize import refund_to_dict


async def list_refunds(*, status: RefundStatus | None = None, automatic: bool | None = None, page: int = 1,
                       page_size: int = 20) -> dict[str, Any]:
    """The review queue, or with ``automatic=True`` the payments given back automatically
    (amount mismatch, overpayment, payment after cancel, duplicate payment)."""
    qs = Refund.all()
    if status is not None:
        qs = qs.filter(status=status)
    if automatic is not None:
        qs = qs.filter(automatic=automatic)
    total = await qs.count()
    rows = await qs.order_by("-id").offset((page - 1) * page_size).limit(page_size).select_related("order")
    return {"items": [refund_to_dict(r, admin=True, order_no=r.order.order_no) for r in rows], "total": total,
            "page": page, "page_size": page_size}


async def refund_detail(refund_id: int) -> dict[str, Any]:
    refund = await Refund.get_or_none(id=refund_id).select_related("order")
    if refund is None:
        raise NotFound("退款申请不存在", code="refund_not_found", field="refund_id")
    return refund_to_dict(refund, admin=True, order_no=refund.order.order_no)


async def approve(rt: Runtime, refund_id: int, operator_id: int, note: str = "") -> dict[str, Any]:
    """requested -> processing, by services.orders.refunds.approve_refund."""
    await refunds.approve_refund(rt, refund_id, operator_id, note)
    return await refund_detail(refund_id)


async def reject(rt: Runtime, refund_id: int, operator_id: int, note: str) -> dict[str, Any]:
    """requested -> rejected, by services.orders.refunds.reject_refund."""
    await refunds.reject_refund(rt, refund_id, operator_id, note)
    return await refund_detail(refund_id)
