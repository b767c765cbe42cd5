from tests.factories import auth, make_user, token_for

ADDR = {"receiver": "李四", "phone": "13900000000", "province": "浙江省", "city": "杭州市",
        "district": "西湖区", "detail": "文三路 1 号"}


async def test_crud_with_one_default(client):
    token = token_for(await make_user())
    h = auth(token)
    a = await (await client.post("/api/v1/addresses", headers=h, json=ADDR)).json()
    assert a["is_default"] is True
    resp = await client.post("/api/v1/addresses", headers=h, json={**ADDR, "receiver": "王五", "is_default": True})
    assert resp.status == 201
    b = await resp.json()
    items = (await (await client.get("/api/v1/addresses", headers=h)).json())["items"]
    assert [(x["id"], x["is_default"]) for x in items] == [(b["id"], True), (a["id"], False)]
    resp = await client.put(f"/api/v1/addresses/{a['id']}", headers=h, json={"detail": "新地址", "is_default": True})
    assert resp.status == 200 and (await resp.json())["detail"] == "新地址"
    items = (await (await client.get("/api/v1/addresses", headers=h)).json())["items"]
    assert sum(x["is_default"] for x in items) == 1 and items[0]["id"] == a["id"]
    resp = await client.delete(f"/api/v1/addresses/{a['id']}", headers=h)
    assert resp.status == 200
    items = (await (await client.get("/api/v1/addresses", headers=h)).json())["items"]
    assert [(x["id"], x["is_default"]) for x in items] == [(b["id"], True)]


async def test_someone_elses_address_is_404_and_bad_input_422(client):
    mine, theirs = auth(token_for(await make_user())), auth(token_for(await make_user()))
    a = await (await client.post("/api/v1/addresses", headers=mine, json=ADDR)).json()
    for method in ("PUT", "DELETE"):
        resp = await client.request(method, f"/api/v1/addresses/{a['id']}", headers=theirs, json={"detail": "x"})
        assert resp.status == 404 and (await resp.json())["error"] == "address_not_found"
    resp = await client.post("/api/v1/addresses", headers=mine, json={**ADDR, "receiver": ""})
    assert resp.status == 422 and (await resp.json())["details"]["field"] == "receiver"
    resp = await client.post("/api/v1/addresses", headers=mine, json={**ADDR, "detail": "a\x00b"})
    assert resp.status == 422 and (await resp.json())["details"]["field"] == "detail"
    payload = dict(ADDR)
    payload.pop("city")
    resp = await client.post("/api/v1/addresses", headers=mine, json=payload)
    assert resp.status == 422 and (await resp.json())["details"]["field"] == "city"
    resp = await client.get("/api/v1/addresses")
    assert resp.status == 401
