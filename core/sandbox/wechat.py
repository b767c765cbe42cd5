"""Mini-program server API emulator, under /sandbox/wechat (same paths, JSON and errcodes as
https://api.weixin.qq.com).

- GET  /cgi-bin/token                      grant_type=client_credential&appid&secret
- POST /cgi-bin/stable_token               {grant_type, appid, secret, force_refresh?}
- GET  /sns/jscode2session                 any code -> a stable openid; "invalid" -> 40029
- POST /wxa/business/getuserphonenumber    code -> a stable 13800xxxxxx; "invalid" -> 40029
- POST /wxa/getwxacodeunlimit              a real PNG QR (page + scene); bad scene -> 40169
- POST /cgi-bin/message/subscribe/send     recorded; openid starting "o-refused" -> 43101;
                                           a value breaking its data type (thing > 20 ...) -> 47003
- POST /wxa/sec/order/upload_shipping_info   小程序发货信息录入: checks the payment exists and is
                                           paid (10060001), logistics_type 1..4 (10060005), express
                                           needs tracking_no + express_company (10060014) with a
                                           known company code (10060025), a third
                                           upload of one payment is 10060003; recorded
- POST /wxa/sec/order/notify_confirm_receive 确认收货提醒: needs an uploaded payment (10060001/10060004)
Test helpers:
- POST /sandbox/wechat/expire-tokens       every issued token now answers 42001
- GET  /sandbox/wechat/stats               {"token_fetches": n}
- GET  /sandbox/wechat/shipping            {transaction_id: {"state", "uploads", "confirm_receive"}}
- POST /sandbox/wechat/shipping/fail-next  {"api": "upload_shipping_info"|"notify_confirm_receive",
                                           "errcode"?: -1, "count"?: 1}: the next calls answer errcode
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import re
import secrets
import time
from typing import Any

from aiohttp import web

from huituan.core.sandbox import keys
from huituan.core.sandbox.state import SANDBOX_KEY, SandboxState, sandbox_route

PREFIX = "/sandbox/wechat"
SCENE_RE = re.compile(r"^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]{1,32}$")


def err(errcode: int, errmsg: str) -> web.Response:
    rid = secrets.token_hex(4)
    return web.json_response({"errcode": errcode, "errmsg": f"{errmsg} rid: {rid}"})


def ok(**data: Any) -> web.Response:
    return web.json_response({"errcode": 0, "errmsg": "ok", **data})


def check_token(state: SandboxState, token: str | None, kind: str) -> web.Response | None:
    """WeChat's answer for a bad token, or None when the token is good."""
    info = state.tokens.get(token or "")
    if not token:
        return err(41001, "access_token missing")
    if info is None or info["kind"] != kind:
        return err(40001, "invalid credential, access_token is invalid or not latest")
    if info["expired"] or info["expires_at"] < time.time():
        return err(42001, "access_token expired")
    return None


def issue_token(state: SandboxState, kind: str) -> str:
    token = f"{kind.upper()}_{secrets.token_urlsafe(48)}"
    state.tokens[token] = {"kind": kind, "expired": False, "expires_at": time.time() + 7200}
    state.token_fetches[kind] = state.token_fetches.get(kind, 0) + 1
    return token


async def _json(request: web.Request) -> dict[str, Any] | None:
    try:
        data = json.loads(await request.read() or b"{}")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _state(request: web.Request) -> SandboxState:
    return request.app[SANDBOX_KEY]


async def authed_json(request: web.Request, kind: str, bad_json: tuple[int, str]) -> tuple[SandboxState, dict[str, Any]] | web.Response:
    """The preamble of every API call with an access token and a JSON body: the state and the
    body, or WeChat's answer for a bad token (``check_token``) or a body that is not a JSON object."""
    state = _state(request)
    bad = check_token(state, request.query.get("access_token"), kind)
    if bad:
        return bad
    data = await _json(request)
    if data is None:
        return err(*bad_json)
    return state, data


def _check_app(appid: str | None, secret: str | None) -> web.Response | None:
    if appid != keys.SANDBOX_APPID:
        return err(40013, "invalid appid")
    if secret != keys.SANDBOX_APP_SECRET:
        return err(40125, "invalid appsecret")
    return None


async def token(request: web.Request) -> web.Response:
    q = request.query
    if q.get("grant_type") != "client_credential":
        return err(40002, "invalid grant_type")
    problem = _check_app(q.get("appid"), q.get("secret"))
    if problem:
        return problem
    return web.json_response({"access_token": issue_token(_state(request), "mp"), "expires_in": 7200})


async def stable_token(request: web.Request) -> web.Response:
    data = await _json(request)
    if data is None or data.get("grant_type") != "client_credential":
        return err(40002, "invalid grant_type")
    problem = _check_app(data.get("appid"), data.get("secret"))
    if problem:
        return problem
    return web.json_response({"access_token": issue_token(_state(request), "mp"), "expires_in": 7200})


def openid_for(code: str) -> str:
    return "o" + hashlib.sha1(code.encode()).hexdigest()[:27]


async def jscode2session(request: web.Request) -> web.Response:
    q = request.query
    problem = _check_app(q.get("appid"), q.get("secret"))
    if problem:
        return problem
    if q.get("grant_type") != "authorization_code":
        return err(40002, "invalid grant_type")
    code = q.get("js_code", "")
    if not code or code == "invalid":
        return err(40029, "invalid code")
    if code == "used":
        return err(40163, "code been used")
    session_key = base64_key(code)
    return web.json_response({"openid": openid_for(code), "session_key": session_key,
                              "unionid": "u" + hashlib.sha1(b"union:" + code.encode()).hexdigest()[:27]})


def base64_key(seed: str) -> str:
    import base64

    return base64.b64encode(hashlib.sha256(b"session:" + seed.encode()).digest()[:16]).decode()


def phone_for(code: str) -> str:
    return "13800" + str(int(hashlib.sha1(b"phone:" + code.encode()).hexdigest(), 16))[-6:].rjust(6, "0")


async def getuserphonenumber(request: web.Request) -> web.Response:
    got = await authed_json(request, "mp", (47001, "data format error"))
    if isinstance(got, web.Response):
        return got
    state, data = got
    code = data.get("code") or ""
    if not code or code == "invalid":
        return err(40029, "invalid code")
    if code == "used":  # as documented for both codes (docs/DEVELOPING.md)
        return err(40163, "code been used")
    phone = phone_for(code)
    return ok(phone_info={
        "phoneNumber": phone, "purePhoneNumber": phone, "countryCode": "86",
        "watermark": {"timestamp": int(time.time()), "appid": keys.SANDBOX_APPID},
    })


async def getwxacodeunlimit(request: web.Request) -> web.Response:
    got = await authed_json(request, "mp", (47001, "data format error"))
    if isinstance(got, web.Response):
        return got
    state, data = got
    scene = data.get("scene")
    if not isinstance(scene, str) or not SCENE_RE.match(scene):
        return err(40169, "invalid length for scene, or the data is not json string")
    page = data.get("page") or ""
    if page.startswith("/"):
        return err(41030, "invalid page")
    width = data.get("width", 430)
    if not isinstance(width, int) or not 280 <= width <= 1280:
        width = min(max(int(width) if isinstance(width, int) else 430, 280), 1280)
    # Off the event loop: the emulator shares its process with the service it emulates for.
    png = await asyncio.to_thread(render_qr, f"{page or 'pages/index/index'}?scene={scene}", width)
    return web.Response(body=png, content_type="image/png")


def render_qr(text: str, width: int) -> bytes:
    import qrcode
    from PIL import Image

    # A fixed mask pattern: qrcode's search for the best of eight is most of its cost.
    qr = qrcode.QRCode(border=2, box_size=1, mask_pattern=2)
    qr.add_data(text)
    qr.make(fit=True)
    n = qr.modules_count + 4
    bits = bytes(0 if 2 <= r < n - 2 and 2 <= c < n - 2 and qr.modules[r - 2][c - 2] else 255
                 for r in range(n) for c in range(n))
    img = Image.frombytes("L", (n, n), bits).convert("RGB").resize((width, width), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


async def subscribe_send(request: web.Request) -> web.Response:
    got = await authed_json(request, "mp", (47001, "data format error"))
    if isinstance(got, web.Response):
        return got
    state, data = got
    touser = data.get("touser") or ""
    if not touser:
        return err(40003, "invalid openid")
    if not data.get("template_id"):
        return err(40037, "invalid template_id")
    if touser.startswith("o-refused"):
        return err(43101, "user refuse to accept the msg")
    if await state.maybe_hold():
        return err(-1, "system error")
    failure = state.take_failure("subscribe")
    if failure is not None:
        return err(failure, "sandbox: failure asked for by POST /sandbox/fail-next")
    values = data.get("data") or {}
    if not isinstance(values, dict) or any(not isinstance(v, dict) or "value" not in v for v in values.values()):
        return err(47003, "argument invalid! data.value is empty")
    for key, v in values.items():
        problem = value_problem(key, str(v["value"]))
        if problem:
            return err(47003, f"argument invalid! data.{key}.value {problem}")
    state.subscribe_messages.append({
        "touser": touser, "template_id": data["template_id"], "page": data.get("page"),
        "data": values, "miniprogram_state": data.get("miniprogram_state"), "lang": data.get("lang"),
        "msgid": state.next_seq(),
    })
    return ok(msgid=state.seq)


# WeChat's limits per keyword data type (the keyword name is the type plus a number).
_LIMITS = {"thing": 20, "character_string": 32, "number": 32, "letter": 32, "symbol": 5, "phrase": 5,
           "phone_number": 17, "car_number": 8, "name": 20, "amount": 32, "time": 32, "date": 32}
_ASCII_ONLY = ("character_string", "number", "letter", "symbol", "phone_number", "amount")


def value_problem(key: str, value: str) -> str | None:
    """What WeChat would refuse in one keyword value, or None. Checks length (in characters),
    ASCII-only types, and phrase = Chinese only."""
    kind = re.sub(r"\d+$", "", key)
    limit = _LIMITS.get(kind)
    if limit is None:
        return None
    if not value:
        return "empty"
    if len(value) > limit:
        return f"exceeds {limit} characters"
    if kind in _ASCII_ONLY and kind != "amount" and not value.isascii():
        return "must be letters, digits or symbols"
    if kind == "phrase" and not all("\u4e00" <= ch <= "\u9fff" for ch in value):
        return "must be Chinese characters"
    return None


async def expire_tokens(request: web.Request) -> web.Response:
    state = _state(request)
    n = 0
    for info in state.tokens.values():
        if info["kind"] == "mp" and not info["expired"]:
            info["expired"] = True
            n += 1
    return web.json_response({"expired": n})


async def stats(request: web.Request) -> web.Response:
    state = _state(request)
    return web.json_response({"token_fetches": state.token_fetches["mp"]})


SHIPPING_APIS = ("upload_shipping_info", "notify_confirm_receive")
SHIPPING_ERRMSG = {-1: "system error", 10060001: "支付单不存在", 10060003: "支付单已使用重新发货机会",
                   10060004: "支付单处于不可发货的状态", 10060005: "物流类型有误",
                   10060014: "参数错误", 10060019: "系统繁忙，请稍后重试", 10060025: "物流公司编码有误"}
# A part of WeChat's delivery company list (运力 id).
EXPRESS_COMPANY_CODES = frozenset({"SF", "YTO", "ZTO", "STO", "YUNDA", "JD", "EMS", "JTSD", "DBL", "HTKY", "ZJS"})


def _injected_failure(state: SandboxState, api: str) -> web.Response | None:
    queued = state.fail_next.get(api) or []
    if queued:
        code = queued.pop(0)
        return err(code, SHIPPING_ERRMSG.get(code, "injected failure"))
    return None


def _paid_transaction(state: SandboxState, transaction_id: str) -> dict[str, Any] | None:
    return next((o for o in state.orders.values()
                 if o.get("transaction_id") == transaction_id and o["trade_state"] in ("SUCCESS", "REFUND")), None)


async def upload_shipping_info(request: web.Request) -> web.Response:
    state = _state(request)
    bad = check_token(state, request.query.get("access_token"), "mp")
    if bad:
        return bad
    data = await _json(request)
    if data is None:
        return err(47001, "data format error")
    failure = _injected_failure(state, "upload_shipping_info")
    if failure:
        return failure
    key = data.get("order_key") or {}
    transaction_id = str(key.get("transaction_id") or "")
    if key.get("order_number_type") != 2 or not transaction_id:
        return err(10060014, "参数错误: order_key")
    if _paid_transaction(state, transaction_id) is None:
        return err(10060001, SHIPPING_ERRMSG[10060001])
    logistics_type = data.get("logistics_type")
    if logistics_type not in (1, 2, 3, 4):
        return err(10060005, SHIPPING_ERRMSG[10060005])
    shipping_list = data.get("shipping_list")
    if not isinstance(shipping_list, list) or not shipping_list or \
            any(not isinstance(x, dict) or not x.get("item_desc") for x in shipping_list):
        return err(10060014, "参数错误: shipping_list.item_desc")
    if logistics_type == 1 and any(not x.get("tracking_no") or not x.get("express_company") for x in shipping_list):
        return err(10060014, "参数错误: tracking_no / express_company")
    if logistics_type == 1 and any(x["express_company"] not in EXPRESS_COMPANY_CODES for x in shipping_list):
        return err(10060025, SHIPPING_ERRMSG[10060025])
    if not (data.get("payer") or {}).get("openid") or not data.get("upload_time"):
        return err(10060014, "参数错误: payer.openid / upload_time")
    record = state.shipping.setdefault(transaction_id, {"state": "shipped", "uploads": [], "confirm_receive": []})
    if len(record["uploads"]) >= 2:  # the first upload and one correction
        return err(10060003, SHIPPING_ERRMSG[10060003])
    record["uploads"].append({"logistics_type": logistics_type, "delivery_mode": data.get("delivery_mode"),
                              "shipping_list": shipping_list, "upload_time": data["upload_time"],
                              "payer": data["payer"]})
    return ok()


async def notify_confirm_receive(request: web.Request) -> web.Response:
    state = _state(request)
    bad = check_token(state, request.query.get("access_token"), "mp")
    if bad:
        return bad
    data = await _json(request)
    if data is None:
        return err(47001, "data format error")
    failure = _injected_failure(state, "notify_confirm_receive")
    if failure:
        return failure
    transaction_id = str(data.get("transaction_id") or "")
    if not transaction_id or not isinstance(data.get("received_time"), int):
        return err(10060014, "参数错误: transaction_id / received_time")
    if _paid_transaction(state, transaction_id) is None:
        return err(10060001, SHIPPING_ERRMSG[10060001])
    record = state.shipping.get(transaction_id)
    if record is None:  # nothing was shipped: nothing to confirm
        return err(10060004, SHIPPING_ERRMSG[10060004])
    record["confirm_receive"].append({"received_time": data["received_time"]})
    record["state"] = "confirm_reminded"
    return ok()


async def shipping_state(request: web.Request) -> web.Response:
    return web.json_response(_state(request).shipping)


async def shipping_fail_next(request: web.Request) -> web.Response:
    data = await _json(request) or {}
    api = data.get("api")
    if api not in SHIPPING_APIS:
        return web.json_response({"error": f"api must be one of {SHIPPING_APIS}"}, status=400)
    count = data.get("count", 1)
    errcode = data.get("errcode", -1)
    if not isinstance(count, int) or not 1 <= count <= 100 or not isinstance(errcode, int) or errcode == 0:
        return web.json_response({"error": "count 1..100, errcode a non-zero integer"}, status=400)
    _state(request).fail_next.setdefault(api, []).extend([errcode] * count)
    return web.json_response({"api": api, "queued": len(_state(request).fail_next[api])})


def setup(app: web.Application) -> None:
    sandbox_route(app, "GET", f"{PREFIX}/cgi-bin/token", token)
    sandbox_route(app, "POST", f"{PREFIX}/cgi-bin/stable_token", stable_token)
    sandbox_route(app, "GET", f"{PREFIX}/sns/jscode2session", jscode2session)
    sandbox_route(app, "POST", f"{PREFIX}/wxa/business/getuserphonenumber", getuserphonenumber)
    sandbox_route(app, "POST", f"{PREFIX}/wxa/getwxacodeunlimit", getwxacodeunlimit)
    sandbox_route(app, "POST", f"{PREFIX}/cgi-bin/message/subscribe/send", subscribe_send)
    sandbox_route(app, "POST", f"{PREFIX}/expire-tokens", expire_tokens)
    sandbox_route(app, "GET", f"{PREFIX}/stats", stats)
    sandbox_route(app, "POST", f"{PREFIX}/wxa/sec/order/upload_shipping_info", upload_shipping_info)
    sandbox_route(app, "POST", f"{PREFIX}/wxa/sec/order/notify_confirm_receive", notify_confirm_receive)
    sandbox_route(app, "GET", f"{PREFIX}/shipping", shipping_state)
    sandbox_route(app, "POST", f"{PREFIX}/shipping/fail-next", shipping_fail_next)
