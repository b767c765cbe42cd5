"""The WeChat sandbox: an in-process emulator of the WeChat, WeChat Pay and WeCom endpoints
we use, with the real JSON shapes, error codes and v3 signatures, plus helpers that play the
user's part (pay, confirm a transfer, write to the bot) and show what we sent.

Mounted at /sandbox only when no app id is configured. Routes are declared with auth=sandbox
and stay out of the OpenAPI document.

- /sandbox/wechat/...  mini-program server API   (core.sandbox.wechat)
- /sandbox/pay/...     WeChat Pay API v3         (core.sandbox.pay)
- /sandbox/wecom/...   WeCom API + bot driver    (core.sandbox.wecom)
- GET /sandbox/outbox  everything our service sent (subscribe messages, WeCom, robot)
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
    })


def setup_sandbox(app: web.Application, settings: Settings) -> None:
    from huituan.core.sandbox import pay, wechat, wecom

    app[SANDBOX_KEY] = SandboxState(settings=settings)
    sandbox_route(app, "GET", "/sandbox/outbox", _outbox)
    wechat.setup(app)
    pay.setup(app)
    wecom.setup(app)
