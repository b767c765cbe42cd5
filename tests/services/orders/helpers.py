"""Shared givens for the order service tests."""

from __future__ import annotations

import uuid
from typing import Any

from huituan.models.order import Order, OrderStatus
from huituan.services.orders.create import create_order
from tests.factories import make_address, make_product, make_user


async def given_order(settings, *, user=None, skus=None, quantity: int = 1, product=None, **kw: Any):
    """An unpaid express order (user, product, order_dict)."""
    user = user or await make_user()
    product = product or await make_product(skus=skus or [{"price_fen": 1000, "stock": 10}])
    address = await make_address(user)
    items = kw.pop("items", None) or [{"sku_id": product.sku_list[0].id, "quantity": quantity}]
    order, created = await create_order(settings, user.id, uuid.uuid4().hex, items=items, delivery_mode="express",
                                        address_id=address.id, **kw)
    assert created
    return user, product, order


def pay_resource(order: dict | Order, *, transaction_id: str | None = None, total: int | None = None,
                 trade_state: str = "SUCCESS") -> dict[str, Any]:
    o = order if isinstance(order, dict) else {"order_no": order.order_no, "payable_fen": order.payable_fen}
    total = o["payable_fen"] if total is None else total
    return {
        "id": uuid.uuid4().hex, "event_type": "TRANSACTION.SUCCESS",
        "resource": {
            "out_trade_no": o["order_no"], "transaction_id": transaction_id or f"42{uuid.uuid4().int % 10**26:026d}",
            "trade_state": trade_state, "amount": {"total": total, "payer_total": total, "currency": "CNY"},
            "payer": {"openid": "o-test"},
        },
    }


def refund_resource(refund_no: str, status: str = "SUCCESS", amount: int = 0, total: int = 0) -> dict[str, Any]:
    return {
        "id": uuid.uuid4().hex, "event_type": f"REFUND.{status}",
        "resource": {"out_trade_no": "", "out_refund_no": refund_no, "refund_id": f"50{uuid.uuid4().int % 10**20}",
                     "refund_status": status, "amount": {"refund": amount, "total": total}},
    }


async def status_of(order_id: int) -> OrderStatus:
    return (await Order.get(id=order_id)).status
