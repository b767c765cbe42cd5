import json
import pytest
from tests.factories import auth, login, make_product, make_user, token_for
from huituan.services.operators import create_operator


async def show(label, resp):
    text = await resp.text()
    print(f"{label}: {resp.status} {text[:160]}")


async def test_repro(client, rt):
    r = await client.post("/api/v1/auth/login", json={"code": "abc", "scene": "r=²"})
    await show("scene r=²", r)
    r = await client.post("/api/v1/auth/login", json={"code": "abc"})
    await show("relogin", r)
    r = await client.post("/api/v1/auth/login", json={"code": "abd", "scene": "r=١٢"})
    await show("scene arabic", r)
    deep = "[" * 100000 + "]" * 100000
    r = await client.post("/api/v1/auth/login", data=deep, headers={"Content-Type": "application/json"})
    await show("deep json", r)
    deep = '{"code":' + "[" * 100000 + "]" * 100000 + "}"
    r = await client.post("/api/v1/auth/login", data=deep, headers={"Content-Type": "application/json"})
    await show("deep json2", r)
    for path in ("/api/v1/pay/notify", "/api/v1/pay/refund-notify", "/api/v1/pay/transfer-notify"):
        h = {"Wechatpay-Signature": "abc", "Wechatpay-Timestamp": "9" * 400, "Wechatpay-Nonce": "n",
             "Wechatpay-Serial": rt.wechat.pay.public_key_id}
        r = await client.post(path, data=b"{}", headers=h)
        await show("long ts " + path, r)
        import time
        h["Wechatpay-Timestamp"] = str(int(time.time()))
        h["Wechatpay-Signature"] = "abcé"
        r = await client.post(path, data=b"{}", headers=h)
        await show("nonascii sig " + path, r)
    r = await client.get("/bot/wecom/callback?msg_signature=a&timestamp=" + "9" * 400 + "&nonce=n&echostr=x")
    await show("wecom long ts", r)
    r = await client.get("/bot/wecom/callback?msg_signature=a%C3%A9&timestamp=1&nonce=n&echostr=x")
    await show("wecom nonascii", r)
    tok, user = await login(client, code="u9")
    r = await client.post("/api/v1/promoter/apply", data=json.dumps({"note": "\ud800"}), headers={**auth(tok), "Content-Type": "application/json"})
    await show("surrogate apply", r)
    r = await client.post("/api/v1/promoter/apply", data='{"note": "\\ud800", "real_name": "a\\u0000b"}', headers={**auth(tok), "Content-Type": "application/json"})
    await show("surrogate escaped apply", r)
    r = await client.post("/api/v1/promoter/apply", data='{"real_name": "a\\u0000b"}', headers={**auth(tok), "Content-Type": "application/json"})
    await show("nul apply", r)
    await create_operator("op1", "op-pass-123")
    r = await client.post("/api/admin/v1/auth/login", json={"username": "op1", "password": "op-pass-123"})
    otok = (await r.json())["token"]
    r = await client.get("/api/admin/v1/products", params={"keyword": "x" * 100}, headers=auth(otok))
    await show("long keyword", r)
    r = await client.get("/api/v1/orders/3000000000", headers=auth(tok))
    await show("big id", r)
    r = await client.get("/api/v1/orders/%C2%B2", headers=auth(tok))
    await show("sup2 id", r)
    r = await client.get("/api/v1/products?page=%00", headers=auth(tok))
    await show("nul query", r)
    r = await client.get("/api/v1/products?keyword=%ff", headers=auth(tok))
    await show("ff query", r)
    r = await client.get("/api/v1/products?keyword=%ed%a0%80", headers=auth(tok))
    await show("surrogate query", r)
    r = await client.get("/api/v1/products?keyword=a%00b", headers=auth(tok))
    await show("nul keyword", r)
    r = await client.get("/api/v1/products?category_id=3000000000", headers=auth(tok))
    await show("big category", r)
    r = await client.get("/api/v1/products/%ed%a0%80", headers=auth(tok))
    await show("surrogate path", r)
