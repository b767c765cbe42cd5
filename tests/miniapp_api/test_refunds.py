from huituan.models.order import Order, OrderStatus, Refund, RefundStatus
from huituan.services.orders import lifecycle
from huituan.services.orders.refunds import approve_refund, reject_refund
from tests.factories import auth, create_order, make_product, make_user, pay_order, token_for


async def given_paid_order(client, quantity=2, price_fen=1000):
    user = await make_user()
    token = token_for(user)
    p = await make_product(skus=[{"price_fen": price_fen, "stock": 10}])
    order = await create_order(client, token, [(p.sku_list[0], quantity)])
    await pay_order(client, token, order["id"])
    return token, order


async def deliver(rt):
    from huituan.services import outbox

    await outbox.wait_idle()
    await outbox.deliver_pending(rt, 100)


async def sandbox_refund(client, refund_no):
    resp = await client.get("/sandbox/pay/state")
    return (await resp.json())["refunds"].get(refund_no)


async def test_partial_refund_approved_submitted_and_finished_by_notify(client, rt):
    token, order = await given_paid_order(client, quantity=2)
    item = order["items"][0]
    resp = await client.post(f"/api/v1/orders/{order['id']}/refunds", headers=auth(token),
                             json={"items": [{"item_id": item["id"], "quantity": 1}], "reason": "少了一件"})
    refund = await resp.json()
    assert resp.status == 201, refund
    assert refund["amount_fen"] == 1000 and refund["status"] == "requested"
    resp = await client.post(f"/api/v1/orders/{order['id']}/refunds", headers=auth(token), json={"reason": "again"})
    assert resp.status == 409
    await approve_refund(rt, refund["id"], operator_id=1, note="同意")
    await deliver(rt)
    sent = await sandbox_refund(client, refund["refund_no"])
    assert sent is not None and sent["refund"] == 1000
    resp = await client.post(f"/sandbox/pay/refunds/{refund['refund_no']}/complete", json={})
    assert (await resp.json())["notify_status"] == 200
    o = await Order.get(id=order["id"])
    assert o.status == OrderStatus.paid and o.refunded_fen == 1000
    resp = await client.get(f"/api/v1/orders/{order['id']}/refunds", headers=auth(token))
    assert [r["status"] for r in (await resp.json())["items"]] == ["succeeded"]


async def test_rejected_refund_restores_the_order(client, rt):
    token, order = await given_paid_order(client)
    resp = await client.post(f"/api/v1/orders/{order['id']}/refunds", headers=auth(token), json={"reason": "不要了"})
    refund = await resp.json()
    assert refund["whole_order"] and refund["amount_fen"] == order["payable_fen"]
    await reject_refund(rt, refund["id"], operator_id=1, note="已发货")
    o = await Order.get(id=order["id"])
    assert o.status == OrderStatus.paid and (await Refund.get(id=refund["id"])).status == RefundStatus.rejected


async def test_refund_input_errors(client):
    token, order = await given_paid_order(client)
    cases = [({}, "reason"), ({"reason": "x", "items": [{"item_id": order["items"][0]["id"], "quantity": 0}]},
                             "items.0.quantity"),
             ({"reason": "x", "items": [{"item_id": order["items"][0]["id"], "quantity": 5}]}, "items.0.quantity"),
             ({"reason": "x", "items": [{"item_id": 999999, "quantity": 1}]}, "items.0.item_id")]
    for body, field in cases:
        resp = await client.post(f"/api/v1/orders/{order['id']}/refunds", headers=auth(token), json=body)
        data = await resp.json()
        assert resp.status in (404, 422) and data["details"]["field"] == field, (body, data)


async def test_payment_for_a_cancelled_order_is_refunded_automatically(client, rt):
    user = await make_user()
    token = token_for(user)
    p = await make_product(skus=[{"price_fen": 1500, "stock": 10}])
    order = await create_order(client, token, [(p.sku_list[0], 1)])
    resp = await client.post(f"/api/v1/orders/{order['id']}/pay", headers=auth(token))
    prepay = (await resp.json())["payment"]["package"].split("=", 1)[1]
    # Cancelled without reaching WeChat Pay (its close call failed): the payment still lands.
    await lifecycle.cancel_order(user.id, order["id"])
    resp = await client.post(f"/sandbox/pay/{prepay}/complete", json={})
    assert (await resp.json())["notify_status"] == 200
    refund = await Refund.get(order_id=order["id"])
    assert refund.automatic and refund.amount_fen == 1500
    await deliver(rt)
    assert (await sandbox_refund(client, refund.refund_no))["refund"] == 1500
    await client.post(f"/sandbox/pay/refunds/{refund.refund_no}/complete", json={})
    assert (await Refund.get(id=refund.id)).status == RefundStatus.succeeded
    assert (await Order.get(id=order["id"])).status == OrderStatus.cancelled
