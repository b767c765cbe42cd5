from huituan.core.tokens import issue_token
from huituan.models.user import Operator
from huituan.services.operators import create_operator
from tests.conftest import TEST_SECRET
from tests.factories import auth, make_user, token_for


async def test_login_returns_operator_token_and_me(client):
    await create_operator("alice", "alice-pass-1", display_name="爱丽丝")
    resp = await client.post("/api/admin/v1/auth/login", json={"username": "alice", "password": "alice-pass-1"})
    data = await resp.json()
    assert resp.status == 200, data
    assert data["operator"]["username"] == "alice" and data["token"]
    resp = await client.get("/api/admin/v1/me", headers=auth(data["token"]))
    me = await resp.json()
    assert resp.status == 200, me
    assert me["display_name"] == "爱丽丝" and me["is_active"] is True


async def test_admin_routes_need_an_operator_token(client):
    resp = await client.get("/api/admin/v1/products")
    assert resp.status == 401
    assert (await resp.json())["error"] == "token_missing"
    user = await make_user()
    resp = await client.get("/api/admin/v1/products", headers=auth(token_for(user)))
    assert resp.status == 403
    assert (await resp.json())["error"] == "operator_required"


async def test_wrong_password_is_401_and_names_no_user(client):
    await create_operator("bob", "bob-pass-12")
    for username in ("bob", "nobody"):
        resp = await client.post("/api/admin/v1/auth/login", json={"username": username, "password": "wrong-pass"})
        body = await resp.json()
        assert resp.status == 401, body
        assert body["error"] == "invalid_credentials" and body["message"] == "用户名或密码错误"


async def test_five_failures_lock_the_username_even_for_the_right_password(client):
    await create_operator("carol", "carol-pass-1")
    for _ in range(5):
        resp = await client.post("/api/admin/v1/auth/login", json={"username": "carol", "password": "nope-nope"})
        assert resp.status == 401
    resp = await client.post("/api/admin/v1/auth/login", json={"username": "carol", "password": "carol-pass-1"})
    body = await resp.json()
    assert resp.status == 429, body
    assert body["error"] == "login_throttled" and body["details"]["retry_after_seconds"] > 0
    # another username is not affected
    await create_operator("dave", "dave-pass-12")
    resp = await client.post("/api/admin/v1/auth/login", json={"username": "dave", "password": "dave-pass-12"})
    assert resp.status == 200


async def test_success_resets_the_failure_count(client, rt):
    await create_operator("erin", "erin-pass-12")
    for _ in range(4):
        await client.post("/api/admin/v1/auth/login", json={"username": "erin", "password": "bad-bad-bad"})
    assert (await client.post("/api/admin/v1/auth/login",
                              json={"username": "erin", "password": "erin-pass-12"})).status == 200
    for _ in range(4):
        await client.post("/api/admin/v1/auth/login", json={"username": "erin", "password": "bad-bad-bad"})
    assert (await client.post("/api/admin/v1/auth/login",
                              json={"username": "erin", "password": "erin-pass-12"})).status == 200


async def test_disabled_operator_cannot_log_in(client):
    op = await create_operator("frank", "frank-pass-1")
    await Operator.filter(id=op.id).update(is_active=False)
    resp = await client.post("/api/admin/v1/auth/login", json={"username": "frank", "password": "frank-pass-1"})
    assert resp.status == 403
    assert (await resp.json())["error"] == "operator_disabled"
    token = issue_token(TEST_SECRET, op.id, "operator", 3600)
    resp = await client.get("/api/admin/v1/me", headers=auth(token))
    assert resp.status == 403


async def test_login_body_errors_name_the_field(client):
    resp = await client.post("/api/admin/v1/auth/login", json={"username": "x"})
    body = await resp.json()
    assert resp.status == 422 and body["details"]["field"] == "password"


async def test_disabling_an_operator_revokes_their_existing_token_at_once(client):
    """Tokens are stateless; the admin edge still refuses a disabled operator's token on every
    admin route (not only /me), and a deleted operator's token is no longer a login."""
    op = await create_operator("gina", "gina-pass-12")
    resp = await client.post("/api/admin/v1/auth/login", json={"username": "gina", "password": "gina-pass-12"})
    headers = auth((await resp.json())["token"])
    assert (await client.get("/api/admin/v1/orders", headers=headers)).status == 200
    await Operator.filter(id=op.id).update(is_active=False)
    for path in ("/api/admin/v1/orders", "/api/admin/v1/products", "/api/admin/v1/refunds"):
        resp = await client.get(path, headers=headers)
        assert resp.status == 403, path
        assert (await resp.json())["error"] == "operator_disabled"
    await Operator.filter(id=op.id).delete()
    resp = await client.get("/api/admin/v1/orders", headers=headers)
    assert resp.status == 401 and (await resp.json())["error"] == "operator_not_found"
