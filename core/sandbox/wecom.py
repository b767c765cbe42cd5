"""WeCom emulator, under /sandbox/wecom (paths and errcodes of https://qyapi.weixin.qq.com).

- GET  /cgi-bin/gettoken          corpid&corpsecret
- POST /cgi-bin/message/send      app message, recorded (text / markdown)
- POST /cgi-bin/webhook/send      group robot, recorded with its key (keys starting sandbox-robot)
Test / demo helpers:
- POST /sandbox/wecom/expire-tokens
- POST /sandbox/wecom/send-to-bot  {"from_user", "content", "msg_id"?}: a member writes to the
  bot. Builds WeCom's text message XML, encrypts it with the callback crypto, POSTs it to our
  /bot/wecom/callback?msg_signature=&timestamp=&nonce= and decrypts our reply:
  {"status", "reply": <decrypted reply XML or null>, "reply_content": <its Content or null>}
"""

from __future__ import annotations

import secrets
import time
import xml.etree.ElementTree as ET
from typing import Any
from xml.sax.saxutils import escape

import aiohttp
from aiohttp import web
from wechatpy.work.crypto import WeChatCrypto

from huituan.core.sandbox import keys
from huituan.core.sandbox.state import SANDBOX_KEY, SandboxState, sandbox_route
from huituan.core.sandbox.wechat import _json, authed_json, err, issue_token, ok

PREFIX = "/sandbox/wecom"


def callback_crypto() -> WeChatCrypto:
    return WeChatCrypto(keys.SANDBOX_WECOM_TOKEN, keys.SANDBOX_WECOM_AES_KEY, keys.SANDBOX_CORP_ID)


def _state(request: web.Request) -> SandboxState:
    return request.app[SANDBOX_KEY]


def _message(data: dict[str, Any]) -> tuple[str, str] | web.Response:
    """(msgtype, content) of a text or markdown message, or WeCom's answer for a bad one."""
    msgtype = data.get("msgtype")
    if msgtype not in ("text", "markdown"):
        return err(40008, "invalid message type")
    content = (data.get(msgtype) or {}).get("content")
    if not content:
        return err(41009, "missing content")
    return msgtype, content


async def gettoken(request: web.Request) -> web.Response:
    q = request.query
    if q.get("corpid") != keys.SANDBOX_CORP_ID:
        return err(40013, "invalid corpid")
    if q.get("corpsecret") != keys.SANDBOX_CORP_SECRET:
        return err(40001, "invalid secret")
    return ok(access_token=issue_token(_state(request), "wecom"), expires_in=7200)


async def message_send(request: web.Request) -> web.Response:
    got = await authed_json(request, "wecom", (40058, "invalid json"))
    if isinstance(got, web.Response):
        return got
    state, data = got
    if str(data.get("agentid")) != keys.SANDBOX_AGENT_ID:
        return err(40056, "invalid agentid")
    got = _message(data)
    if isinstance(got, web.Response):
        return got
    msgtype, content = got
    if not (data.get("touser") or data.get("toparty") or data.get("totag")):
        return err(40031, "invalid userid list")
    if await state.maybe_hold():
        return err(-1, "system busy")
    failure = state.take_failure("wecom")
    if failure is not None:
        return err(failure, "sandbox: failure asked for by POST /sandbox/fail-next")
    msgid = f"sandbox-msg-{state.next_seq()}"
    state.wecom_messages.append({"touser": data.get("touser"), "msgtype": msgtype, "content": content,
                                 "agentid": data.get("agentid"), "msgid": msgid})
    return ok(invaliduser="", invalidparty="", invalidtag="", unlicenseduser="", msgid=msgid)


async def webhook_send(request: web.Request) -> web.Response:
    state = _state(request)
    # The platform robot, or any leader robot whose key starts with "sandbox-robot".
    if not (request.query.get("key") or "").startswith(keys.SANDBOX_ROBOT_KEY.removesuffix("-key")):
        return err(93000, "invalid webhook url")
    data = await _json(request)
    if data is None:
        return err(40058, "invalid json")
    got = _message(data)
    if isinstance(got, web.Response):
        return got
    msgtype, content = got
    if len(content.encode("utf-8")) > 4096:
        return err(40058, "markdown.content exceed max length 4096")
    failure = state.take_failure("robot")
    if failure is not None:
        return err(failure, "sandbox: failure asked for by POST /sandbox/fail-next")
    state.robot_pushes.append({"msgtype": msgtype, "content": content, "seq": state.next_seq(),
                               "key": request.query.get("key")})
    return ok()


async def expire_tokens(request: web.Request) -> web.Response:
    n = 0
    for info in _state(request).tokens.values():
        if info["kind"] == "wecom" and not info["expired"]:
            info["expired"] = True
            n += 1
    return web.json_response({"expired": n})


def text_message_xml(from_user: str, content: str, msg_id: str | int, create_time: int | None = None) -> str:
    def cdata(v: str) -> str:
        return "<![CDATA[" + v.replace("]]>", "]]]]><![CDATA[>") + "]]>"

    return (
        "<xml>"
        f"<ToUserName>{cdata(keys.SANDBOX_CORP_ID)}</ToUserName>"
        f"<FromUserName>{cdata(from_user)}</FromUserName>"
        f"<CreateTime>{create_time or int(time.time())}</CreateTime>"
        f"<MsgType>{cdata('text')}</MsgType>"
        f"<Content>{cdata(content)}</Content>"
        f"<MsgId>{escape(str(msg_id))}</MsgId>"
        f"<AgentID>{keys.SANDBOX_AGENT_ID}</AgentID>"
        "</xml>"
    )


def encrypt_for_callback(xml: str, *, timestamp: str | None = None, nonce: str | None = None) -> tuple[dict[str, str], str]:
    """(query params, POST body) exactly as WeCom calls our callback URL."""
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or secrets.token_hex(5)
    envelope = ET.fromstring(callback_crypto().encrypt_message(xml, nonce, timestamp))
    encrypt = envelope.findtext("Encrypt")
    signature = envelope.findtext("MsgSignature")
    body = (
        "<xml>"
        f"<ToUserName><![CDATA[{keys.SANDBOX_CORP_ID}]]></ToUserName>"
        f"<Encrypt><![CDATA[{encrypt}]]></Encrypt>"
        f"<AgentID><![CDATA[{keys.SANDBOX_AGENT_ID}]]></AgentID>"
        "</xml>"
    )
    return {"msg_signature": signature, "timestamp": timestamp, "nonce": nonce}, body


def decrypt_reply(text: str) -> str | None:
    """Our encrypted passive reply -> its plain XML (None when there is no reply)."""
    if not text or not text.strip().startswith("<"):
        return None
    root = ET.fromstring(text)
    if root.findtext("Encrypt") is None:
        return text  # a plain reply: WeCom would reject it, but show it
    return callback_crypto().decrypt_message(
        text, root.findtext("MsgSignature"), root.findtext("TimeStamp"), root.findtext("Nonce")
    )


async def send_to_bot(request: web.Request) -> web.Response:
    state = _state(request)
    data = await _json(request) or {}
    from_user = data.get("from_user") or "sandbox-user"
    content = data.get("content") or ""
    msg_id = data.get("msg_id") or str(7_000_000_000_000_000_000 + state.next_seq())
    params, body = encrypt_for_callback(text_message_xml(from_user, content, msg_id))
    url = f"{state.settings.base_url()}/bot/wecom/callback"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        async with session.post(url, params=params, data=body.encode("utf-8"),
                                headers={"Content-Type": "text/xml"}) as resp:
            status, text = resp.status, await resp.text()
    result: dict[str, Any] = {"status": status, "msg_id": msg_id, "reply": None, "reply_content": None}
    if status == 200:
        try:
            reply = decrypt_reply(text)
        except Exception as exc:  # noqa: BLE001 - show the problem to the demo / test
            return web.json_response({**result, "reply_error": repr(exc), "raw": text[:2000]})
        result["reply"] = reply
        if reply:
            result["reply_content"] = ET.fromstring(reply).findtext("Content")
    else:
        result["raw"] = text[:2000]
    return web.json_response(result)


def setup(app: web.Application) -> None:
    sandbox_route(app, "GET", f"{PREFIX}/cgi-bin/gettoken", gettoken)
    sandbox_route(app, "POST", f"{PREFIX}/cgi-bin/message/send", message_send)
    sandbox_route(app, "POST", f"{PREFIX}/cgi-bin/webhook/send", webhook_send)
    sandbox_route(app, "POST", f"{PREFIX}/expire-tokens", expire_tokens)
    sandbox_route(app, "POST", f"{PREFIX}/send-to-bot", send_to_bot)
