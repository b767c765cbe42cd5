"""WeCom emulator, under /sandbox/wecom (paths and errcodes of https://qyapi.weixin.qq.com).

- GET  /cgi-bin/gettoken          corpid&corpsecret
- POST /cgi-bin/media/upload      temporary media, multipart field ``media``; only type=image is
  emulated: a real PNG or JPEG (Pillow opens it) of 6 bytes .. 2 MB, else 40004 (type), 44001
  (no media field), 40005 (not a PNG/JPEG), 40006 (size); stored under its media_id for 3 days
- POST /cgi-bin/message/send      app message, recorded (text / markdown / image with a known
  media_id, else 40007; an image record carries its media_id and ``image``: format, width,
  height, size, sha256)
- POST /cgi-bin/webhook/send      group robot, recorded with its key (keys starting sandbox-robot)
Test / demo helpers:
- GET  /sandbox/wecom/media/{media_id}  the uploaded bytes (404 when unknown)
- POST /sandbox/wecom/expire-tokens
- POST /sandbox/wecom/send-to-bot  {"from_user", "content", "msg_id"?}: a member writes to the
  bot. Builds WeCom's text message XML, encrypts it with the callback crypto, POSTs it to our
  /bot/wecom/callback?msg_signature=&timestamp=&nonce= and decrypts our reply:
  {"status", "reply": <decrypted reply XML or null>, "reply_content": <its Content or null>}
"""

from __future__ import annotations

import hashlib
import io
import secrets
import time
import xml.etree.ElementTree as ET
from typing import Any
from xml.sax.saxutils import escape

import aiohttp
from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from PIL import Image, UnidentifiedImageError
from wechatpy.work.crypto import WeChatCrypto

from huituan.core.sandbox import keys
from huituan.core.sandbox.state import SANDBOX_KEY, SandboxState, sandbox_route
from huituan.core.sandbox.wechat import _json, authed_json, check_token, err, issue_token, ok

PREFIX = "/sandbox/wecom"
IMAGE_MAX_BYTES = 2 * 1024 * 1024
MEDIA_MIN_BYTES = 6  # WeCom: every file is larger than 5 bytes
MEDIA_SECONDS = 3 * 86400  # a temporary media_id is good for three days
IMAGE_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg"}


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


def _image_message(state: SandboxState, data: dict[str, Any]) -> dict[str, Any] | web.Response:
    """The record of an image message (its media and what the image is), or WeCom's answer."""
    image = data.get("image")
    media_id = image.get("media_id") if isinstance(image, dict) else None
    if not media_id or not isinstance(media_id, str):
        return err(41006, "media_id missing")
    media = state.media.get(media_id)
    if media is None or media["expires_at"] < time.time():
        return err(40007, "invalid media_id")
    info = {k: media[k] for k in ("format", "width", "height", "size", "sha256")}
    # "content" stays in every record (empty for an image) so readers of text messages need no case
    return {"msgtype": "image", "content": "", "media_id": media_id, "image": info}


async def message_send(request: web.Request) -> web.Response:
    got = await authed_json(request, "wecom", (40058, "invalid json"))
    if isinstance(got, web.Response):
        return got
    state, data = got
    if str(data.get("agentid")) != keys.SANDBOX_AGENT_ID:
        return err(40056, "invalid agentid")
    if data.get("msgtype") == "image":
        record = _image_message(state, data)
        if isinstance(record, web.Response):
            return record
    else:
        got = _message(data)
        if isinstance(got, web.Response):
            return got
        record = {"msgtype": got[0], "content": got[1]}
    if not (data.get("touser") or data.get("toparty") or data.get("totag")):
        return err(40031, "invalid userid list")
    if await state.maybe_hold():
        return err(-1, "system busy")
    failure = state.take_failure("wecom")
    if failure is not None:
        return err(failure, "sandbox: failure asked for by POST /sandbox/fail-next")
    msgid = f"sandbox-msg-{state.next_seq()}"
    state.wecom_messages.append({"touser": data.get("touser"), **record, "agentid": data.get("agentid"),
                                 "msgid": msgid})
    return ok(invaliduser="", invalidparty="", invalidtag="", unlicenseduser="", msgid=msgid)


async def _media_part(request: web.Request) -> tuple[str, bytes, int] | web.Response:
    """(filename, the first IMAGE_MAX_BYTES + 1 bytes, full size) of the ``media`` field."""
    try:
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader) or part.name != "media":
                continue
            kept, size = bytearray(), 0
            while chunk := await part.read_chunk(64 * 1024):  # read it all, keep no more than the limit
                size += len(chunk)
                if len(kept) <= IMAGE_MAX_BYTES:
                    kept += chunk[: IMAGE_MAX_BYTES + 1 - len(kept)]
            return part.filename or "", bytes(kept), size
    except (AssertionError, ValueError, KeyError, HttpProcessingError):  # not multipart, or a broken body
        pass
    return err(44001, "empty media data, no multipart media field")


def _image_info(content: bytes) -> dict[str, Any] | None:
    """Format and size of a PNG or JPEG that Pillow opens and verifies, else None."""
    try:
        with Image.open(io.BytesIO(content)) as img:
            fmt, (width, height) = img.format, img.size
            img.verify()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError):
        return None
    if fmt not in IMAGE_FORMATS:
        return None
    return {"format": fmt.lower(), "width": width, "height": height}


async def media_upload(request: web.Request) -> web.Response:
    state = _state(request)
    bad = check_token(state, request.query.get("access_token"), "wecom")
    if bad:
        return bad
    kind = request.query.get("type")
    if kind not in ("image", "voice", "video", "file"):
        return err(40004, "invalid media type")
    if kind != "image":
        return err(40004, "invalid media type, the sandbox emulates type=image only")
    got = await _media_part(request)
    if isinstance(got, web.Response):
        return got
    filename, content, size = got
    if not MEDIA_MIN_BYTES <= size <= IMAGE_MAX_BYTES:
        return err(40006, f"invalid file size {size}, an image is 6 bytes to {IMAGE_MAX_BYTES} bytes")
    info = _image_info(content)
    if info is None:
        return err(40005, "invalid file type, an image is a PNG or JPEG")
    failure = state.take_failure("media")
    if failure is not None:
        return err(failure, "sandbox: failure asked for by POST /sandbox/fail-next")
    now = time.time()
    media_id = f"sandbox-media-{state.next_seq()}-{secrets.token_hex(8)}"
    state.media[media_id] = {**info, "type": kind, "filename": filename, "size": size,
                             "sha256": hashlib.sha256(content).hexdigest(), "content": content,
                             "created_at": int(now), "expires_at": now + MEDIA_SECONDS}
    return ok(type=kind, media_id=media_id, created_at=str(int(now)))


async def media_content(request: web.Request) -> web.Response:
    media = _state(request).media.get(request.match_info["media_id"])
    if media is None:
        return web.json_response({"error": "media not found"}, status=404)
    return web.Response(body=media["content"], content_type=IMAGE_FORMATS[media["format"].upper()])


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
    sandbox_route(app, "POST", f"{PREFIX}/cgi-bin/media/upload", media_upload)
    sandbox_route(app, "POST", f"{PREFIX}/cgi-bin/message/send", message_send)
    sandbox_route(app, "POST", f"{PREFIX}/cgi-bin/webhook/send", webhook_send)
    sandbox_route(app, "GET", f"{PREFIX}/media/{{media_id}}", media_content)
    sandbox_route(app, "POST", f"{PREFIX}/expire-tokens", expire_tokens)
    sandbox_route(app, "POST", f"{PREFIX}/send-to-bot", send_to_bot)
