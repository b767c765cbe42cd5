async def test_healthz_and_readyz(client):
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert resp.headers["X-Request-Id"]
    resp = await client.get("/readyz")
    body = await resp.json()
    assert resp.status == 200, body
    assert body["checks"] == {"database": "ok", "redis": "ok", "outbox": "ok"}
    assert body["outbox_unhandled"] == {}


async def test_unknown_route_is_json_404(client):
    resp = await client.get("/api/v1/nope")
    assert resp.status == 404
    body = await resp.json()
    assert body["error"] == "not_found" and body["message"]
