"""小程序发货信息管理 through the sandbox, in both delivery modes: paid -> shipped uploads the
express company and tracking number, paid -> ready_for_pickup uploads a self-pickup; confirming
receipt tells WeChat; a temporary WeChat error is retried, a refused upload fails at once, and
operators see each state in the order detail."""

from __future__ import annotations

from huituan.core.clock import utcnow
from huituan.models.outbox import OutboxMessage, OutboxStatus
from huituan.services import outbox
from huituan.services.leaders import create_leader
from huituan.services.pickup_points import create_pickup_point
from tests.factories import auth, create_order, make_product, make_user, pay_order, token_for


async def deliver(rt) -> None:
    await outbox.wait_idle()
    await outbox.deliver_pending(rt)


async def due_now() -> None:
    """Skip the backoff wait: what the clock would do after the retry delay."""
    await OutboxMessage.filter(status=OutboxStatus.pending).update(next_attempt_at=utcnow())


async def sandbox_shipping(client) -> dict:
    return await (await client.get("/sandbox/wechat/shipping")).json()


async def detail(client, admin, order_id) -> dict:
    resp = await client.get(f"/api/admin/v1/orders/{order_id}", headers=admin)
    data = await resp.json()
    assert resp.status == 200, data
    return data


async def paid_order(client, *, delivery_mode="express", pickup_point_id=None) -> tuple[str, dict, str]:
    user = await make_user()
    token = token_for(user)
    product = await make_product(title="烟台红富士苹果", skus=[{"price_fen": 2990, "stock": 10}])
    order = await create_order(client, token, [(product.sku_list[0], 2)], delivery_mode=delivery_mode,
                               pickup_point_id=pickup_point_id)
    paid = await pay_order(client, token, order["id"])
    return token, order, paid["transaction_id"]


async def test_express_upload_is_retried_then_confirm_receive_is_sent(client, admin, rt):
    token, order, transaction_id = await paid_order(client)
    before = await detail(client, admin, order["id"])
    assert before["wechat_shipping"] == {"upload": None, "confirm_receive": None}

    # WeChat is busy for the first upload.
    resp = await client.post("/sandbox/wechat/shipping/fail-next", json={"api": "upload_shipping_info", "errcode": -1})
    assert resp.status == 200
    resp = await client.post(f"/api/admin/v1/orders/{order['id']}/ship", headers=admin,
                             json={"express_company": "顺丰", "express_no": "SF1234567890"})
    assert resp.status == 200, await resp.text()
    await deliver(rt)
    state = (await detail(client, admin, order["id"]))["wechat_shipping"]["upload"]
    assert state["status"] == "pending" and state["attempts"] == 1 and "-1" in state["last_error"], state
    assert transaction_id not in await sandbox_shipping(client)

    await due_now()
    await deliver(rt)
    state = (await detail(client, admin, order["id"]))["wechat_shipping"]["upload"]
    assert state["status"] == "sent" and state["attempts"] == 2 and state["last_error"] == "", state
    uploaded = (await sandbox_shipping(client))[transaction_id]
    assert len(uploaded["uploads"]) == 1
    sent = uploaded["uploads"][0]
    assert sent["logistics_type"] == 1 and sent["delivery_mode"] == 1
    line = sent["shipping_list"][0]
    assert line["express_company"] == "SF" and line["tracking_no"] == "SF1234567890"
    assert line["item_desc"] == "烟台红富士苹果×2" and line["contact"]["receiver_contact"] == "138****0000"

    resp = await client.post(f"/api/v1/orders/{order['id']}/confirm", headers=auth(token))
    assert resp.status == 200, await resp.text()
    await deliver(rt)
    shipping = (await detail(client, admin, order["id"]))["wechat_shipping"]
    assert shipping["confirm_receive"]["status"] == "sent"
    assert (await sandbox_shipping(client))[transaction_id]["state"] == "confirm_reminded"


async def test_pickup_upload_is_self_pickup_and_an_unknown_company_fails_at_once(client, admin, rt):
    leader = await create_leader((await make_user()).id, "王团长", "13900000000")
    point = await create_pickup_point(leader["id"], {"name": "幸福里自提点", "province": "浙江省", "city": "杭州市",
                                                     "address": "文三路 100 号"})
    token, order, transaction_id = await paid_order(client, delivery_mode="pickup", pickup_point_id=point["id"])
    resp = await client.post(f"/api/admin/v1/orders/{order['id']}/ready-for-pickup", headers=admin)
    assert resp.status == 200, await resp.text()
    await deliver(rt)
    sent = (await sandbox_shipping(client))[transaction_id]["uploads"][0]
    assert sent["logistics_type"] == 4 and "tracking_no" not in sent["shipping_list"][0]
    assert (await detail(client, admin, order["id"]))["wechat_shipping"]["upload"]["status"] == "sent"
    resp = await client.post(f"/api/v1/orders/{order['id']}/confirm", headers=auth(token))  # picked up
    assert resp.status == 200
    await deliver(rt)
    assert (await sandbox_shipping(client))[transaction_id]["confirm_receive"]

    # An express company WeChat does not know: refused content is not retried for hours.
    _, other, other_tx = await paid_order(client)
    resp = await client.post(f"/api/admin/v1/orders/{other['id']}/ship", headers=admin,
                             json={"express_company": "不存在快递", "express_no": "X1"})
    assert resp.status == 200
    await deliver(rt)
    state = (await detail(client, admin, other["id"]))["wechat_shipping"]["upload"]
    assert state["status"] == "failed" and state["attempts"] == 1 and "10060025" in state["last_error"], state
    assert other_tx not in await sandbox_shipping(client)
