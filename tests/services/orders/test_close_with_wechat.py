"""Unpaid orders close with WeChat Pay first: the close job (and a buyer's cancel) closes the
WeChat order, or finds and applies the payment made at the last second, before cancelling."""

from __future__ import annotations

from datetime import timedelta

from huituan.core.clock import utcnow
from huituan.models.catalog import Sku
from huituan.models.order import Order, OrderStatus, Payment, PaymentStatus, Refund
from huituan.services.orders.lifecycle import close_expired_orders
from tests.factories import auth, create_order, make_product, make_user, prepay_id_of, token_for


async def given_prepaid_order(client, price_fen=1500):
    user = await make_user()
    token = token_for(user)
    p = await make_product(skus=[{"price_fen": price_fen, "stock": 10}])
    order = await create_order(client, token, [(p.sku_list[0], 1)])
    resp = await client.post(f"/api/v1/orders/{order['id']}/pay", headers=auth(token))
    assert resp.status == 200
    return token, order, prepay_id_of((await resp.json())["payment"]), p.sku_list[0]


async def expire(order) -> None:
    await Order.filter(id=order["id"]).update(pay_deadline=utcnow() - timedelta(minutes=1))


async def sandbox_order(client, order_no):
    return (await (await client.get("/sandbox/pay/state")).json())["orders"][order_no]


async def test_a_last_second_payment_whose_notify_is_lost_is_applied_not_cancelled(client, rt):
    _, order, prepay, sku = await given_prepaid_order(client)
    resp = await client.post(f"/sandbox/pay/{prepay}/complete", json={"notify": False})
    assert (await resp.json())["notify_status"] is None  # WeChat took the money, we were not told
    await expire(order)
    assert await close_expired_orders(rt) == 0
    o = await Order.get(id=order["id"])
    assert o.status == OrderStatus.paid and o.paid_fen == 1500
    assert (await Payment.get(order_id=o.id)).status == PaymentStatus.succeeded
    assert await Refund.all().count() == 0  # not taken and then refunded
    assert (await Sku.get(id=sku.id)).stock == 9
    assert (await sandbox_order(client, order["order_no"]))["trade_state"] == "SUCCESS"


async def test_an_unpaid_expired_order_is_closed_at_wechat_before_it_is_cancelled(client, rt):
    _, order, prepay, sku = await given_prepaid_order(client)
    await expire(order)
    assert await close_expired_orders(rt) == 1
    assert (await Order.get(id=order["id"])).status == OrderStatus.cancelled
    assert (await Sku.get(id=sku.id)).stock == 10
    assert (await sandbox_order(client, order["order_no"]))["trade_state"] == "CLOSED"
    resp = await client.post(f"/sandbox/pay/{prepay}/complete", json={})
    assert resp.status == 409  # the buyer can no longer pay it
    assert await Payment.all().count() == 0


async def test_an_order_never_sent_to_wechat_is_cancelled_without_asking(client, rt):
    user = await make_user()
    p = await make_product(skus=[{"price_fen": 800, "stock": 3}])
    order = await create_order(client, token_for(user), [(p.sku_list[0], 1)])
    await expire(order)
    assert await close_expired_orders(rt) == 1
    assert (await Order.get(id=order["id"])).status == OrderStatus.cancelled
    assert order["order_no"] not in (await (await client.get("/sandbox/pay/state")).json())["orders"]


async def test_a_last_second_payment_of_another_amount_is_refunded_and_the_order_closes(client, rt):
    _, order, prepay, _ = await given_prepaid_order(client)
    await client.post(f"/sandbox/pay/{prepay}/complete", json={"notify": False, "amount_fen": 1499})
    await expire(order)
    assert await close_expired_orders(rt) == 1
    assert (await Order.get(id=order["id"])).status == OrderStatus.cancelled
    refund = await Refund.get(automatic=True)
    assert refund.amount_fen == 1499 and refund.payment_transaction_id


async def test_a_buyer_cancelling_an_order_paid_a_moment_ago_gets_the_paid_order(client, rt):
    token, order, prepay, _ = await given_prepaid_order(client)
    await client.post(f"/sandbox/pay/{prepay}/complete", json={"notify": False})
    resp = await client.post(f"/api/v1/orders/{order['id']}/cancel", headers=auth(token))
    body = await resp.json()
    assert resp.status == 409 and body["details"]["status"] == "paid", body
    assert await Refund.all().count() == 0


async def test_a_buyer_cancel_closes_the_wechat_order(client, rt):
    token, order, prepay, _ = await given_prepaid_order(client)
    resp = await client.post(f"/api/v1/orders/{order['id']}/cancel", headers=auth(token))
    assert resp.status == 200 and (await resp.json())["status"] == "cancelled"
    assert (await sandbox_order(client, order["order_no"]))["trade_state"] == "CLOSED"
