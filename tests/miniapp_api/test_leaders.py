"""The leader centre over HTTP: store switches (and what they do to commission), the day as
CSV, arrival, damage reports, who may act at a point."""

from __future__ import annotations

from huituan.models.commission import CommissionRecord
from huituan.models.leader import PickupPoint
from huituan.models.order import Refund
from tests.bot.wecom_helpers import apply_leader
from tests.factories import auth, create_order, login, make_product, pay_order
from tests.miniapp_api.admin.conftest import operator_headers


async def test_leader_centre_over_http(client):
    admin = await operator_headers(client)
    token, leader = await apply_leader(client, "l-http", "李团长", "13900000011", "桂花园", "桂花路 1 号", 30.2, 120.2)
    # a pending leader may not act yet
    assert (await client.get("/api/v1/leader/day", headers=auth(token))).status == 403
    assert (await client.post(f"/api/admin/v1/leaders/{leader['id']}/approve", headers=admin)).status == 200
    point = await PickupPoint.get(leader_id=leader["id"])
    await PickupPoint.filter(id=point.id).update(cutoff_time="23:59")
    apples = await make_product(title="苹果", skus=[{"price_fen": 2000, "name": "5斤"}])
    pears = await make_product(title="梨", skus=[{"price_fen": 1000, "name": "3斤"}])
    # the leader switches pears off: not in the store, no leader commission on them
    resp = await client.put(f"/api/v1/leader/store/products/{pears.id}", headers=auth(token), json={"enabled": False})
    assert resp.status == 200 and {i["title"]: i["enabled"] for i in (await resp.json())["items"]}["梨"] is False
    store = await (await client.get(f"/api/v1/leaders/{leader['id']}/store")).json()
    assert [i["title"] for i in store["items"]] == ["苹果"]

    ctoken, _ = await login(client, "c-http")
    order = await create_order(client, ctoken, [(apples.sku_list[0], 2), (pears.sku_list[0], 1)],
                               delivery_mode="pickup", pickup_point_id=point.id)
    await pay_order(client, ctoken, order["id"])
    recs = await CommissionRecord.filter(level=0)
    assert [(r.product_id, r.amount_fen) for r in recs] == [(apples.id, 200)]  # 5 % of 4000; pears off
    codes = await (await client.get("/api/v1/me/pickup-codes", headers=auth(ctoken))).json()
    assert codes["items"][0]["qr_text"] == "huituan:pickup:" + codes["items"][0]["code"]
    day = codes["items"][0]["day"]

    csv_text = await (await client.get("/api/v1/leader/day/summary.csv", headers=auth(token),
                                       params={"day": day})).text()
    assert csv_text.startswith("\ufeff商品,规格,数量") and "苹果,5斤,2,40.00" in csv_text
    # another user is not the leader of this point
    stranger, _ = await login(client, "stranger")
    assert (await client.post("/api/v1/leader/verify", headers=auth(stranger),
                              json={"code": codes["items"][0]["code"]})).status == 403
    resp = await client.post("/api/v1/leader/arrival", headers=auth(token), json={"day": day})
    assert (await resp.json())["consumers"] == 1
    resp = await client.post("/api/v1/leader/shortages", headers=auth(token),
                             json={"product_id": apples.id, "quantity": 1, "kind": "damage", "note": "压坏了"})
    report = await resp.json()
    assert resp.status == 201, report
    assert report["refunded_fen"] == 2000 and report["refunds"][0]["quantity"] == 1
    assert (await Refund.get()).amount_fen == 2000
    listed = await (await client.get("/api/admin/v1/shortage-reports", headers=admin)).json()
    assert listed["total"] == 1 and listed["items"][0]["kind"] == "damage" and listed["items"][0]["note"] == "压坏了"
