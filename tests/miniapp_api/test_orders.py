import asyncio
import time
import uuid

from huituan.models.catalog import Sku
from huituan.models.order import Order
from tests.factories import auth, create_order, make_address, make_product, make_user, token_for


async def given_buyer():
    user = await make_user()
    return user, token_for(user)


async def post_order(client, token, payload, key="k1"):
    headers = auth(token) | ({"Idempotency-Key": key} if key is not None else {})
    resp = await client.post("/api/v1/orders", headers=headers, json=payload)
    return resp.status, await resp.json()


async def test_create_is_idempotent_by_key(client):
    user, token = await given_buyer()
    p = await make_product(skus=[{"price_fen": 1500, "stock": 10}])
    address = await make_address(user)
    payload = {"items": [{"sku_id": p.sku_list[0].id, "quantity": 2}], "delivery_mode": "express",
               "address_id": address.id, "remark": "放门口"}
    status, first = await post_order(client, token, payload)
    assert status == 201, first
    assert first["payable_fen"] == 3000 and first["remark"] == "放门口" and first["address"]["receiver"] == "张三"
    status, again = await post_order(client, token, payload)
    assert status == 200 and again["id"] == first["id"]
    assert (await Sku.get(id=p.sku_list[0].id)).stock == 8


async def test_bad_inputs_get_4xx_naming_the_problem(client):
    user, token = await given_buyer()
    p = await make_product(skus=[{"stock": 10}])
    sku_id = p.sku_list[0].id
    address = await make_address(user)
    ok = {"items": [{"sku_id": sku_id, "quantity": 1}], "delivery_mode": "express", "address_id": address.id}
    cases = [
        ({"delivery_mode": "express", "address_id": address.id}, 422, "items"),
        ({**ok, "items": [{"sku_id": "abc", "quantity": 1}]}, 422, "items.0.sku_id"),
        ({**ok, "items": [{"sku_id": sku_id}]}, 422, "items.0.quantity"),
        ({**ok, "items": [{"sku_id": sku_id, "quantity": 0}]}, 422, "items.0.quantity"),
        ({**ok, "items": [{"sku_id": sku_id, "quantity": -3}]}, 422, "items.0.quantity"),
        ({**ok, "items": [{"sku_id": sku_id, "quantity": 1000}]}, 422, "items.0.quantity"),
        ({**ok, "items": []}, 422, "items"),
        ({**ok, "delivery_mode": "drone"}, 422, "delivery_mode"),
        ({**ok, "address_id": None}, 422, "address_id"),
        ({**ok, "items": [{"sku_id": 987654, "quantity": 1}]}, 404, "items.0.sku_id"),
        ({**ok, "delivery_mode": "pickup"}, 422, "pickup_point_id"),
        ({**ok, "delivery_mode": "pickup", "pickup_point_id": 424242}, 404, "pickup_point_id"),
    ]
    for i, (payload, status, field) in enumerate(cases):
        got, body = await post_order(client, token, payload, key=f"bad-{i}")
        assert got == status, (payload, body)
        assert body["details"]["field"] == field, (payload, body)
        assert body["message"], body
    got, body = await post_order(client, token, ok, key=None)
    assert got == 422 and body["details"]["field"] == "headers.Idempotency-Key"
    got, body = await post_order(client, token, ok, key="x" * 65)
    assert got == 422 and body["details"]["field"] == "headers.Idempotency-Key"
    resp = await client.post("/api/v1/orders", headers=auth(token) | {"Idempotency-Key": "j"}, data=b"{nope")
    assert resp.status == 422 and (await resp.json())["details"]["field"] == "body"
    assert (await Sku.get(id=sku_id)).stock == 10 and await Order.all().count() == 0


async def test_out_of_stock_is_409_with_sku_id(client):
    user, token = await given_buyer()
    p = await make_product(skus=[{"stock": 1}])
    address = await make_address(user)
    status, body = await post_order(client, token, {"items": [{"sku_id": p.sku_list[0].id, "quantity": 2}],
                                                    "delivery_mode": "express", "address_id": address.id})
    assert status == 409 and body["error"] == "out_of_stock" and body["details"]["sku_id"] == p.sku_list[0].id
    assert body["details"]["field"] == "items"  # which part of the request (attacker pass, session 7)


async def test_tokens_expired_missing_or_disabled(client):
    user = await make_user()
    p = await make_product()
    expired = token_for(user, ttl=10, now=time.time() - 100)
    resp = await client.get("/api/v1/orders", headers=auth(expired))
    assert resp.status == 401 and (await resp.json())["error"] == "token_expired"
    resp = await client.get("/api/v1/orders")
    assert resp.status == 401 and (await resp.json())["error"] == "token_missing"
    resp = await client.get("/api/v1/orders", headers=auth("garbage.token"))
    assert resp.status == 401
    disabled = await make_user(is_disabled=True)
    address = await make_address(disabled)
    status, body = await post_order(client, token_for(disabled), {
        "items": [{"sku_id": p.sku_list[0].id, "quantity": 1}], "delivery_mode": "express",
        "address_id": address.id})
    assert status == 403 and body["error"] == "user_disabled"


async def test_someone_elses_order_is_404(client):
    owner, owner_token = await given_buyer()
    _, other_token = await given_buyer()
    p = await make_product()
    order = await create_order(client, owner_token, [(p.sku_list[0], 1)])
    for method, path in [("GET", ""), ("POST", "/cancel"), ("POST", "/pay"), ("POST", "/confirm"),
                         ("GET", "/refunds")]:
        resp = await client.request(method, f"/api/v1/orders/{order['id']}{path}", headers=auth(other_token))
        body = await resp.json()
        assert resp.status == 404 and body["error"] == "order_not_found", (path, body)
    resp = await client.post(f"/api/v1/orders/{order['id']}/refunds", headers=auth(other_token), json={"reason": "x"})
    assert resp.status == 404
    resp = await client.get("/api/v1/orders/abc", headers=auth(other_token))
    assert resp.status == 422 and (await resp.json())["details"]["field"] == "id"


async def test_list_detail_cancel(client):
    user, token = await given_buyer()
    p = await make_product(skus=[{"stock": 5}])
    a = await create_order(client, token, [(p.sku_list[0], 2)])
    b = await create_order(client, token, [(p.sku_list[0], 1)])
    resp = await client.get("/api/v1/orders", headers=auth(token))
    body = await resp.json()
    assert body["total"] == 2 and [o["id"] for o in body["items"]] == [b["id"], a["id"]]
    resp = await client.post(f"/api/v1/orders/{a['id']}/cancel", headers=auth(token))
    assert resp.status == 200 and (await resp.json())["status"] == "cancelled"
    assert (await Sku.get(id=p.sku_list[0].id)).stock == 4
    resp = await client.post(f"/api/v1/orders/{a['id']}/cancel", headers=auth(token))
    assert resp.status == 409
    resp = await client.get("/api/v1/orders?status=cancelled", headers=auth(token))
    assert [o["id"] for o in (await resp.json())["items"]] == [a["id"]]
    resp = await client.get("/api/v1/orders?status=bogus", headers=auth(token))
    assert resp.status == 422 and (await resp.json())["details"]["field"] == "status"
    resp = await client.get(f"/api/v1/orders/{b['id']}", headers=auth(token))
    detail = await resp.json()
    assert detail["items"][0]["quantity"] == 1 and detail["status"] == "unpaid"
    resp = await client.post(f"/api/v1/orders/{b['id']}/confirm", headers=auth(token))
    assert resp.status == 409


async def test_200_concurrent_buyers_for_50_units_over_http(client):
    """Given 50 units and 200 distinct buyers each ordering 1 at the same time,
    exactly 50 orders are created, the rest get 409 out_of_stock, stock ends at 0."""
    p = await make_product(skus=[{"price_fen": 990, "stock": 50}])
    sku_id = p.sku_list[0].id
    buyers = []
    for _ in range(200):
        u = await make_user()
        buyers.append((token_for(u), (await make_address(u)).id))

    async def buy(token, address_id):
        resp = await client.post("/api/v1/orders", headers=auth(token) | {"Idempotency-Key": uuid.uuid4().hex},
                                 json={"items": [{"sku_id": sku_id, "quantity": 1}], "delivery_mode": "express",
                                       "address_id": address_id})
        body = await resp.json()
        assert resp.status in (201, 409), body
        if resp.status == 409:
            assert body["error"] == "out_of_stock"
        return resp.status

    statuses = await asyncio.gather(*[buy(t, a) for t, a in buyers])
    assert statuses.count(201) == 50 and statuses.count(409) == 150
    assert await Order.all().count() == 50
    assert (await Sku.get(id=sku_id)).stock == 0
