"""The app factory: one aiohttp application serves the mini-program API, the admin API,
the WeCom bot callback, operations endpoints and (with no app id configured) the sandbox."""

from __future__ import annotations

import importlib
import logging
import os
import socket

import aiohttp
from aiohttp import web

from core.db import close_db, init_db
from core.redis import close_redis, create_redis
from core.runtime import Runtime, set_runtime
from core.settings import Settings
from miniapp_api.auth import active_operator_middleware
from miniapp_api.http import request_context_middleware
from miniapp_api.keys import RUNTIME_KEY, SETTINGS_KEY

log = logging.getLogger("huituan.app")

# Each module exposes ``setup(app)``; the order only matters for the docs page.
ROUTE_MODULES: tuple[str, ...] = (
    "miniapp_api.routes.ops",
    "miniapp_api.routes.auth",
    "miniapp_api.routes.catalog",
    "miniapp_api.routes.addresses",
    "miniapp_api.routes.orders",
    "miniapp_api.routes.pay",
    "miniapp_api.routes.pickup",
    "miniapp_api.routes.promoter",
    "miniapp_api.admin.routes",
    "miniapp_api.admin.distribution",
    "bot.callback",
    "miniapp_api.routes.docs",
)

WITH_JOBS_KEY = web.AppKey("with_jobs", bool)


async def start_runtime(settings: Settings) -> Runtime:
    from core.wechat.clients import create_wechat_clients

    await init_db(settings.database_url, settings.database_pool_max)
    redis = create_redis(settings.redis_url, settings.redis_pool_max)
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
    wechat = create_wechat_clients(settings, http, redis)
    rt = Runtime(settings=settings, redis=redis, http=http, wechat=wechat,
                 node=f"{socket.gethostname()}:{os.getpid()}:{settings.port}")
    set_runtime(rt)
    return rt


async def stop_runtime(rt: Runtime) -> None:
    set_runtime(None)
    from services.outbox import wait_idle

    await wait_idle()  # kicked deliveries finish before their clients and database close
    await rt.wechat.aclose()  # the pay client's own httpx client (wechatpayv3)
    await rt.http.close()
    await close_redis(rt.redis)
    await close_db()


async def _runtime_ctx(app: web.Application):
    rt = await start_runtime(app[SETTINGS_KEY])
    app[RUNTIME_KEY] = rt
    yield
    await stop_runtime(rt)


async def _jobs_ctx(app: web.Application):
    if not app[WITH_JOBS_KEY]:
        yield
        return
    from jobs.scheduler import JobsRunner

    runner = JobsRunner(app[RUNTIME_KEY])
    await runner.start()
    yield
    await runner.stop()


def create_app(settings: Settings, *, with_jobs: bool = False) -> web.Application:
    app = web.Application(middlewares=[request_context_middleware, active_operator_middleware],
                          client_max_size=2 * 1024 * 1024)
    app[SETTINGS_KEY] = settings
    app[WITH_JOBS_KEY] = with_jobs
    app.cleanup_ctx.append(_runtime_ctx)
    app.cleanup_ctx.append(_jobs_ctx)
    for name in ROUTE_MODULES:
        importlib.import_module(name).setup(app)
    if settings.sandbox:
        from core.sandbox import setup_sandbox

        setup_sandbox(app, settings)
    return app
