import asyncio
import time
from datetime import UTC

from huituan.core.sandbox.notify import build_signed_notify
from huituan.models.order import Order, OrderStatus, Payment, PaymentStatus
from tests.factories import auth, create_order, make_product, make_user, pay_order, prepay_id_of, token_for


async def given_unpaid_order(client, price_fen=1200):
    user = await make_user()
    token = token_for(user)
    p = await make_product(skus=[{"price_fen": price_fen, "stock": 10}])
    order = await create_order(client, token, [(p.sku_list[0], 1)])
    return user, token, order


def resource(order, transaction_id="4200000000000000000000000001", total=None):
    total = order["payable_fen"] if total is None else total
    return {"out_trade_no": order["order_no"], "transaction_id": transaction_id, "trade_state": "SUCCESS",
            "trade_state_desc": "支付成功", "amount": {"total": total, "payer_total": total, "currency": "CNY"},
            "payer": {"openid": "o-x"}, "mchid": "1900000000"}


async def post_notify(client, headers, body):
    resp = await client.post("/api/v1/pay/notify", headers=headers, data=body)
    return resp.status, await resp.json()


async def test_pay_end_to_end_through_the_sandbox(client):
    _, token, order = await given_unpaid_order(client)
    resp = await client.post(f"/api/v1/orders/{order['id']}/pay", headers=auth(token))
    params = await resp.json()
    assert resp.status == 200, params
    assert {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"} <= set(params["payment"])
    resp = await client.post(f"/api/v1/orders/{order['id']}/pay", headers=auth(token))
    again = await resp.json()
    assert prepay_id_of(again["payment"]) == prepay_id_of(params["payment"])  # prepay reused
    result = await pay_order(client, token, order["id"])
    assert result["notify_status"] == 200
    o = await Order.get(id=order["id"])
    assert o.status == OrderStatus.paid and o.paid_fen == order["payable_fen"]
    assert o.transaction_id == result["transaction_id"]
    resp = await client.post(f"/api/v1/orders/{order['id']}/pay", headers=auth(token))
    assert resp.status == 409
    resp = await client.post(f"/api/v1/orders/{order['id']}/cancel", headers=auth(token))
    assert resp.status == 409


async def test_100_concurrent_copies_of_one_notify(client):
    """WeChat retries: 100 copies of one signed notify at once -> one transition, one Payment."""
    _, _, order = await given_unpaid_order(client)
    headers, body = build_signed_notify(resource(order), "TRANSACTION.SUCCESS")
    results = await asyncio.gather(*[post_notify(client, headers, body) for _ in range(100)])
    assert all(status == 200 and ack == {"code": "SUCCESS"} for status, ack in results)
    assert await Payment.all().count() == 1
    o = await Order.get(id=order["id"])
    assert o.status == OrderStatus.paid and o.paid_fen == order["payable_fen"]


async def test_forged_stale_and_foreign_notifies_change_nothing(client):
    _, _, order = await given_unpaid_order(client)
    forged = [
        build_signed_notify(resource(order), "TRANSACTION.SUCCESS", tamper=True),
        build_signed_notify(resource(order), "TRANSACTION.SUCCESS", timestamp=int(time.time()) - 3600),
        build_signed_notify(resource(order), "TRANSACTION.SUCCESS", serial="PUB_KEY_ID_SOMEONE_ELSE"),
        ({"Content-Type": "application/json"}, build_signed_notify(resource(order), "TRANSACTION.SUCCESS")[1]),
    ]
    for headers, body in forged:
        status, ack = await post_notify(client, headers, body)
        assert status == 401 and ack["code"] == "FAIL" and ack["message"] == "签名校验失败"
    assert await Payment.all().count() == 0
    assert (await Order.get(id=order["id"])).status == OrderStatus.unpaid


async def test_wrong_amount_is_recorded_and_not_paid(client):
    _, token, order = await given_unpaid_order(client)
    result = await pay_order(client, token, order["id"], amount_fen=1)
    assert result["notify_status"] == 200
    o = await Order.get(id=order["id"])
    assert o.status == OrderStatus.unpaid and o.paid_fen == 0
    p = await Payment.get(order_id=o.id)
    assert p.status == PaymentStatus.amount_mismatch and p.amount_fen == 1


async def test_pay_after_deadline_is_409(client):
    _, token, order = await given_unpaid_order(client)
    await Order.filter(id=order["id"]).update(pay_deadline=await _past())
    resp = await client.post(f"/api/v1/orders/{order['id']}/pay", headers=auth(token))
    body = await resp.json()
    assert resp.status == 409 and body["error"] == "order_pay_expired"


async def _past():
    from datetime import datetime, timedelta

    return datetime.now(UTC) - timedelta(seconds=1)
