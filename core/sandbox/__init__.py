"""The WeChat sandbox: an in-process emulator of the WeChat, WeChat Pay and WeCom endpoints
we use, with the real JSON shapes, error codes and v3 signatures, plus helpers that play the
user's part (pay, confirm a transfer, write to the bot) and show what we sent.

Mounted at /sandbox only when no app id is configured. Routes are declared with auth=sandbox
and stay out of the OpenAPI document.

- /sandbox/wechat/...  mini-program server API   (core.sandbox.wechat)
- /sandbox/pay/...     WeChat Pay API v3         (core.sandbox.pay)
- /sandbox/wecom/...   WeCom API + bot driver    (core.sandbox.wecom)
- GET /sandbox/outbox  everything our service sent (subscribe messages, WeCom, robot),
  and ``control`` {"holding", "failures"}
- POST /sandbox/fail-next {"count", "errcode", "api"?: subscribe|wecom|robot|media|any}: the next
  ``count`` sends (media: WeCom media uploads) answer ``errcode`` (temporary like -1 or 45009,
  permanent like 43101)
- POST /sandbox/hold {"after"}: let ``after`` sends through, then hold the next one until
  POST /sandbox/release (it is answered -1 and never recorded: a sender killed mid-way)
"""

from __future__ import annotations

from aiohttp import web

from huituan.core.sandbox.state import SANDBOX_KEY, SandboxState, sandbox_route
from huituan.core.settings import Settings

__all__ = ["SANDBOX_KEY", "SandboxState", "setup_sandbox"]


async def _outbox(request: web.Request) -> web.Response:
    state = request.app[SANDBOX_KEY]
    return web.json_response({
        "subscribe_messages": state.subscribe_messages,
        "wecom_messages": state.wecom_messages,
        "robot_pushes": state.robot_pushes,
        "control": {"holding": state.holding, "failures": [r for r in state.failures if r["left"] > 0]},
    })


async def _body(request: web.Request) -> dict:
    try:
        data = await request.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


async def _fail_next(request: web.Request) -> web.Response:
    data = await _body(request)
    api = data.get("api") or "any"
    if api not in ("subscribe", "wecom", "robot", "media", "any"):
        return web.json_response({"error": "api: subscribe|wecom|robot|media|any"}, status=400)
    try:
        rule = {"api": api, "errcode": int(data.get("errcode", -1)), "left": int(data.get("count", 1))}
    except (TypeError, ValueError):
        return web.json_response({"error": "count and errcode are integers"}, status=400)
    request.app[SANDBOX_KEY].failures.append(rule)
    return web.json_response(rule)


async def _hold(request: web.Request) -> web.Response:
    data = await _body(request)
    state = request.app[SANDBOX_KEY]
    state.hold_after = max(int(data.get("after", 0) or 0), 0)
    return web.json_response({"after": state.hold_after})


async def _release(request: web.Request) -> web.Response:
    state = request.app[SANDBOX_KEY]
    state.hold_after = None
    state.release.set()
    return web.json_response({"released": True})


def setup_sandbox(app: web.Application, settings: Settings) -> None:
    from huituan.core.sandbox import pay, wechat, wecom

    app[SANDBOX_KEY] = SandboxState(settings=settings)
    sandbox_route(app, "GET", "/sandbox/outbox", _outbox)
    sandbox_route(app, "POST", "/sandbox/fail-next", _fail_next)
    sandbox_route(app, "POST", "/sandbox/hold", _hold)
    sandbox_route(app, "POST", "/sandbox/release", _release)
    wechat.setup(app)
    pay.setup(app)
    wecom.setup(app)
