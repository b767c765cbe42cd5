"""/api/v1/notifications: the mini-program reports subscribe consent and asks what to request
next; the user turns reminder kinds off."""

from __future__ import annotations

from tests.factories import auth, login


async def test_subscribe_results_count_per_template_and_say_what_to_ask_next(client):
    token, _ = await login(client, "sub-1")
    resp = await client.get("/api/v1/notifications/subscriptions", headers=auth(token))
    data = await resp.json()
    assert resp.status == 200
    assert len(data["ask"]) == 3 and data["ask"][0] == "sandbox-tpl-order-unpaid"  # urgent ones first
    # when the user accepts one template twice, rejects one and bans one
    for result in ({"sandbox-tpl-order-unpaid": "accept", "sandbox-tpl-order-shipped": "reject",
                    "sandbox-tpl-order-ready": "ban", "errMsg": "requestSubscribeMessage:ok"},
                   {"sandbox-tpl-order-unpaid": "accept"}):
        resp = await client.post("/api/v1/notifications/subscriptions", headers=auth(token), json={"result": result})
        data = await resp.json()
        assert resp.status == 200, data
    by_tid = {t["template_id"]: t for t in data["templates"]}
    assert by_tid["sandbox-tpl-order-unpaid"]["remaining"] == 2
    assert by_tid["sandbox-tpl-order-shipped"]["remaining"] == 0
    assert by_tid["sandbox-tpl-order-ready"]["banned"] is True
    assert "sandbox-tpl-order-unpaid" not in data["ask"] and "sandbox-tpl-order-ready" not in data["ask"]
    assert "sandbox-tpl-order-shipped" in data["ask"]
    resp = await client.get("/api/v1/notifications/subscriptions?events=order_shipped,refund_result",
                            headers=auth(token))
    assert (await resp.json())["ask"] == ["sandbox-tpl-order-shipped", "sandbox-tpl-refund-result"]


async def test_unknown_templates_and_decisions_are_refused_by_name(client):
    token, _ = await login(client, "sub-2")
    resp = await client.post("/api/v1/notifications/subscriptions", headers=auth(token),
                             json={"result": {"TPL-NOT-OURS": "accept"}})
    assert resp.status == 422 and (await resp.json())["details"]["field"] == "result.TPL-NOT-OURS"
    resp = await client.post("/api/v1/notifications/subscriptions", headers=auth(token),
                             json={"result": {"sandbox-tpl-order-unpaid": "yes"}})
    assert resp.status == 422
    resp = await client.post("/api/v1/notifications/subscriptions", json={"result": {}})
    assert resp.status == 401


async def test_preferences_turn_a_reminder_kind_off(client):
    token, _ = await login(client, "pref-1")
    resp = await client.put("/api/v1/notifications/preferences", headers=auth(token),
                            json={"events": {"order_not_picked_up": False}})
    data = await resp.json()
    assert resp.status == 200, data
    prefs = {p["event"]: p["enabled"] for p in data["items"]}
    assert prefs["order_not_picked_up"] is False and prefs["order_shipped"] is True
    resp = await client.get("/api/v1/notifications/subscriptions", headers=auth(token))
    assert "sandbox-tpl-order-not-picked-up" not in (await resp.json())["ask"]
    resp = await client.put("/api/v1/notifications/preferences", headers=auth(token),
                            json={"events": {"operator_review_digest": False}})
    assert resp.status == 422


async def test_remind_me_is_remembered_once_and_can_be_cancelled(client, rt):
    from tests.services.activities.helpers import given_flash_session

    session = await given_flash_session(rt.redis, starts_in=3600)
    sid = session["id"]
    token, _ = await login(client, "remind-1")
    for _ in range(2):
        resp = await client.post("/api/v1/notifications/reminders", headers=auth(token),
                                 json={"event": "flash_sale_starting", "ref_id": sid})
        assert resp.status == 201
    items = (await resp.json())["items"]
    assert [(i["event"], i["ref_id"]) for i in items] == [("flash_sale_starting", sid)]
    resp = await client.post("/api/v1/notifications/reminders", headers=auth(token),
                             json={"event": "order_shipped", "ref_id": sid})
    assert resp.status == 422
    # A sale that does not exist (or 2**62) is not one to be reminded of: it was stored.
    for ref_id in (999999, 2**62):
        resp = await client.post("/api/v1/notifications/reminders", headers=auth(token),
                                 json={"event": "flash_sale_starting", "ref_id": ref_id})
        answer = await resp.json()
        assert resp.status == 404 and answer["details"]["field"] == "ref_id", answer
    resp = await client.delete(f"/api/v1/notifications/reminders?event=flash_sale_starting&ref_id={sid}",
                               headers=auth(token))
    assert resp.status == 200 and (await resp.json())["items"] == []
