"""Idempotency-Key on orders and withdrawals: a replay returns the first result; the same key
with a different request is 422 idempotency_key_reused, never the first result."""

from __future__ import annotations

import asyncio

from huituan.models.catalog import Sku
from huituan.models.order import Order
from huituan.models.wallet import Withdrawal
from tests.factories import keyed, login, make_address, make_product, make_user, token_for
from tests.services.commission.helpers import fund, set_settings


async def test_an_order_key_reused_with_another_body_is_refused(client):
    user = await make_user()
    token = token_for(user)
    p = await make_product(skus=[{"price_fen": 1500, "stock": 10}, {"price_fen": 900, "stock": 10}])
    a, b = p.sku_list
    address = await make_address(user)
    body = {"items": [{"sku_id": a.id, "quantity": 2}], "delivery_mode": "express", "address_id": address.id}
    resp = await client.post("/api/v1/orders", headers=keyed(token, "k-1"), json=body)
    first = await resp.json()
    assert resp.status == 201, first
    resp = await client.post("/api/v1/orders", headers=keyed(token, "k-1"), json=body)
    assert resp.status == 200 and (await resp.json())["id"] == first["id"]
    others = [
        {**body, "items": [{"sku_id": a.id, "quantity": 3}]},
        {**body, "items": [{"sku_id": b.id, "quantity": 2}]},
        {**body, "items": [{"sku_id": a.id, "quantity": 2}, {"sku_id": b.id, "quantity": 1}]},
        {**body, "remark": "另一个请求"},
        {**body, "address_id": (await make_address(user)).id},
    ]
    for other in others:
        resp = await client.post("/api/v1/orders", headers=keyed(token, "k-1"), json=other)
        got = await resp.json()
        assert resp.status == 422, (other, got)
        assert got["error"] == "idempotency_key_reused" and got["details"]["field"] == "headers.Idempotency-Key"
    assert await Order.all().count() == 1
    assert (await Sku.get(id=a.id)).stock == 8 and (await Sku.get(id=b.id)).stock == 10


async def test_concurrent_orders_with_one_key_and_different_bodies_make_one_order(client):
    user = await make_user()
    token = token_for(user)
    p = await make_product(skus=[{"price_fen": 100, "stock": 100}])
    address = await make_address(user)

    async def post(q):
        body = {"items": [{"sku_id": p.sku_list[0].id, "quantity": q}], "delivery_mode": "express",
                "address_id": address.id}
        resp = await client.post("/api/v1/orders", headers=keyed(token, "same"), json=body)
        return resp.status, (await resp.json()), q

    results = await asyncio.gather(*[post(1 + i % 3) for i in range(12)])
    [order] = await Order.all()
    for status, body, q in results:
        if status in (200, 201):
            assert body["id"] == order.id and body["items"][0]["quantity"] == q
        else:
            assert status == 422 and body["error"] == "idempotency_key_reused"
    assert (await Sku.get(id=p.sku_list[0].id)).stock == 100 - order.goods_fen // 100


async def test_withdrawals_take_an_idempotency_key(client, rt):
    await set_settings(withdraw_auto_approve_fen=0)
    token, me = await login(client, code="idem-w")
    await fund(rt, me["id"], 5_000)
    url = "/api/v1/promoter/withdrawals"
    resp = await client.post(url, headers=keyed(token) | {"Idempotency-Key": ""}, json={"amount_fen": 1_000})
    body = await resp.json()
    assert resp.status == 422 and body["details"]["field"] == "headers.Idempotency-Key", body
    resp = await client.post(url, headers=keyed(token, "w-1"), json={"amount_fen": 1_000})
    first = await resp.json()
    assert resp.status == 201 and first["status"] == "requested", first
    resp = await client.post(url, headers=keyed(token, "w-1"), json={"amount_fen": 1_000})
    assert resp.status == 200 and (await resp.json())["id"] == first["id"]
    for other in ({"amount_fen": 2_000}, {"amount_fen": 1_000, "real_name": "张三"}):
        resp = await client.post(url, headers=keyed(token, "w-1"), json=other)
        got = await resp.json()
        assert resp.status == 422 and got["error"] == "idempotency_key_reused", got
    assert await Withdrawal.all().count() == 1
    wallet = await (await client.get("/api/v1/promoter/wallet", headers=keyed(token))).json()
    assert wallet["available_fen"] == 4_000 and wallet["withdrawing_fen"] == 1_000


async def test_concurrent_withdrawals_with_one_key_hold_the_money_once(client, rt):
    await set_settings(withdraw_auto_approve_fen=0)
    token, me = await login(client, code="idem-w2")
    await fund(rt, me["id"], 5_000)

    async def post(amount):
        resp = await client.post("/api/v1/promoter/withdrawals", headers=keyed(token, "w-same"),
                                 json={"amount_fen": amount})
        return resp.status, await resp.json(), amount

    results = await asyncio.gather(*[post(1_000 if i % 2 else 1_500) for i in range(10)])
    [w] = await Withdrawal.all()
    for status, body, amount in results:
        if status in (200, 201):
            assert body["id"] == w.id and amount == w.amount_fen
        else:
            assert status == 422 and body["error"] == "idempotency_key_reused", body
    assert sorted(s for s, _, _ in results).count(201) == 1
    wallet = await (await client.get("/api/v1/promoter/wallet", headers=keyed(token))).json()
    assert wallet["withdrawing_fen"] == w.amount_fen and wallet["available_fen"] == 5_000 - w.amount_fen
