import asyncio

from huituan.models.user import User
from huituan.services import events
from tests.factories import auth, login


async def test_login_creates_once_keeps_first_scene_and_me(client):
    seen = []

    async def record(user_id, scene, is_new, conn):
        seen.append((user_id, scene, is_new))

    events.subscribe(events.USER_LOGGED_IN, record)
    try:
        token, user = await login(client, "u1", scene="p=42")
        token2, user2 = await login(client, "u1", scene="p=99")
    finally:
        events._subscribers[events.USER_LOGGED_IN].remove(record)
    assert user2["id"] == user["id"]
    assert (await User.get(id=user["id"])).first_scene == "p=42"
    assert seen == [(user["id"], "p=42", True), (user["id"], "p=99", False)]
    resp = await client.get("/api/v1/me", headers=auth(token2))
    me = await resp.json()
    assert resp.status == 200 and me["id"] == user["id"] and me["has_phone"] is False


async def test_concurrent_first_logins_make_one_user(client):
    results = await asyncio.gather(*[login(client, "same-code") for _ in range(10)])
    assert len({u["id"] for _, u in results}) == 1
    assert await User.all().count() == 1


async def test_bind_phone(client):
    token, _ = await login(client, "u2")
    resp = await client.post("/api/v1/me/phone", headers=auth(token), json={"code": "phone-code"})
    body = await resp.json()
    assert resp.status == 200 and body["phone"] and body["has_phone"] is True
    resp = await client.post("/api/v1/me/phone", headers=auth(token), json={})
    assert resp.status == 422 and (await resp.json())["details"]["field"] == "code"


async def test_bad_login_inputs_and_disabled_user(client):
    resp = await client.post("/api/v1/auth/login", json={})
    assert resp.status == 422 and (await resp.json())["details"]["field"] == "code"
    resp = await client.post("/api/v1/auth/login", json={"code": 123})
    assert resp.status == 422 and (await resp.json())["details"]["field"] == "code"
    resp = await client.post("/api/v1/auth/login", json={"code": "invalid"})
    assert resp.status == 422 and (await resp.json())["details"]["field"] == "code"
    token, user = await login(client, "u3")
    await User.filter(id=user["id"]).update(is_disabled=True)
    resp = await client.post("/api/v1/auth/login", json={"code": "u3"})
    assert resp.status == 403 and (await resp.json())["error"] == "user_disabled"
    resp = await client.get("/api/v1/me", headers=auth(token))
    assert resp.status == 403
