import asyncio

import pytest

from huituan.models.order import Order, OrderStatus, Payment, PaymentStatus, Refund, RefundStatus
from huituan.services import events
from huituan.services.orders.lifecycle import cancel_order
from huituan.services.orders.payments import handle_pay_notify
from tests.services.orders.helpers import given_order, pay_resource


@pytest.fixture
def paid_events():
    seen = []

    async def record(order_id, conn):
        seen.append(order_id)

    events.subscribe(events.ORDER_PAID, record)
    yield seen
    events._subscribers[events.ORDER_PAID].remove(record)


async def test_matching_amount_marks_paid_once(rt, settings, paid_events):
    _, _, order = await given_order(settings)
    notify = pay_resource(order, transaction_id="T1")
    assert await handle_pay_notify(rt, notify) == "paid"
    assert await handle_pay_notify(rt, notify) == "duplicate"
    o = await Order.get(id=order["id"])
    assert o.status == OrderStatus.paid and o.paid_fen == order["payable_fen"] and o.transaction_id == "T1"
    assert await Payment.filter(order_id=o.id).count() == 1
    assert paid_events == [o.id]


async def test_wrong_amount_is_recorded_and_order_stays_unpaid(rt, settings, paid_events):
    _, _, order = await given_order(settings)
    assert await handle_pay_notify(rt, pay_resource(order, transaction_id="T2", total=1)) == "amount_mismatch"
    o = await Order.get(id=order["id"])
    assert o.status == OrderStatus.unpaid and o.paid_fen == 0
    p = await Payment.get(transaction_id="T2")
    assert p.status == PaymentStatus.amount_mismatch and p.amount_fen == 1
    assert paid_events == []


async def test_trade_not_success_is_ignored(rt, settings):
    _, _, order = await given_order(settings)
    assert await handle_pay_notify(rt, pay_resource(order, trade_state="NOTPAY")) == "ignored"
    assert await Payment.all().count() == 0


async def test_100_concurrent_copies_one_transition_one_payment(rt, settings, paid_events):
    _, _, order = await given_order(settings)
    notify = pay_resource(order, transaction_id="T-CONCURRENT")
    results = await asyncio.gather(*[handle_pay_notify(rt, notify) for _ in range(100)])
    assert results.count("paid") == 1
    assert set(results) <= {"paid", "duplicate"}
    assert await Payment.all().count() == 1
    assert (await Order.get(id=order["id"])).status == OrderStatus.paid
    assert paid_events == [order["id"]]


async def test_payment_after_cancel_is_refunded_automatically(rt, settings):
    user, _, order = await given_order(settings)
    await cancel_order(user.id, order["id"])
    assert await handle_pay_notify(rt, pay_resource(order, transaction_id="T-LATE")) == "late"
    assert (await Order.get(id=order["id"])).status == OrderStatus.cancelled
    assert (await Payment.get(transaction_id="T-LATE")).status == PaymentStatus.late
    refund = await Refund.get(order_id=order["id"])
    assert refund.automatic and refund.whole_order and refund.amount_fen == order["payable_fen"]
    assert refund.status in (RefundStatus.processing, RefundStatus.succeeded)
    assert await handle_pay_notify(rt, pay_resource(order, transaction_id="T-LATE")) == "duplicate"
    assert await Refund.filter(order_id=order["id"]).count() == 1
