"""Auth by declaration: every route of the whole app is walked and called anonymously, with a
user token and with an operator token, and the answers must match the route's declared auth.
Registration refuses what cannot be enforced: a route outside ``api(...)``, ``api`` without
``auth=``, a handler whose arity does not match its auth."""

from __future__ import annotations

import re

import pytest
from aiohttp import web

from huituan.app import create_app
from huituan.core.tokens import issue_token
from huituan.core.web.auth import Auth, check_routes, route_auths
from huituan.core.web.openapi import api
from huituan.services.operators import create_operator
from tests.conftest import TEST_SECRET
from tests.factories import auth, make_user, token_for

# The codes the auth layer answers with (huituan.core.web.auth, huituan.core.tokens): any other
# 401/403 comes from the handler itself (a WeChat signature check, a rule), not the declaration.
AUTH_CODES = {"token_missing", "token_invalid", "token_expired", "wrong_token_role", "operator_required",
              "operator_disabled", "operator_not_found"}


def _concrete(path: str) -> str:
    """The route template with every path parameter set to 1."""
    return re.sub(r"\{[^}]+\}", "1", path)


async def _call(client, method: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, str | None]:
    resp = await client.request(method, path, headers=headers or {})
    code = None
    if resp.content_type == "application/json":
        body = await resp.json()
        if isinstance(body, dict):
            code = body.get("error")
    else:
        await resp.read()
    return resp.status, code


async def test_every_route_answers_as_its_auth_declares(client):
    routes = route_auths(client.server.app)
    by_auth = {a: [r for r in routes if r[2] is a] for a in Auth}
    # the walk covers every kind of declaration the app uses
    assert by_auth[Auth.user] and by_auth[Auth.operator] and by_auth[Auth.public] and by_auth[Auth.wechat]
    user = await make_user()
    operator = await create_operator("walker", "secret-pass-1", display_name="巡检")
    user_h = auth(token_for(user))
    op_h = auth(issue_token(TEST_SECRET, operator.id, "operator", 3600))
    # a subject route: (the token it wants, the other subject's token)
    tokens = {Auth.user: (user_h, op_h), Auth.operator: (op_h, user_h)}
    wrong: list[str] = []
    for method, template, declared in routes:
        path = _concrete(template)
        where = f"{method} {template} ({declared.value})"
        anon = await _call(client, method, path)
        if declared in tokens:
            own, other = tokens[declared]
            as_other = await _call(client, method, path, other)
            as_own = await _call(client, method, path, own)
            if anon[0] != 401:
                wrong.append(f"{where}: anonymous got {anon}, want 401")
            if as_other[0] != 403:
                wrong.append(f"{where}: the other subject's token got {as_other}, want 403")
            if as_own[1] in AUTH_CODES:
                wrong.append(f"{where}: its own token refused by auth {as_own}")
        elif anon[1] in AUTH_CODES:  # public, wechat, sandbox: no token is ever asked for
            wrong.append(f"{where}: anonymous refused by auth {anon}")
    assert not wrong, "\n".join(wrong)


def _app_with(*routes) -> web.Application:
    app = web.Application()
    for method, path, handler, declared in routes:
        api(app, method, path, handler, summary="测试", tag="test", auth=declared)
    return app


async def _public(request: web.Request) -> web.Response:
    return web.json_response({})


async def _for_user(request: web.Request, user_id: int) -> web.Response:
    return web.json_response({"user_id": user_id})


def test_the_whole_app_passes_the_start_up_check(settings):
    app = create_app(settings)
    check_routes(app)  # create_app ran it too; the check is repeatable
    assert {a for _, _, a in route_auths(app)} >= {Auth.public, Auth.user, Auth.operator, Auth.wechat}


def test_a_route_added_behind_the_registrar_fails_the_start_up_check(settings):
    app = create_app(settings)
    app.router.add_get("/api/v1/sneaky", _public)
    with pytest.raises(RuntimeError, match="GET /api/v1/sneaky has no auth declaration"):
        check_routes(app)


def test_api_without_auth_is_a_type_error():
    app = web.Application()
    with pytest.raises(TypeError, match="auth"):
        api(app, "GET", "/x", _public, summary="测试", tag="test")  # type: ignore[call-arg]
    assert list(app.router.routes()) == []


@pytest.mark.parametrize(("declared", "handler"), [
    (Auth.user, _public),           # a user route must take the user id
    (Auth.operator, _public),       # an operator route must take the operator id
    (Auth.public, _for_user),       # a public route has no subject to hand over
    (Auth.wechat, _for_user),
])
def test_a_handler_of_the_wrong_arity_is_refused_at_registration(declared, handler):
    app = web.Application()
    with pytest.raises(TypeError, match=f"auth={declared.value} handlers take"):
        api(app, "GET", "/x", handler, summary="测试", tag="test", auth=declared)
    assert list(app.router.routes()) == []


def test_operator_routes_need_the_operator_guard():
    app = _app_with(("GET", "/x", _for_user, Auth.operator))
    with pytest.raises(RuntimeError, match="operator guard"):
        check_routes(app)


def test_declared_routes_pass_and_are_listed():
    app = _app_with(("GET", "/p", _public, Auth.public), ("POST", "/u/{id}", _for_user, Auth.user))
    check_routes(app)
    assert route_auths(app) == [("GET", "/p", Auth.public), ("POST", "/u/{id}", Auth.user)]


def _signed(payload_json: str) -> str:
    """A token with the right signature over any payload: what a leaked secret would allow,
    and what our own code must never mis-read."""
    import base64
    import hashlib
    import hmac

    body = base64.urlsafe_b64encode(payload_json.encode()).rstrip(b"=").decode()
    sig = base64.urlsafe_b64encode(hmac.new(TEST_SECRET.encode(), body.encode(), hashlib.sha256).digest())
    return f"{body}.{sig.rstrip(b'=').decode()}"


@pytest.mark.parametrize("claims", [
    '{"sub":1180591620717411303424,"role":"operator","exp":9999999999}',  # beyond BIGINT: was a 500
    '{"sub":1,"role":"operator","exp":1e400}',  # Infinity: was a 500
    '{"sub":"1","role":"operator","exp":9999999999}', '{"sub":true,"role":"operator","exp":9999999999}',
    '{"sub":1.0,"role":"operator","exp":9999999999}', '{"sub":1,"role":"operator","exp":"9999999999"}',
    '{"sub":0,"role":"operator","exp":9999999999}', '{"sub":-5,"role":"user","exp":9999999999}',
    '{"sub":1,"role":"admin","exp":9999999999}', '{"sub":1,"role":["operator"],"exp":9999999999}',
    '[1,"operator",9999999999]', '"operator"',
])
async def test_signed_claims_that_issue_token_never_writes_are_refused(client, claims):
    for path in ("/api/admin/v1/unmatched-payments", "/api/v1/me/bargains"):
        resp = await client.get(path, headers={"Authorization": f"Bearer {_signed(claims)}"})
        answer = await resp.json()
        assert resp.status == 401 and answer["error"] == "token_invalid", (claims, path, answer)
