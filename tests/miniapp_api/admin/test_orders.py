import uuid
from datetime import UTC, datetime, timedelta

from huituan.models.order import Order, OrderStatus, Refund, RefundStatus
from huituan.models.user import Operator
from huituan.services.leaders import create_leader
from huituan.services.orders.create import create_order
from huituan.services.orders.refunds import request_refund
from huituan.services.pickup_points import create_pickup_point
from tests.factories import make_address, make_product, make_user


async def given_order(settings, user=None, *, paid=False, delivery_mode="express", **kw):
    user = user or await make_user()
    product = await make_product(skus=[{"price_fen": 1000, "stock": 10}])
    extra = {}
    if delivery_mode == "express":
        extra["address_id"] = (await make_address(user)).id
    else:
        leader_user = await make_user()
        leader = await create_leader(leader_user.id, "李团长", "13900000000")
        point = await create_pickup_point(leader["id"], {"name": "小区门口", "province": "浙江省", "city": "杭州市",
                                                         "address": "文三路 1 号"})
        extra["pickup_point_id"] = point["id"]
    order, _ = await create_order(settings, user.id, uuid.uuid4().hex, delivery_mode=delivery_mode,
                                  items=[{"sku_id": product.sku_list[0].id, "quantity": 1}], **extra, **kw)
    if paid:
        await Order.filter(id=order["id"]).update(status=OrderStatus.paid, paid_fen=order["payable_fen"],
                                                  paid_at=datetime.now(UTC))
    return user, order


async def test_search_filters(client, admin, settings):
    alice = await make_user(phone="13811112222")
    _, o1 = await given_order(settings, alice)
    _, o2 = await given_order(settings, alice, paid=True)
    _, o3 = await given_order(settings, paid=True)
    await Order.filter(id=o3["id"]).update(created_at=datetime.now(UTC) - timedelta(days=3))

    async def ids(**params):
        resp = await client.get("/api/admin/v1/orders", headers=admin, params=params)
        data = await resp.json()
        assert resp.status == 200, data
        return [o["id"] for o in data["items"]]

    assert sorted(await ids()) == sorted([o1["id"], o2["id"], o3["id"]])
    assert sorted(await ids(status="paid")) == sorted([o2["id"], o3["id"]])
    assert await ids(order_no=o1["order_no"]) == [o1["id"]]
    assert sorted(await ids(user_id=str(alice.id))) == sorted([o1["id"], o2["id"]])
    assert sorted(await ids(phone="13811112222")) == sorted([o1["id"], o2["id"]])
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert sorted(await ids(created_from=since)) == sorted([o1["id"], o2["id"]])
    assert await ids(created_to=since) == [o3["id"]]
    resp = await client.get("/api/admin/v1/orders", headers=admin, params={"status": "lost"})
    assert resp.status == 422 and (await resp.json())["details"]["field"] == "status"
    resp = await client.get("/api/admin/v1/orders", headers=admin, params={"created_from": "昨天"})
    assert resp.status == 422 and (await resp.json())["details"]["field"] == "created_from"


async def test_order_detail_has_items_payments_refunds(client, admin, settings):
    _, order = await given_order(settings)
    resp = await client.get(f"/api/admin/v1/orders/{order['id']}", headers=admin)
    data = await resp.json()
    assert resp.status == 200, data
    assert len(data["items"]) == 1 and data["payments"] == [] and data["refunds"] == []
    assert data["items"][0]["unit_price_fen"] == 1000
    resp = await client.get("/api/admin/v1/orders/999999", headers=admin)
    assert resp.status == 404


async def test_ship_paid_express_order(client, admin, settings):
    _, unpaid = await given_order(settings)
    resp = await client.post(f"/api/admin/v1/orders/{unpaid['id']}/ship", headers=admin,
                             json={"express_company": "顺丰", "express_no": "SF100"})
    assert resp.status == 409
    _, order = await given_order(settings, paid=True)
    resp = await client.post(f"/api/admin/v1/orders/{order['id']}/ship", headers=admin,
                             json={"express_company": "顺丰", "express_no": "SF100"})
    data = await resp.json()
    assert resp.status == 200, data
    assert data["status"] == "shipped" and data["express_no"] == "SF100"
    resp = await client.post(f"/api/admin/v1/orders/{order['id']}/ship", headers=admin, json={"express_company": "顺丰"})
    assert resp.status == 422 and (await resp.json())["details"]["field"] == "express_no"


async def test_ready_for_pickup(client, admin, settings):
    _, express = await given_order(settings, paid=True)
    resp = await client.post(f"/api/admin/v1/orders/{express['id']}/ready-for-pickup", headers=admin)
    assert resp.status == 409 and (await resp.json())["error"] == "order_not_pickup"
    _, order = await given_order(settings, paid=True, delivery_mode="pickup")
    resp = await client.post(f"/api/admin/v1/orders/{order['id']}/ready-for-pickup", headers=admin)
    data = await resp.json()
    assert resp.status == 200, data
    assert data["status"] == "ready_for_pickup"
    resp = await client.post(f"/api/admin/v1/orders/{order['id']}/ready-for-pickup", headers=admin)
    assert resp.status == 409 and (await resp.json())["error"] == "order_not_ready"
    resp = await client.post("/api/admin/v1/orders/999999/ready-for-pickup", headers=admin)
    assert resp.status == 404


async def test_refund_review_list_approve_reject(client, admin, settings):
    operator = await Operator.get(username="ops")
    user, o1 = await given_order(settings, paid=True)
    _, o2 = await given_order(settings, user, paid=True)
    r1 = await request_refund(user.id, o1["id"], "不想要了")
    r2 = await request_refund(user.id, o2["id"], "买错了")

    resp = await client.get("/api/admin/v1/refunds", headers=admin, params={"status": "requested"})
    data = await resp.json()
    assert resp.status == 200, data
    assert data["total"] == 2 and {r["order_no"] for r in data["items"]} == {o1["order_no"], o2["order_no"]}

    for body in ({}, {"note": "  "}, {"note": "\u3000"}):  # a blank reason was taken (attacker pass, session 7)
        resp = await client.post(f"/api/admin/v1/refunds/{r2['id']}/reject", headers=admin, json=body)
        assert resp.status == 422 and (await resp.json())["details"]["field"] == "note", body
    resp = await client.post(f"/api/admin/v1/refunds/{r2['id']}/reject", headers=admin, json={"note": "已发货"})
    data = await resp.json()
    assert resp.status == 200, data
    assert data["status"] == "rejected" and data["review_note"] == "已发货" and data["reviewed_by"] == operator.id
    assert (await Order.get(id=o2["id"])).status == OrderStatus.paid

    resp = await client.post(f"/api/admin/v1/refunds/{r1['id']}/approve", headers=admin, json={"note": "同意"})
    data = await resp.json()
    assert resp.status == 200, data
    assert data["status"] in ("processing", "succeeded") and data["reviewed_by"] == operator.id
    resp = await client.post(f"/api/admin/v1/refunds/{r1['id']}/approve", headers=admin, json={})
    assert resp.status == 409
    resp = await client.post("/api/admin/v1/refunds/999999/approve", headers=admin, json={})
    assert resp.status == 404
    assert await Refund.filter(status=RefundStatus.requested).count() == 0
    resp = await client.get(f"/api/admin/v1/orders/{o1['id']}", headers=admin)
    assert [r["id"] for r in (await resp.json())["refunds"]] == [r1["id"]]


async def test_search_keyword_and_china_day_filters_and_unknown_parameters(client, admin, settings):
    from huituan.core.clock import CHINA_TZ
    from huituan.models.order import OrderItem

    alice = await make_user(phone="13955556666")
    _, express = await given_order(settings, alice)
    await Order.filter(id=express["id"]).update(address={**express["address"], "receiver": "周小芳", "phone": "13722223333"})
    await OrderItem.filter(order_id=express["id"]).update(title="烟台红富士苹果")
    _, pickup = await given_order(settings, alice, delivery_mode="pickup")
    _, other = await given_order(settings)

    async def ids(**params):
        resp = await client.get("/api/admin/v1/orders", headers=admin, params=params)
        data = await resp.json()
        assert resp.status == 200, data
        return sorted(o["id"] for o in data["items"])

    assert await ids(keyword=express["order_no"][:8]) == sorted([express["id"], pickup["id"], other["id"]])
    assert await ids(keyword=express["order_no"]) == [express["id"]]
    assert await ids(keyword="红富士") == [express["id"]]
    assert await ids(keyword="小芳") == [express["id"]]
    assert await ids(keyword="1372222") == [express["id"]]
    assert await ids(keyword="13955556666") == sorted([express["id"], pickup["id"]])  # the buyer's phone
    assert await ids(keyword="100%") == []

    # A bare date is the China day: 23:30 on May 1st in Beijing is 15:30 UTC that day, and
    # 00:30 on May 2nd in Beijing is still May 1st in UTC.
    late = datetime(2024, 5, 1, 23, 30, tzinfo=CHINA_TZ)
    early_next = datetime(2024, 5, 2, 0, 30, tzinfo=CHINA_TZ)
    await Order.filter(id=express["id"]).update(created_at=late.astimezone(UTC))  # stored as UTC, as the app does
    await Order.filter(id=pickup["id"]).update(created_at=early_next.astimezone(UTC))
    assert await ids(created_from="2024-05-01", created_to="2024-05-01") == [express["id"]]
    assert await ids(created_from="2024-05-02", created_to="2024-05-02") == [pickup["id"]]
    assert await ids(created_from="2024-05-01T23:00:00", created_to="2024-05-02T00:00:00") == [express["id"]]
    assert await ids(created_from="2024-05-01T15:00:00Z", created_to="2024-05-01T16:00:00+00:00") == [express["id"]]
    for bad in ({"created_from": "2024-13-01"}, {"created_to": "明天"}, {"stauts": "paid"}, {"page": "1", "q": "x"}):
        resp = await client.get("/api/admin/v1/orders", headers=admin, params=bad)
        body = await resp.json()
        assert resp.status == 422, (bad, body)
        assert body["details"]["field"] in bad and body["message"].isascii() is False, body


async def test_status_names_in_messages_are_chinese(client, admin, settings):
    _, order = await given_order(settings, paid=True)
    ship = {"express_company": "顺丰", "express_no": "SF100"}
    assert (await client.post(f"/api/admin/v1/orders/{order['id']}/ship", headers=admin, json=ship)).status == 200
    resp = await client.post(f"/api/admin/v1/orders/{order['id']}/ship", headers=admin, json=ship)
    body = await resp.json()
    assert resp.status == 409 and "已发货" in body["message"] and "shipped" not in body["message"], body
    assert body["details"]["status"] == "shipped"  # the machine-readable value stays
