"""The one serializer of orders, their items, payments and refunds (plain dicts, ISO times).

The buyer's view and the operator's view are the same shape; ``admin=True`` adds the fields
only operators see (buyer id, WeChat transaction and refund ids, who reviewed a refund).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from huituan.models.order import Order, OrderItem, Payment, Refund


def iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def item_to_dict(i: OrderItem) -> dict[str, Any]:
    return {
        "id": i.id, "product_id": i.product_id, "sku_id": i.sku_id, "title": i.title,
        "sku_name": i.sku_name, "image": i.image, "unit_price_fen": i.unit_price_fen,
        "quantity": i.quantity, "paid_fen": i.paid_fen, "refunded_quantity": i.refunded_quantity,
        "refunded_fen": i.refunded_fen,
    }


def order_to_dict(o: Order, items: list[OrderItem] | None = None, *, admin: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": o.id, "order_no": o.order_no, "status": str(o.status),
        "delivery_mode": str(o.delivery_mode), "address": o.address,
        "pickup_point_id": o.pickup_point_id, "activity_type": str(o.activity_type),
        "goods_fen": o.goods_fen, "discount_fen": o.discount_fen, "shipping_fen": o.shipping_fen,
        "payable_fen": o.payable_fen, "paid_fen": o.paid_fen, "refunded_fen": o.refunded_fen,
        "remark": o.remark, "pay_deadline": iso(o.pay_deadline), "paid_at": iso(o.paid_at),
        "shipped_at": iso(o.shipped_at), "completed_at": iso(o.completed_at),
        "cancelled_at": iso(o.cancelled_at), "cancel_reason": o.cancel_reason,
        "express_company": o.express_company, "express_no": o.express_no,
        "created_at": iso(o.created_at),
    }
    if admin:
        data.update(user_id=o.user_id, activity_ref=o.activity_ref, transaction_id=o.transaction_id)
    if items is not None:
        data["items"] = [item_to_dict(i) for i in items]
    return data


def payment_to_dict(p: Payment) -> dict[str, Any]:
    return {"id": p.id, "transaction_id": p.transaction_id, "amount_fen": p.amount_fen, "status": str(p.status),
            "created_at": iso(p.created_at)}


def refund_to_dict(r: Refund, *, admin: bool = False, order_no: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": r.id, "refund_no": r.refund_no, "order_id": r.order_id, "status": str(r.status),
        "amount_fen": r.amount_fen, "items": list(r.items or []), "whole_order": r.whole_order,
        "reason": r.reason, "automatic": r.automatic, "review_note": r.review_note,
        "created_at": iso(r.created_at), "finished_at": iso(r.finished_at),
    }
    if admin:
        data.update(user_id=r.user_id, wechat_refund_id=r.wechat_refund_id, reviewed_by=r.reviewed_by,
                    payment_transaction_id=r.payment_transaction_id)
    if order_no is not None:
        data["order_no"] = order_no
    return data
