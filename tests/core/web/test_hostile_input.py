"""Hostile input never reaches a 500: each class of request that ended in one (issue 7) now gets
a 4xx with the usual {error, message, details.field} shape, on both backends (the NUL bytes
were a 500 on PostgreSQL only; they are refused at the edge on both)."""

from __future__ import annotations

import asyncio
import json
import time

from huituan.models.catalog import Category, Product
from huituan.models.commission import DistributionSettings, PromoteMode
from huituan.models.order import Order
from huituan.models.referral import ReferralBinding
from huituan.models.user import User
from huituan.services.operators import create_operator
from tests.factories import auth, login, make_user, token_for

JSON = {"Content-Type": "application/json"}


async def _error(resp, status: int, field: str | None = None) -> dict:
    body = await resp.json()
    assert resp.status == status, body
    assert set(body) >= {"error", "message", "details"}, body
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["message"]), body  # Chinese
    if field is not None:
        assert body["details"].get("field") == field, body
    return body


async def _operator(client) -> dict[str, str]:
    await create_operator("hostile-ops", "hostile-pass-1")
    resp = await client.post("/api/admin/v1/auth/login", json={"username": "hostile-ops", "password": "hostile-pass-1"})
    return auth((await resp.json())["token"])


async def test_share_scene_with_non_ascii_digits_binds_nobody_and_login_works(client):
    sharer = await make_user(id=12)
    for i, scene in enumerate(("r=²", "r=١٢", "r=１２", "r=" + "9" * 100, "ref=²&r=x")):
        resp = await client.post("/api/v1/auth/login", json={"code": f"scene-{i}", "scene": scene})
        body = await resp.json()
        assert resp.status == 200, (scene, body)
        assert body["is_new"] is True
        # and the same user logs in again (the first login used to fail for good)
        again = await client.post("/api/v1/auth/login", json={"code": f"scene-{i}"})
        assert again.status == 200 and (await again.json())["is_new"] is False
    assert not await ReferralBinding.filter(promoter_id=sharer.id).exists()  # '١٢' is not 12


async def test_json_nested_100000_deep_is_a_422_on_any_json_endpoint(client):
    user = await make_user()
    deep = "[" * 100_000 + "]" * 100_000
    for path, headers in (("/api/v1/auth/login", {}), ("/api/v1/orders", auth(token_for(user))),
                          ("/api/admin/v1/auth/login", {})):
        for body in (deep, '{"code": ' + deep + "}", '{"a":' * 50_000 + "1" + "}" * 50_000):
            started = time.monotonic()
            resp = await client.post(path, data=body, headers={**JSON, **headers})
            err = await _error(resp, 422, "body")
            assert err["error"] == "json_too_deep"
            assert time.monotonic() - started < 2
    # shallow but wide is fine (and brackets inside strings do not count)
    resp = await client.post("/api/v1/auth/login", data=json.dumps({"code": "[" * 5000, "scene": None}), headers=JSON)
    assert resp.status == 422  # code longer than 128: the schema's own answer
    assert (await resp.json())["details"]["field"] == "code"


async def test_json_text_with_nul_or_lone_surrogate_names_the_field(client):
    await DistributionSettings.filter(id=1).update(promote_mode=PromoteMode.approved)
    token, _ = await login(client, code="nul-user")
    for raw, field in (('{"real_name": "a\\u0000b"}', "real_name"), ('{"note": "\\ud800"}', "note"),
                       ('{"phone": "1\\udfff"}', "phone")):
        resp = await client.post("/api/v1/promoter/apply", data=raw, headers={**JSON, **auth(token)})
        err = await _error(resp, 422, field)
        assert err["error"] == "invalid_text"
    # raw invalid UTF-8 bytes in the body
    resp = await client.post("/api/v1/promoter/apply", data=b'{"note": "\xed\xa0\x80"}', headers={**JSON, **auth(token)})
    await _error(resp, 422, "body")
    # NaN, 64-bit overflow, an object key with NUL
    resp = await client.post("/api/v1/orders", data='{"items": [{"sku_id": NaN, "quantity": 1}]}',
                             headers={**JSON, **auth(token)})
    await _error(resp, 422, "body")
    resp = await client.post("/api/v1/orders", data='{"items": [{"sku_id": 1' + "0" * 30 + ', "quantity": 1}]}',
                             headers={**JSON, **auth(token)})
    await _error(resp, 422, "items.0.sku_id")
    resp = await client.post("/api/v1/orders", data='{"a\\u0000": 1}', headers={**JSON, **auth(token)})
    await _error(resp, 422, "body")


async def test_nul_bytes_in_admin_text_fields_are_refused_before_the_database(client):
    headers = await _operator(client)
    resp = await client.post("/api/admin/v1/categories", json={"name": "蔬\x00菜"}, headers=headers)
    await _error(resp, 422, "name")
    resp = await client.post("/api/admin/v1/products", headers=headers, json={
        "title": "苹果\x00", "category_id": None, "skus": [{"code": "A-1", "price_fen": 100, "stock": 1}]})
    await _error(resp, 422, "title")
    csv = "product_title,category,sku_code,price_fen,stock\n苹果,水果,A\x00-1,100,1\n"
    resp = await client.post("/api/admin/v1/products/import", data=csv.encode(),
                             headers={**headers, "Content-Type": "text/csv"})
    await _error(resp, 422, "csv")
    assert await Category.all().count() == 0 and await Product.all().count() == 0


async def test_pay_notify_headers_long_timestamp_and_non_ascii_signature(client, rt):
    now = str(int(time.time()))
    cases = [
        {"Wechatpay-Timestamp": "9" * 400},
        {"Wechatpay-Timestamp": "²" + now[1:]},
        {"Wechatpay-Signature": "abcé"},
        {"Wechatpay-Nonce": "n\u00ff"},
        {"Wechatpay-Serial": rt.wechat.pay.public_key_id + "é"},
    ]
    for path in ("/api/v1/pay/notify", "/api/v1/pay/refund-notify", "/api/v1/pay/transfer-notify"):
        for override in cases:
            headers = {"Wechatpay-Signature": "c2ln", "Wechatpay-Timestamp": now, "Wechatpay-Nonce": "nonce",
                       "Wechatpay-Serial": rt.wechat.pay.public_key_id, **JSON, **override}
            resp = await client.post(path, data=b"{}", headers=headers)
            body = await resp.json()
            assert resp.status == 401, (path, override, body)
            assert body["code"] == "FAIL" and body["error"] == "signature_invalid"


async def _raw_request(port: int, head: bytes) -> tuple[int, bytes]:
    """Send bytes the HTTP client libraries refuse to send (non-UTF-8 header values)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head)
    await writer.drain()
    data = await reader.read(65536)
    writer.close()
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in data else b""


async def test_non_utf8_bytes_in_signature_headers_are_a_400(client, settings, rt):
    now = str(int(time.time())).encode()
    for path in (b"/api/v1/pay/notify", b"/api/v1/pay/transfer-notify"):
        for name in (b"Wechatpay-Signature", b"Wechatpay-Nonce", b"Wechatpay-Timestamp"):
            values = {b"Wechatpay-Signature": b"c2ln", b"Wechatpay-Nonce": b"n", b"Wechatpay-Timestamp": now,
                      b"Wechatpay-Serial": rt.wechat.pay.public_key_id.encode()}
            values[name] = values[name] + b"\xff\xfe"
            head = b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
            head += b"".join(k + b": " + v + b"\r\n" for k, v in values.items()) + b"Connection: close\r\n\r\n{}"
            status, body = await _raw_request(settings.port, head)
            assert status in (400, 401), (path, name, status, body)
            if status == 400:
                data = json.loads(body)
                assert data["error"] == "invalid_header" and data["details"]["field"] == "headers." + name.decode()
    # any header: an X-Request-Id with such bytes is refused, and not echoed back
    reader, writer = await asyncio.open_connection("127.0.0.1", settings.port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: a\xff\r\nConnection: close\r\n\r\n")
    data = await reader.read(65536)
    writer.close()
    head = data.split(b"\r\n\r\n", 1)[0]
    assert data.startswith(b"HTTP/1.1 400") and b"\xff" not in head and b"X-Request-Id: a\r\n" not in head, data


async def test_wecom_callback_long_timestamp_and_non_ascii_signature(client):
    for query in ("msg_signature=a&timestamp=" + "9" * 400 + "&nonce=n&echostr=x",
                  "msg_signature=a%C3%A9&timestamp=" + str(int(time.time())) + "&nonce=n&echostr=x",
                  "msg_signature=a&timestamp=%C2%B2&nonce=n&echostr=x",
                  "msg_signature=a&timestamp=1&nonce=n%ED%A0%80&echostr=x"):
        for method in ("GET", "POST"):
            resp = await client.request(method, "/bot/wecom/callback?" + query, data=b"<xml/>")
            body = await resp.json()
            assert resp.status in (403, 422), (query, body)
            assert body["details"].get("field"), body


async def test_query_and_path_text(client):
    user = await make_user()
    headers = auth(token_for(user))
    resp = await client.get("/api/v1/products?keyword=a%00b")
    await _error(resp, 422, "keyword")
    resp = await client.get("/api/v1/products?keyword=" + "x" * 2000)
    await _error(resp, 422, "keyword")
    for bad in ("%C2%B2", "%D9%A1%D9%A2", "%EF%BC%91", "1" * 25, "-1", "0"):
        resp = await client.get(f"/api/v1/orders/{bad}", headers=headers)
        await _error(resp, 422, "id")
    resp = await client.get("/api/v1/orders/12", headers=headers)
    assert resp.status == 404


async def test_admin_search_keyword_longer_than_the_sku_code_column(client):
    headers = await _operator(client)
    for keyword in ("x" * 65, "x" * 100):
        resp = await client.get("/api/admin/v1/products", params={"keyword": keyword}, headers=headers)
        body = await resp.json()
        assert resp.status == 200, body
    resp = await client.get("/api/admin/v1/products", params={"keyword": "x" * 101}, headers=headers)
    await _error(resp, 422, "keyword")


async def test_every_documented_operation_declares_400(client):
    doc = await (await client.get("/api/v1/openapi.json")).json()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert "400" in op["responses"], (method, path)
            if "requestBody" in op:
                assert "413" in op["responses"] and "422" in op["responses"], (method, path)


async def test_users_table_untouched_by_refused_logins(client):
    resp = await client.post("/api/v1/auth/login", data='{"code": "x\\u0000"}', headers=JSON)
    await _error(resp, 422, "code")
    assert await User.all().count() == 0


async def test_a_value_a_column_refuses_is_a_422_not_a_500(aiohttp_client):
    """Safety net for the class "text longer than its column": the ORM's own check (a filter or
    write with a value past max_length) becomes a 422 naming the field."""
    from aiohttp import web
    from tortoise.exceptions import ValidationError as TortoiseValidationError

    from huituan.core.web.http import request_context_middleware

    async def handler(request):
        raise TortoiseValidationError("code: Length of 'xxxx' 100 > 64")

    app = web.Application(middlewares=[request_context_middleware])
    app.router.add_get("/x", handler)
    client = await aiohttp_client(app)
    resp = await client.get("/x")
    await _error(resp, 422, "code")


async def test_an_idempotency_key_or_authorization_given_twice_is_a_400(client):
    """Which key did the client mean? aiohttp's headers.get took the first copy (attacker pass,
    session 7): two copies are refused at the edge, before any handler."""
    user = await make_user()
    for name, values in (("Idempotency-Key", ("k-1", "k-2")), ("Authorization", (f"Bearer {token_for(user)}",) * 2)):
        headers = [(name, v) for v in values]
        if name != "Authorization":
            headers.append(("Authorization", f"Bearer {token_for(user)}"))
        resp = await client.post("/api/v1/orders", data=b"{}", headers=headers)
        answer = await resp.json()
        assert resp.status == 400 and answer["error"] == "duplicate_header", answer
        assert answer["details"]["field"] == f"headers.{name}"
    assert await Order.all().count() == 0
