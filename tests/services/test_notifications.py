"""Buyers hear about their order by subscribe message: shipped, refund finished. Written to
the outbox with the status change, delivered to WeChat (the sandbox) after commit."""

from __future__ import annotations

from huituan.models.user import User
from huituan.services import outbox
from huituan.services.notifications.subscriptions import grant
from huituan.services.orders.refunds import approve_refund
from huituan.services.orders.shipping import ship_order
from tests.factories import auth, create_order, login, make_product, pay_order


async def _sent(client) -> list[dict]:
    await outbox.wait_idle()
    return (await (await client.get("/sandbox/outbox")).json())["subscribe_messages"]


async def _paid_order(client, price_fen: int = 2590):
    token, user = await login(client, "notify-buyer")
    for tid in ("sandbox-tpl-order-shipped", "sandbox-tpl-refund-result", "TPL-SHIPPED-FROM-CONSOLE"):
        await grant(user["id"], tid)  # the buyer accepted these templates in the mini-program
    product = await make_product(title="赣南脐橙 5 斤装", skus=[{"price_fen": price_fen, "stock": 10}])
    order = await create_order(client, token, [(product.sku_list[0], 1)])
    await pay_order(client, token, order["id"])
    return token, user, order


async def test_shipping_sends_the_buyer_a_subscribe_message(client):
    token, user, order = await _paid_order(client)
    await ship_order(order["id"], "顺丰速运", "SF1234567890")
    [message] = await _sent(client)
    assert message["template_id"] == "sandbox-tpl-order-shipped"
    assert message["page"] == f"pages/order/detail?id={order['id']}"
    assert message["data"] == {
        "character_string1": {"value": order["order_no"]},
        "thing2": {"value": "赣南脐橙 5 斤装"},
        "thing3": {"value": "顺丰速运"},
        "character_string4": {"value": "SF1234567890"},
    }
    assert message["touser"] == (await User.get(id=user["id"])).openid


async def test_refund_result_is_sent_once_even_when_the_notify_repeats(client, rt):
    token, user, order = await _paid_order(client, price_fen=2590)
    resp = await client.post(f"/api/v1/orders/{order['id']}/refunds", headers=auth(token), json={"reason": "不想要了"})
    refund = await resp.json()
    assert resp.status == 201, refund
    await approve_refund(rt, refund["id"], operator_id=1)
    await outbox.wait_idle()
    for _ in range(2):  # WeChat retries the notify
        resp = await client.post(f"/sandbox/pay/refunds/{refund['refund_no']}/complete", json={"status": "SUCCESS"})
        assert resp.status == 200
    messages = [m for m in await _sent(client) if m["template_id"] == "sandbox-tpl-refund-result"]
    assert len(messages) == 1
    assert messages[0]["data"]["amount2"] == {"value": "25.90元"}
    assert messages[0]["data"]["phrase3"] == {"value": "退款成功"}


async def test_configured_template_id_is_used(client, rt):
    rt.settings.wechat_template_order_shipped = "TPL-SHIPPED-FROM-CONSOLE"
    _, _, order = await _paid_order(client)
    await ship_order(order["id"], "中通快递", "ZT001")
    [message] = await _sent(client)
    assert message["template_id"] == "TPL-SHIPPED-FROM-CONSOLE"


async def test_pickup_order_ready_message_names_the_pickup_point(client):
    from huituan.services.leaders import create_leader
    from huituan.services.orders.shipping import mark_ready_for_pickup
    from huituan.services.pickup_points import create_pickup_point
    from tests.factories import make_user

    leader_user = await make_user()
    leader = await create_leader(leader_user.id, "王团长", "13900000000")
    point = await create_pickup_point(leader["id"], {"name": "阳光花园 3 栋门岗", "province": "浙江省",
                                                     "city": "杭州市", "address": "文一路 100 号"})
    token, buyer = await login(client, "pickup-buyer")
    await grant(buyer["id"], "sandbox-tpl-order-ready")
    product = await make_product(title="农家土鸡蛋 30 枚", skus=[{"price_fen": 3600, "stock": 5}])
    order = await create_order(client, token, [(product.sku_list[0], 2)], delivery_mode="pickup",
                               pickup_point_id=point["id"])
    assert order["pickup_point_id"] == point["id"] and order["shipping_fen"] == 0
    await pay_order(client, token, order["id"])
    assert await mark_ready_for_pickup(order["id"]) is True
    assert await mark_ready_for_pickup(order["id"]) is False  # a repeated announcement changes nothing
    [message] = [m for m in await _sent(client) if m["template_id"] == "sandbox-tpl-order-ready"]
    assert message["data"]["thing3"] == {"value": "阳光花园 3 栋门岗"}
    assert message["data"]["thing2"] == {"value": "农家土鸡蛋 30 枚"}
