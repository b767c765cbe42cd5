"""Activities through HTTP: operators create and start them, buyers open/join/help/claim, and
bad input gets the documented 4xx with a Chinese message."""

from datetime import timedelta

from huituan.core.clock import utcnow
from tests.factories import auth, make_address, make_product, make_user, token_for


def _window(start_in=-3600, lasts=3 * 86400):
    now = utcnow()
    return {"starts_at": (now + timedelta(seconds=start_in)).isoformat(),
            "ends_at": (now + timedelta(seconds=start_in + lasts)).isoformat()}


async def _buyer():
    u = await make_user()
    a = await make_address(u)
    return auth(token_for(u)), a.id


async def test_group_buy_over_http(client, admin):
    p = await make_product(skus=[{"price_fen": 1000, "stock": 50}])
    sku = p.sku_list[0].id
    resp = await client.post("/api/admin/v1/group-buys", headers=admin, json={
        "title": "两人团", "product_id": p.id, "sku_prices": [{"sku_id": sku, "price_fen": 700}], "group_size": 2,
        **_window()})
    act = await resp.json()
    assert resp.status == 201, act
    resp = await client.post(f"/api/admin/v1/group-buys/{act['id']}/status", headers=admin, json={"status": "active"})
    assert resp.status == 200
    assert [a["id"] for a in (await (await client.get("/api/v1/group-buys")).json())["items"]] == [act["id"]]

    (h1, a1), (h2, a2), (h3, a3) = await _buyer(), await _buyer(), await _buyer()
    body = {"sku_id": sku, "delivery_mode": "express"}
    resp = await client.post("/api/v1/group-buys/open", headers=h1 | {"Idempotency-Key": "o1"},
                             json=body | {"address_id": a1, "activity_id": act["id"]})
    opened = await resp.json()
    assert resp.status == 201, opened
    code = opened["group"]["share_code"]
    resp = await client.post("/api/v1/groups/join", headers=h1 | {"Idempotency-Key": "o2"},
                             json=body | {"address_id": a1, "share_code": code})
    err = await resp.json()
    assert resp.status == 409 and err["error"] == "group_already_joined" and "不能重复参团" in err["message"]
    resp = await client.post("/api/v1/groups/join", headers=h2 | {"Idempotency-Key": "j2"},
                             json=body | {"address_id": a2, "share_code": code})
    assert resp.status == 201
    resp = await client.post("/api/v1/groups/join", headers=h3 | {"Idempotency-Key": "j3"},
                             json=body | {"address_id": a3, "share_code": code})
    err = await resp.json()
    assert resp.status == 409 and err["error"] == "group_full" and err["message"] == "该团已满员"
    g = await (await client.get(f"/api/v1/groups/lookup?share_code={code}")).json()
    assert g["seats_left"] == 0 and len(g["members"]) == 2
    mine = await (await client.get("/api/v1/me/groups", headers=h1)).json()
    assert mine["items"][0]["group"]["share_code"] == code
    results = await (await client.get(f"/api/admin/v1/group-buys/{act['id']}/results", headers=admin)).json()
    assert results["groups_open"] == 1


async def test_bargain_over_http(client, admin):
    p = await make_product(skus=[{"price_fen": 5000, "stock": 50}])
    resp = await client.post("/api/admin/v1/bargain-activities", headers=admin, json={
        "title": "砍价", "product_id": p.id, "sku_id": p.sku_list[0].id, "start_price_fen": 5000,
        "floor_price_fen": 1000, "helpers_needed": 2, "cut_min_fen": 1000, "cut_max_fen": 3000, "stock": 5,
        **_window()})
    act = await resp.json()
    assert resp.status == 201, act
    resp = await client.post("/api/admin/v1/bargain-activities", headers=admin, json={
        "title": "不可能", "product_id": p.id, "sku_id": p.sku_list[0].id, "start_price_fen": 5000,
        "floor_price_fen": 1000, "helpers_needed": 2, "cut_min_fen": 2500, "cut_max_fen": 3000, "stock": 5,
        **_window()})
    assert resp.status == 422 and (await resp.json())["details"]["field"] == "cut_min_fen"
    await client.post(f"/api/admin/v1/bargain-activities/{act['id']}/status", headers=admin, json={"status": "active"})
    (owner, addr), (friend, _) = await _buyer(), await _buyer()
    resp = await client.post(f"/api/v1/bargain-activities/{act['id']}/start", headers=owner)
    b = await resp.json()
    assert resp.status == 201 and b["helpers_needed"] == 2 and b["helpers_left"] == 2
    resp = await client.post(f"/api/v1/bargains/{b['id']}/help", headers=owner)
    err = await resp.json()
    assert resp.status == 403 and err["error"] == "bargain_self_help" and err["message"] == "不能给自己砍价"
    resp = await client.post(f"/api/v1/bargains/{b['id']}/help", headers=friend)
    assert resp.status == 201
    resp = await client.post(f"/api/v1/bargains/{b['id']}/help", headers=friend)
    err = await resp.json()
    assert resp.status == 409 and err["error"] == "bargain_already_helped" and "砍过" in err["message"]
    resp = await client.post("/api/v1/bargains/buy", headers=owner | {"Idempotency-Key": "b1"},
                             json={"bargain_id": b["id"], "delivery_mode": "express", "address_id": addr})
    order = await resp.json()
    assert resp.status == 201 and order["activity_type"] == "bargain" and order["payable_fen"] < 5000


async def test_flash_sale_over_http(client, admin):
    p = await make_product(skus=[{"price_fen": 1000, "stock": 50}])
    resp = await client.post("/api/admin/v1/flash-sales", headers=admin, json={
        "title": "20 点场", **_window(-60, 3600),
        "items": [{"sku_id": p.sku_list[0].id, "flash_price_fen": 100, "stock": 2, "per_user_limit": 1}]})
    sess = await resp.json()
    assert resp.status == 201, sess
    item = sess["items"][0]["id"]
    h1, a1 = await _buyer()
    claim = {"session_id": sess["id"], "item_id": item, "delivery_mode": "express"}
    resp = await client.post("/api/v1/flash-sales/claims", headers=h1 | {"Idempotency-Key": "c0"},
                             json=claim | {"address_id": a1})
    err = await resp.json()
    assert resp.status == 409 and err["error"] == "flash_session_closed", err
    await client.post(f"/api/admin/v1/flash-sales/{sess['id']}/status", headers=admin, json={"status": "active"})
    resp = await client.post("/api/v1/flash-sales/claims", headers=h1 | {"Idempotency-Key": "c1"},
                             json=claim | {"address_id": a1, "quantity": 2})
    err = await resp.json()
    assert resp.status == 422 and err["details"]["field"] == "quantity" and "限购" in err["message"]
    resp = await client.post("/api/v1/flash-sales/claims", headers=h1 | {"Idempotency-Key": "c2"},
                             json=claim | {"address_id": a1})
    order = await resp.json()
    assert resp.status == 201 and order["payable_fen"] == 100
    resp = await client.post("/api/v1/flash-sales/claims", headers=h1 | {"Idempotency-Key": "c2"},
                             json=claim | {"address_id": a1})
    assert resp.status == 200 and (await resp.json())["id"] == order["id"]
    detail = await (await client.get(f"/api/v1/flash-sales/{sess['id']}")).json()
    assert detail["items"][0]["stock_left"] == 1 and detail["phase"] == "running"
    mine = await (await client.get("/api/v1/me/flash-claims", headers=h1)).json()
    assert mine["items"][0]["order_id"] == order["id"]
    results = await (await client.get(f"/api/admin/v1/flash-sales/{sess['id']}/results", headers=admin)).json()
    assert results["claims"]["claimed"] == 1
    drifts = await client.get("/api/admin/v1/flash-sales/drifts", headers=admin)
    assert drifts.status == 200


async def test_activity_inputs_an_operator_cannot_mean_are_refused_naming_the_field(client, admin):
    """Attacker pass, session 7: each of these was a 201 (or 200) before."""
    from huituan.models.flash_sale import FlashSession
    from huituan.models.group_buy import GroupBuyActivity

    p = await make_product(skus=[{"price_fen": 1000, "stock": 50}, {"price_fen": 2000, "stock": 50}])
    sku, sku2 = p.sku_list[0].id, p.sku_list[1].id
    group = {"title": "两人团", "product_id": p.id, "sku_prices": [{"sku_id": sku, "price_fen": 700}], "group_size": 2,
             **_window()}
    flash = {"title": "整点秒杀", "items": [{"sku_id": sku, "flash_price_fen": 500, "stock": 5, "per_user_limit": 1}],
             **_window()}
    bargain = {"title": "砍一刀", "product_id": p.id, "sku_id": sku, "start_price_fen": 1000, "floor_price_fen": 100,
               "helpers_needed": 3, "cut_min_fen": 100, "cut_max_fen": 500, "stock": 5, **_window()}
    cases = [
        ("/api/admin/v1/group-buys", group | {"sku_prices": [{"sku_id": sku, "price_fen": 100},
                                                              {"sku_id": sku, "price_fen": 200}]}, "sku_prices.1.sku_id"),
        ("/api/admin/v1/flash-sales", flash | {"items": [*flash["items"], {**flash["items"][0], "flash_price_fen": 300}]},
         "items.1.sku_id"),
        ("/api/admin/v1/bargain-activities", bargain | {"start_price_fen": 99999}, "start_price_fen"),
    ]
    for path, body in (("/api/admin/v1/group-buys", group), ("/api/admin/v1/flash-sales", flash),
                       ("/api/admin/v1/bargain-activities", bargain)):
        for blank in ("   ", "\u200b", "\u3000\u200d"):
            cases.append((path, body | {"title": blank}, "title"))
        for number in ("1", "1700000000"):
            cases.append((path, body | {"starts_at": number}, "starts_at"))
    for path, body, field in cases:
        resp = await client.post(path, headers=admin, json=body)
        answer = await resp.json()
        assert resp.status == 422 and answer["details"]["field"] == field, (path, field, answer)
        assert answer["message"].isascii() is False
    assert await GroupBuyActivity.all().count() == 0 and await FlashSession.all().count() == 0
    # The SKU's stock was not taken by a refused session.
    assert (await (await client.get(f"/api/admin/v1/products/{p.id}", headers=admin)).json())["skus"][0]["stock"] == 50
    # Fewer groups than are already open: say so rather than quietly allow none.
    resp = await client.post("/api/admin/v1/group-buys", headers=admin, json=group | {"sku_prices": [
        {"sku_id": sku, "price_fen": 700}, {"sku_id": sku2, "price_fen": 1500}]})
    act = await resp.json()
    assert resp.status == 201 and act["sku_prices"] == {str(sku): 700, str(sku2): 1500}
    await GroupBuyActivity.filter(id=act["id"]).update(groups_opened=6)
    resp = await client.patch(f"/api/admin/v1/group-buys/{act['id']}", headers=admin, json={"total_limit": 1})
    answer = await resp.json()
    assert resp.status == 422 and answer["details"]["field"] == "total_limit" and "已开团数 6" in answer["message"]


async def test_joining_names_the_group_one_way(client, admin):
    p = await make_product(skus=[{"price_fen": 1000, "stock": 50}])
    sku = p.sku_list[0].id
    act = await (await client.post("/api/admin/v1/group-buys", headers=admin, json={
        "title": "两人团", "product_id": p.id, "sku_prices": [{"sku_id": sku, "price_fen": 700}], "group_size": 3,
        **_window()})).json()
    await client.post(f"/api/admin/v1/group-buys/{act['id']}/status", headers=admin, json={"status": "active"})
    (h1, a1), (h2, a2) = await _buyer(), await _buyer()
    body = {"sku_id": sku, "delivery_mode": "express"}
    opened = await (await client.post("/api/v1/group-buys/open", headers=h1 | {"Idempotency-Key": "n1"},
                                      json=body | {"address_id": a1, "activity_id": act["id"]})).json()
    for which in ({}, {"share_code": opened["group"]["share_code"], "group_id": opened["group"]["id"]}):
        resp = await client.post("/api/v1/groups/join", headers=h2 | {"Idempotency-Key": "n2"},
                                 json=body | {"address_id": a2} | which)
        answer = await resp.json()
        assert resp.status == 422 and answer["details"]["field"] == "share_code" and "二选一" in answer["message"], answer
    resp = await client.post("/api/v1/groups/join", headers=h2 | {"Idempotency-Key": "n2"},
                             json=body | {"address_id": a2, "group_id": opened["group"]["id"]})
    assert resp.status == 201
