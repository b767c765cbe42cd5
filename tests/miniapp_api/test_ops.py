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


def _unhandled_gauge(metrics_text: str) -> dict[str, float]:
    out = {}
    for line in metrics_text.splitlines():
        if line.startswith("outbox_unhandled_messages{"):
            labels, value = line.rsplit(" ", 1)
            out[labels.split('kind="', 1)[1].split('"', 1)[0]] = float(value)
    return out


async def test_readyz_and_metrics_report_outbox_rows_no_handler_can_deliver(client):
    from huituan.models.outbox import OutboxKind, OutboxMessage
    from huituan.services import outbox

    # given two pending robot pushes and, for the length of the test, no robot_push handler
    for n in (1, 2):
        await OutboxMessage.create(kind=OutboxKind.robot_push, dedupe_key=f"orphan:{n}", payload={"content": "日报"})
    handler = outbox._handlers.pop(OutboxKind.robot_push.value)
    try:
        # when readiness is asked: the service is up (200) but says what is stuck
        resp = await client.get("/readyz")
        body = await resp.json()
        assert resp.status == 200, body
        assert body["checks"]["outbox"] == "unhandled kinds: robot_push"
        assert body["outbox_unhandled"] == {"robot_push": 2}
        # and the metric carries the same count
        metrics = await (await client.get("/metrics")).text()
        assert _unhandled_gauge(metrics) == {"robot_push": 2.0}
    finally:
        outbox.register_handler(OutboxKind.robot_push, handler)
    # then with the handler back, the next readiness check clears the report and the gauge
    body = await (await client.get("/readyz")).json()
    assert body["checks"]["outbox"] == "ok" and body["outbox_unhandled"] == {}
    assert _unhandled_gauge(await (await client.get("/metrics")).text()) == {}
