import pytest

from huituan.core.errors import InvalidState, ValidationFailed
from huituan.models.order import Order, OrderItem, OrderStatus, Refund, RefundStatus
from huituan.services import events
from huituan.services.orders.payments import handle_pay_notify
from huituan.services.orders.refunds import handle_refund_notify, request_refund
from tests.factories import make_product
from tests.services.orders.helpers import given_order, pay_resource, refund_resource, status_of


async def given_paid_order(rt, settings, **kw):
    user, product, order = await given_order(settings, **kw)
    assert await handle_pay_notify(rt, pay_resource(order)) == "paid"
    return user, product, order


async def processing(refund: dict) -> None:
    # What approve_refund does to the refund row (its outbox part is covered end to end).
    await Refund.filter(id=refund["id"]).update(status=RefundStatus.processing)


async def test_item_refund_prorates_and_last_units_take_the_remainder(rt, make_settings):
    settings = make_settings(free_shipping_threshold_fen=0)
    p = await make_product(skus=[{"price_fen": 333, "stock": 10}])
    user, _, order = await given_paid_order(rt, settings, product=p, quantity=3)
    item = order["items"][0]
    assert item["paid_fen"] == 999
    r1 = await request_refund(user.id, order["id"], "坏了一个", [{"item_id": item["id"], "quantity": 1}])
    assert r1["amount_fen"] == 333 and r1["status"] == "requested" and not r1["whole_order"]
    assert await status_of(order["id"]) == OrderStatus.refunding
    with pytest.raises(InvalidState):  # one open refund per order
        await request_refund(user.id, order["id"], "再来", [{"item_id": item["id"], "quantity": 1}])
    await processing(r1)
    assert await handle_refund_notify(rt, refund_resource(r1["refund_no"])) == "succeeded"
    assert await handle_refund_notify(rt, refund_resource(r1["refund_no"])) == "duplicate"
    o = await Order.get(id=order["id"])
    assert o.status == OrderStatus.paid and o.refunded_fen == 333
    it = await OrderItem.get(id=item["id"])
    assert (it.refunded_quantity, it.refunded_fen) == (1, 333)
    with pytest.raises(ValidationFailed) as exc:
        await request_refund(user.id, order["id"], "太多", [{"item_id": item["id"], "quantity": 3}])
    assert exc.value.details["field"] == "items.0.quantity"
    r2 = await request_refund(user.id, order["id"], "剩下的", [{"item_id": item["id"], "quantity": 2}])
    assert r2["amount_fen"] == 666
    await processing(r2)
    await handle_refund_notify(rt, refund_resource(r2["refund_no"]))
    o = await Order.get(id=order["id"])
    assert o.status == OrderStatus.refunded and o.refunded_fen == o.paid_fen


async def test_whole_refund_of_completed_order_and_event(rt, settings):
    seen = []

    async def record(refund_id, order_id, conn):
        seen.append((refund_id, order_id))

    events.subscribe(events.REFUND_SUCCEEDED, record)
    try:
        user, _, order = await given_paid_order(rt, settings, quantity=2)
        await Order.filter(id=order["id"]).update(status=OrderStatus.completed)
        r = await request_refund(user.id, order["id"], "不想要了")
        assert r["whole_order"] and r["amount_fen"] == order["payable_fen"]
        await processing(r)
        await handle_refund_notify(rt, refund_resource(r["refund_no"]))
        o = await Order.get(id=order["id"])
        assert o.status == OrderStatus.refunded and o.refunded_fen == o.paid_fen
        assert seen == [(r["id"], order["id"])]
    finally:
        events._subscribers[events.REFUND_SUCCEEDED].remove(record)


async def test_partial_refund_of_completed_order_is_partly_refunded(rt, settings):
    user, _, order = await given_paid_order(rt, settings, quantity=2)
    await Order.filter(id=order["id"]).update(status=OrderStatus.completed)
    r = await request_refund(user.id, order["id"], "少一件", [{"item_id": order["items"][0]["id"], "quantity": 1}])
    await processing(r)
    await handle_refund_notify(rt, refund_resource(r["refund_no"]))
    assert await status_of(order["id"]) == OrderStatus.partly_refunded


async def test_failed_refund_restores_status(rt, settings):
    user, _, order = await given_paid_order(rt, settings)
    await Order.filter(id=order["id"]).update(status=OrderStatus.shipped)
    r = await request_refund(user.id, order["id"], "不要了")
    await processing(r)
    assert await handle_refund_notify(rt, refund_resource(r["refund_no"], "ABNORMAL")) == "failed"
    assert await handle_refund_notify(rt, refund_resource(r["refund_no"], "SUCCESS")) == "duplicate"
    o = await Order.get(id=order["id"])
    assert o.status == OrderStatus.shipped and o.refunded_fen == 0
    assert (await Refund.get(id=r["id"])).status == RefundStatus.failed


async def test_unpaid_order_cannot_be_refunded(rt, settings):
    user, _, order = await given_order(settings)
    with pytest.raises(InvalidState):
        await request_refund(user.id, order["id"], "x")
