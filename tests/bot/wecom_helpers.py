"""Acting as WeCom: encrypt a member's text with wechatpy's WeChatCrypto, post it to our
callback, decrypt the passive reply; plus the people of a leader day (operator, leaders)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import xmltodict
from wechatpy.work.crypto import WeChatCrypto

from huituan.core.sandbox import keys
from huituan.services.leaders import issue_bind_code
from huituan.services.operators import create_operator
from tests.factories import auth, login

URL = "/bot/wecom/callback"
CRYPTO = WeChatCrypto(keys.SANDBOX_WECOM_TOKEN, keys.SANDBOX_WECOM_AES_KEY, keys.SANDBOX_CORP_ID)


def text_xml(content: str, sender: str, msg_id: str | None = None) -> str:
    content = content.replace("]]>", "]]]]><![CDATA[>")
    return (
        f"<xml><ToUserName><![CDATA[{keys.SANDBOX_CORP_ID}]]></ToUserName>"
        f"<FromUserName><![CDATA[{sender}]]></FromUserName><CreateTime>{int(time.time())}</CreateTime>"
        f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content>"
        f"<MsgId>{msg_id or str(uuid.uuid4().int)[:18]}</MsgId><AgentID>{keys.SANDBOX_AGENT_ID}</AgentID></xml>"
    )


async def say(client, sender: str, content: str, msg_id: str | None = None) -> str:
    """One message from ``sender`` through the real callback; the decrypted reply text."""
    ts, nonce = str(int(time.time())), uuid.uuid4().hex[:10]
    envelope = xmltodict.parse(CRYPTO.encrypt_message(text_xml(content, sender, msg_id), nonce, ts))["xml"]
    body = (f"<xml><ToUserName><![CDATA[{keys.SANDBOX_CORP_ID}]]></ToUserName>"
            f"<Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt><AgentID>1</AgentID></xml>")
    resp = await client.post(URL, params={"msg_signature": envelope["MsgSignature"], "timestamp": ts,
                                          "nonce": nonce}, data=body)
    assert resp.status == 200, await resp.text()
    raw = await resp.text()
    if not raw:
        return ""
    env = xmltodict.parse(raw)["xml"]
    plain = CRYPTO.decrypt_message(raw, env["MsgSignature"], env["TimeStamp"], env["Nonce"])
    reply = xmltodict.parse(plain)["xml"]
    assert reply["ToUserName"] == sender
    return reply["Content"]


async def linked_operator(client, wecom_userid: str = "ops-li", username: str = "ops-li") -> Any:
    """An operator linked the way operators are: the code `huituan create-operator` prints."""
    op = await create_operator(username, "password-123", display_name="运营小李")
    code = await issue_bind_code("operator", op.id)
    assert "绑定成功" in await say(client, wecom_userid, f"绑定 {code}")
    return op


POINT_FORM = {"province": "浙江省", "city": "杭州市", "district": "西湖区", "business_hours": "08:00-21:00"}


async def apply_leader(client, login_code: str, name: str, phone: str, point_name: str, address: str,
                       lat: float, lng: float) -> tuple[str, dict[str, Any]]:
    token, _ = await login(client, login_code)
    resp = await client.post("/api/v1/leader/apply", headers=auth(token), json={
        "name": name, "phone": phone, "point_name": point_name, "address": address, "latitude": lat,
        "longitude": lng, **POINT_FORM})
    data = await resp.json()
    assert resp.status == 201, data
    return token, data


async def link_leader(client, token: str, wecom_userid: str) -> None:
    resp = await client.post("/api/v1/leader/wecom-bind-code", headers=auth(token))
    data = await resp.json()
    assert resp.status == 201, data
    assert "绑定成功" in await say(client, wecom_userid, f"绑定 {data['code']}")


async def sandbox_outbox(client) -> dict[str, Any]:
    from huituan.services import outbox

    await outbox.wait_idle()
    return await (await client.get("/sandbox/outbox")).json()
