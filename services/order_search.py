"""Operators' view of orders and refunds: search, detail, and the review/fulfilment actions
(which belong to services.orders; this module only delegates and describes the result)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from huituan.core.errors import InvalidState, NotFound
from huituan.core.runtime import Runtime
from huituan.models.order import Order, OrderItem, OrderStatus, Payment, Refund, RefundStatus


def order_dict(o: Order) -> dict[str, Any]:
    return {
        "id": o.id, "order_no": o.order_no, "user_id": o.user_id, "status": str(o.status),
        "delivery_mode": str(o.delivery_mode), "address": o.address, "pickup_point_id": o.pickup_point_id,
        "activity_type": str(o.activity_type), "activity_ref": o.activity_ref,
        "goods_fen": o.goods_fen, "discount_fen": o.discount_fen, "shipping_fen": o.shipping_fen,
        "payable_fen": o.payable_fen, "paid_fen": o.paid_fen, "refunded_fen": o.refunded_fen,
        "remark": o.remark, "transaction_id": o.transaction_id,
        "express_company": o.express_company, "express_no": o.express_no,
        "pay_deadline": o.pay_deadline, "paid_at": o.paid_at, "shipped_at": o.shipped_at,
        "completed_at": o.completed_at, "cancelled_at": o.cancelled_at, "cancel_reason": o.cancel_reason,
        "created_at": o.created_at,
    }


def item_dict(i: OrderItem) -> dict[str, Any]:
    return {
        "id": i.id, "product_id": i.product_id, "sku_id": i.sku_id, "title": i.title, "sku_name": i.sku_name,
        "image": i.image, "unit_price_fen": i.unit_price_fen, "quantity": i.quantity, "paid_fen": i.paid_fen,
        "refunded_quantity": i.refunded_quantity, "refunded_fen": i.refunded_fen,
    }


def payment_dict(p: Payment) -> dict[str, Any]:
    return {"id": p.id, "transaction_id": p.transaction_id, "amount_fen": p.amount_fen, "status": str(p.status),
            "created_at": p.created_at}


def refund_dict(r: Refund, order_no: str | None = None) -> dict[str, Any]:
    data = {
        "id": r.id, "refund_no": r.refund_no, "order_id": r.order_id, "user_id": r.user_id,
        "status": str(r.status), "amount_fen": r.amount_fen, "items": r.items or [], "whole_order": r.whole_order,
        "reason": r.reason, "automatic": r.automatic, "wechat_refund_id": r.wechat_refund_id,
        "reviewed_by": r.reviewed_by, "review_note": r.review_note, "created_at": r.created_at,
        "finished_at": r.finished_at,
    }
    if order_no is not None:
        data["order_no"] = order_no
    return data


async def search_orders(*, status: OrderStatus | None = None, order_no: str | None = None, user_id: int | None = None,
                        phone: str | None = None, created_from: datetime | None = None,
                        created_to: datetime | None = None, page: int = 1, page_size: int = 20) -> dict[str, Any]:
    """Newest first. ``phone`` matches the buyer's bound phone; ``created_to`` is exclusive."""
    qs = Order.all()
    if status is not None:
        qs = qs.filter(status=status)
    if order_no:
        qs = qs.filter(order_no=order_no.strip())
    if user_id is not None:
        qs = qs.filter(user_id=user_id)
    if phone:
        qs = qs.filter(user__phone=phone.strip())
    if created_from is not None:
        qs = qs.filter(created_at__gte=created_from)
    if created_to is not None:
        qs = qs.filter(created_at__lt=created_to)
    total = await qs.count()
    orders = await qs.order_by("-created_at", "-id").offset((page - 1) * page_size).limit(page_size)
    return {"items": [order_dict(o) for o in orders], "total": total, "page": page, "page_size": page_size}


async def get_order_detail(order_id: int) -> dict[str, Any]:
    order = await Order.get_or_none(id=order_id)
    if order is None:
        raise NotFound("订单不存在", code="order_not_found", field="order_id")
    data = order_dict(order)
    data["items"] = [item_dict(i) for i in await OrderItem.filter(order_id=order_id).order_by("id")]
    data["payments"] = [payment_dict(p) for p in await Payment.filter(order_id=order_id).order_by("id")]
    data["refunds"] = [refund_dict(r) for r in await Refund.filter(order_id=order_id).order_by("id")]
    return data


async def ship(order_id: int, express_company: str, express_no: str) -> dict[str, Any]:
    """paid -> shipped, by services.orders.lifecycle.ship_order; returns the order detail."""
    from huituan.services.orders.lifecycle import ship_order

    await ship_order(order_id, express_company, express_no)
    return await get_order_detail(order_id)


async def mark_ready(order_id: int) -> dict[str, Any]:
    """paid -> ready_for_pickup, by services.orders.lifecycle.mark_ready_for_pickup."""
    from huituan.services.orders.lifecycle import mark_ready_for_pickup

    if not await mark_ready_for_pickup(order_id):
        detail = await get_order_detail(order_id)  # NotFound when there is no such order
        if detail["delivery_mode"] != "pickup":
            raise InvalidState("快递订单不能标记为待自提", code="order_not_pickup")
        raise InvalidState(f"订单当前状态（{detail['status']}）不能标记为待自提", code="order_not_ready",
                           status=detail["status"])
    return await get_order_detail(order_id)


async def list_refunds(*, status: RefundStatus | None = None, page: int = 1, page_size: int = 20) -> dict[str, Any]:
    qs = Refund.all()
    if status is not None:
        qs = qs.filter(status=status)
    total = await qs.count()
    refunds = await qs.order_by("-id").offset((page - 1) * page_size).limit(page_size).select_related("order")
    return {"items": [refund_dict(r, r.order.order_no) for r in refunds], "total": total, "page": page,
            "page_size": page_size}


async def _refund_detail(refund_id: int) -> dict[str, Any]:
    refund = await Refund.get_or_none(id=refund_id).select_related("order")
    if refund is None:
        raise NotFound("退款申请不存在", code="refund_not_found", field="refund_id")
    return refund_dict(refund, refund.order.order_no)


async def approve(rt: Runtime, refund_id: int, operator_id: int, note: str = "") -> dict[str, Any]:
    """requested -> processing, by services.orders.refunds.approve_refund."""
    from huituan.services.orders.refunds import approve_refund

    await approve_refund(rt, refund_id, operator_id, note)
    return await _refund_detail(refund_id)


async def reject(rt: Runtime, refund_id: int, operator_id: int, note: str) -> dict[str, Any]:
    """requested -> rejected, by services.orders.refunds.reject_refund."""
    from huituan.services.orders.refunds import reject_refund

    await reject_refund(rt, refund_id, operator_id, note)
    return await _refund_detail(refund_id)
