"""The refund amount is decided on guarded state (PostgreSQL, real parallel connections).

A buyer's request reads the order, computes the amount and then compare-and-sets the status.
A partial refund that finishes in between leaves the status where it was (paid -> refunding ->
paid) but changes what is refundable: the request must lose, not submit the stale amount."""

from __future__ import annotations

import asyncio
import contextvars

import pytest
from tortoise.transactions import in_transaction

from huituan.core.errors import InvalidState
from huituan.models.order import Order, OrderStatus, Refund
from huituan.services.orders.payments import handle_pay_notify
from huituan.services.orders.refunds import request_refund
from tests.factories import make_product
from tests.races import wait_until_blocked
from tests.services.orders.helpers import given_order, pay_resource


@pytest.mark.postgres
async def test_a_refund_finishing_between_read_and_compare_and_set_makes_the_request_lose(rt, make_settings):
    settings = make_settings(free_shipping_threshold_fen=0)
    p = await make_product(skus=[{"price_fen": 500, "stock": 10}])
    user, _, order = await given_order(settings, product=p, quantity=2)
    assert await handle_pay_notify(rt, pay_resource(order)) == "paid"
    item = order["items"][0]

    outside = contextvars.copy_context()  # Tortoise keeps the transaction in a ContextVar
    async with in_transaction() as other:
        # Another refund of one unit is finishing: its transaction holds the order row.
        await other.execute_query('SELECT id FROM "order" WHERE id = $1 FOR UPDATE', [order["id"]])
        whole = asyncio.create_task(request_refund(user.id, order["id"], "全部退"), context=outside)
        await wait_until_blocked(whole)  # it has read the order and now waits on the row lock
        await other.execute_query(
            "UPDATE order_item SET refunded_quantity = 1, refunded_fen = 500 WHERE id = $1", [item["id"]])
        await other.execute_query('UPDATE "order" SET refunded_fen = 500 WHERE id = $1', [order["id"]])
    with pytest.raises(InvalidState):
        await whole  # computed 1000 from the state it read: refused, never stored
    assert await Refund.all().count() == 0
    o = await Order.get(id=order["id"])
    assert o.status == OrderStatus.paid and o.refunded_fen == 500
    again = await request_refund(user.id, order["id"], "全部退")
    assert again["amount_fen"] == 500  # decided on the current state
