"""The WeCom (企业微信) app callback: GET verifies the URL, POST receives encrypted messages.

Order matters (docs/ARCHITECTURE.md, Edges: verify first): timestamp freshness and the signature are checked
before anything is decrypted, parsed or stored. WeCom retries a message it got no answer for
within 5 s, so messages are deduplicated by MsgId in Redis and a retry gets the first reply
again instead of running the command twice.

Registered on the router directly: the callback is not part of the mini-program API document.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping

import xmltodict
from aiohttp import web
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.work import create_reply, parse_message

from huituan.bot.commands import BotContext, pick, run
from huituan.core.errors import Forbidden, ServiceUnavailable, ValidationFailed
from huituan.core.inbound import ascii_int, ascii_token
from huituan.core.web.auth import Auth
from huituan.core.web.keys import RUNTIME_KEY
from huituan.core.web.openapi import api
from huituan.services import leaders, outbox

log = logging.getLogger("huituan.bot")

CALLBACK_PATH = "/bot/wecom/callback"
MAX_SKEW_SECONDS = 300
MAX_BODY_BYTES = 64 * 1024
DEDUPE_SECONDS = 86400
NON_TEXT_REPLY = "目前只支持文字指令，发送「帮助」查看可用指令。"
SLOW_ACK = "收到，正在处理，完成后会单独发消息给您。"
_background: set[asyncio.Task] = set()


def _crypto(request: web.Request):
    rt = request.app[RUNTIME_KEY]
    crypto = getattr(getattr(rt.wechat, "wecom", None), "crypto", None)
    if crypto is None:
        raise ServiceUnavailable("企业微信回调未配置（HUITUAN_WECOM_TOKEN / HUITUAN_WECOM_ENCODING_AES_KEY）",
                                 code="wecom_not_configured")
    return crypto


def _signed_params(request: web.Request) -> tuple[str, str, str]:
    return parse_signed_params(request.query)


def parse_signed_params(q: Mapping[str, str], now: float | None = None) -> tuple[str, str, str]:
    """(msg_signature, timestamp, nonce) from WeCom's query string, before anything is trusted:
    a 403 (Forbidden) for anything missing, malformed or stale; never another error."""
    signature, timestamp, nonce = q.get("msg_signature", ""), q.get("timestamp", ""), q.get("nonce", "")
    if not (signature and timestamp and nonce):
        raise Forbidden("签名参数缺失", code="signature_invalid", field="msg_signature")
    # Attacker-chosen until verified: printable ASCII of WeCom's lengths, ASCII-digit timestamp
    # (a 400-digit one overflowed the comparison below; '²' passed str.isdigit).
    if not (ascii_token(signature, max_chars=64) and ascii_token(nonce, max_chars=64)):
        raise Forbidden("签名参数格式不正确", code="signature_invalid", field="msg_signature")
    ts = ascii_int(timestamp, low=0, high=10**12, max_digits=12)
    if ts is None:
        raise Forbidden("时间戳格式不正确", code="signature_invalid", field="timestamp")
    if abs((time.time() if now is None else now) - ts) > MAX_SKEW_SECONDS:
        raise Forbidden("请求已过期", code="timestamp_expired")
    return signature, timestamp, nonce


async def verify_url(request: web.Request) -> web.Response:
    """WeCom's URL check: answer with the decrypted echostr."""
    signature, timestamp, nonce = _signed_params(request)
    echostr = request.query.get("echostr", "")
    if not echostr or not ascii_token(echostr, max_chars=1024):
        raise Forbidden("缺少 echostr", code="signature_invalid")
    crypto = _crypto(request)
    try:
        plain = crypto.check_signature(signature, timestamp, nonce, echostr)
    except InvalidSignatureException:
        raise Forbidden("签名校验失败", code="signature_invalid") from None
    except Exception:  # bad padding, wrong corp id: not from WeCom
        raise Forbidden("回调内容无法解密", code="decrypt_failed") from None
    return web.Response(text=plain if isinstance(plain, str) else plain.decode(), content_type="text/plain")


def _dedupe_key(msg) -> str:
    msg_id = getattr(msg, "id", None)
    if msg_id:
        return f"bot:wecom:msg:{msg_id}"
    # Events carry no MsgId: sender + time + event identify a retry.
    return f"bot:wecom:evt:{msg.source}:{int(msg.time.timestamp()) if hasattr(msg.time, 'timestamp') else msg.time}:{getattr(msg, 'event', msg.type)}"


def _reply(crypto, msg, text: str, nonce: str) -> web.Response:
    if not text:
        # An empty body tells WeCom "received, no reply".
        return web.Response(text="", content_type="text/plain")
    xml = create_reply(text, message=msg, render=True)
    encrypted = crypto.encrypt_message(xml, nonce, str(int(time.time())))
    return web.Response(text=encrypted, content_type="application/xml")


async def receive(request: web.Request) -> web.Response:
    signature, timestamp, nonce = _signed_params(request)
    crypto = _crypto(request)
    raw = await request.content.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise ValidationFailed("消息体过大", field="body")
    try:
        envelope = xmltodict.parse(raw)["xml"]
        if not isinstance(envelope, dict) or not envelope.get("Encrypt"):
            raise ValueError("no Encrypt")
    except Exception:
        raise ValidationFailed("消息体不是合法的企业微信回调", field="body") from None
    try:
        plain = crypto.decrypt_message(envelope, signature, timestamp, nonce)
    except InvalidSignatureException:
        log.warning("bot callback with a bad signature")
        raise Forbidden("签名校验失败", code="signature_invalid") from None
    except Exception:
        raise Forbidden("回调内容无法解密", code="decrypt_failed") from None
    try:
        _check_flat(plain)
        msg = parse_message(plain)
    except ValidationFailed:
        raise
    except Exception:
        raise ValidationFailed("消息格式不正确", field="body") from None

    rt = request.app[RUNTIME_KEY]
    key = _dedupe_key(msg)
    first = await rt.redis.set(key, "", nx=True, ex=DEDUPE_SECONDS)
    if not first:
        earlier = await rt.redis.get(key)
        log.info("bot message %s is a retry", key)
        return _reply(crypto, msg, earlier or "", nonce)

    try:
        if msg.type == "event":
            text = ""
        else:
            ctx = await _context(rt, msg.source, str(getattr(msg, "id", "") or ""))
            if msg.type != "text":
                text = NON_TEXT_REPLY if ctx.linked else (await _answer(rt, ctx, ""))
            else:
                text = await _answer(rt, ctx, msg.content or "")
    except BaseException:
        await rt.redis.delete(key)  # not answered: WeCom's retry is handled afresh, not replied to with nothing
        raise
    if text:
        await rt.redis.set(key, text, xx=True, ex=DEDUPE_SECONDS)
    return _reply(crypto, msg, text, nonce)


def _check_flat(plain: str) -> None:
    """A WeCom message is flat: each field one text element. Nested or repeated elements (a
    correctly encrypted message only WeCom can send, but no request ends in a 500) reached
    the services as dicts and lists."""
    fields = xmltodict.parse(plain).get("xml")
    if not isinstance(fields, dict):
        raise ValidationFailed("消息格式不正确", field="body")
    for name, value in fields.items():
        if value is not None and not isinstance(value, str):
            raise ValidationFailed(f"消息字段 {name} 格式不正确", field=f"body.{name}")


async def _context(rt, sender: str, msg_id: str = "") -> BotContext:
    operator, leader = await leaders.bot_identity(sender)
    return BotContext(rt, sender, operator, leader, msg_id=msg_id)


async def _answer(rt, ctx: BotContext, content: str) -> str:
    """The reply within WeCom's 5 seconds: a command slower than the budget is acknowledged
    now and its answer sent later through the WeCom message API (outbox wecom_message)."""
    cmd, args, reply = pick(ctx, content)
    if cmd is None:
        return reply
    task = asyncio.get_running_loop().create_task(run(ctx, cmd, args))
    done, _ = await asyncio.wait({task}, timeout=rt.settings.bot_reply_budget_seconds)
    if done:
        return task.result()
    _background.add(task)
    task.add_done_callback(lambda t: _deliver_later(rt, ctx.sender, t))
    return SLOW_ACK


def _deliver_later(rt, sender: str, task: asyncio.Task) -> None:
    _background.discard(task)
    if task.cancelled() or task.exception() is not None:
        return
    text = task.result()

    async def send() -> None:
        key = f"bot:late:{sender}:{id(task)}:{int(time.time() * 1000)}"
        await outbox.queue_wecom_text(sender, text, key)
        outbox.kick(rt)

    t = asyncio.get_running_loop().create_task(send())
    _background.add(t)
    t.add_done_callback(_background.discard)


async def wait_background() -> None:
    """Tests: wait until slow answers were queued."""
    while _background:
        await asyncio.gather(*list(_background), return_exceptions=True)


def setup(app: web.Application) -> None:
    # The signature is WeCom's own (msg_signature over token, timestamp, nonce, body): checked
    # first thing in both handlers. Not part of the mini-program API document.
    api(app, "GET", CALLBACK_PATH, verify_url, summary="企业微信回调地址校验", tag="bot", auth=Auth.wechat, public=False)
    api(app, "POST", CALLBACK_PATH, receive, summary="企业微信消息回调", tag="bot", auth=Auth.wechat, public=False)
