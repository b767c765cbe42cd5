"""The composition root: one aiohttp application serves the mini-program API, the admin API,
the WeCom bot callback, operations endpoints and (with no app id configured) the sandbox,
and runs the scheduler. Every part is registered here by a plain call."""

from __future__ import annotations

import logging
import os
import socket

import aiohttp
from aiohttp import web

from huituan import bot, miniapp_api
from huituan.core.db import close_db, init_db
from huituan.core.redis import close_redis, create_redis
from huituan.core.runtime import Runtime, set_runtime
from huituan.core.sandbox import setup_sandbox
from huituan.core.settings import Settings
from huituan.core.web import metrics
from huituan.core.web.access_log import access_log_middleware, access_log_wanted
from huituan.core.web.auth import OPERATOR_GUARD_KEY, check_routes
from huituan.core.web.http import request_context_middleware
from huituan.core.web.keys import RUNTIME_KEY, SETTINGS_KEY
from huituan.core.wechat.clients import create_wechat_clients
from huituan.jobs.schedule import SCHEDULE
from huituan.jobs.scheduler import JobsRunner
from huituan.models import MODEL_APP
from huituan.posters import registry
from huituan.posters import service as posters
from huituan.services import leader_store, outbox
from huituan.services.activities import bargain, flash_queue, group_buy
from huituan.services.operators import ensure_active_operator
from huituan.wiring import wire_services

log = logging.getLogger("huituan.app")

WITH_JOBS_KEY = web.AppKey("with_jobs", bool)


async def start_runtime(settings: Settings) -> Runtime:
    wire_services()
    await init_db(settings.database_url, MODEL_APP, settings.database_pool_max)
    redis = create_redis(settings.redis_url, settings.redis_pool_max)
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
    wechat = create_wechat_clients(settings, http, redis)
    rt = Runtime(settings=settings, redis=redis, http=http, wechat=wechat,
                 node=f"{socket.gethostname()}:{os.getpid()}:{settings.port}")
    set_runtime(rt)
    return rt


async def stop_runtime(rt: Runtime) -> None:
    set_runtime(None)
    await outbox.wait_idle()  # kicked deliveries finish before their clients and database close
    await rt.wechat.aclose()  # the pay client's own httpx client (wechatpayv3)
    await rt.http.close()
    await close_redis(rt.redis)
    await close_db()


async def _runtime_ctx(app: web.Application):
    rt = await start_runtime(app[SETTINGS_KEY])
    app[RUNTIME_KEY] = rt
    yield
    try:
        # Won flash-sale claims still waiting for their orders: finish them while Redis and the
        # database are open. What does not finish stays pending for recover_pending.
        await flash_queue.drain(timeout=10)
    except TimeoutError as exc:
        log.warning("stopping with flash orders still queued: %s", exc)
    await stop_runtime(rt)


async def _group_buy_invite(group_id: int) -> registry.GroupBuyInvite | None:
    data = await group_buy.group_poster_data(group_id)
    return registry.GroupBuyInvite(**data) if data else None


async def _bargain_help(bargain_id: int) -> registry.BargainHelp | None:
    data = await bargain.bargain_poster_data(bargain_id)
    return registry.BargainHelp(**data) if data else None


async def _leader_store(leader_id: int) -> registry.LeaderStore | None:
    data = await leader_store.store_poster_data(leader_id)
    return registry.LeaderStore(**data) if data else None


def register_poster_kinds() -> None:
    """Poster kinds whose data another domain owns (huituan.posters.registry)."""
    registry.register_group_buy(_group_buy_invite)
    registry.register_bargain(_bargain_help)
    registry.register_leader_store(_leader_store)


async def _posters_ctx(app: web.Application):
    """The poster service of this process: render pool, caches, code source. Worker processes
    start in the background so the first poster pays no start-up (not in tests: lazily)."""
    rt = app[RUNTIME_KEY]
    svc = posters.start_service(rt)
    warm = None
    if rt.settings.env != "test":
        import asyncio

        warm = asyncio.create_task(svc.pool.warm_up(posters.sample_job()))
    yield
    if warm is not None and not warm.done():
        warm.cancel()
    await outbox.wait_idle()  # a kicked poster delivery (wecom_poster) finishes with its service
    await posters.stop_service(rt)


async def _jobs_ctx(app: web.Application):
    if not app[WITH_JOBS_KEY]:
        yield
        return
    runner = JobsRunner(app[RUNTIME_KEY], SCHEDULE, observe_job=app[metrics.METRICS_KEY].observe_job)
    await runner.start()
    yield
    await runner.stop()


def create_app(settings: Settings, *, with_jobs: bool = False) -> web.Application:
    wire_services()
    middlewares = [request_context_middleware]
    if access_log_wanted(settings.access_log):
        middlewares.insert(0, access_log_middleware)
    app = web.Application(middlewares=middlewares, client_max_size=2 * 1024 * 1024)
    app[SETTINGS_KEY] = settings
    app[WITH_JOBS_KEY] = with_jobs
    app[OPERATOR_GUARD_KEY] = ensure_active_operator
    app.cleanup_ctx.append(_runtime_ctx)
    app.cleanup_ctx.append(_posters_ctx)
    app.cleanup_ctx.append(_jobs_ctx)
    metrics.install(app)  # GET /metrics, and every request observed into it
    register_poster_kinds()
    miniapp_api.register(app)
    bot.register(app)
    if settings.sandbox:
        setup_sandbox(app, settings)
    miniapp_api.register_docs(app)  # last: the docs describe every route above
    check_routes(app)  # every route declared its auth, or the process does not start
    return app


async def run_jobs_forever(settings: Settings) -> None:
    """``huituan jobs``: the scheduler without the HTTP server, until SIGTERM or SIGINT."""
    import asyncio
    import contextlib
    import signal

    rt = await start_runtime(settings)
    # The outbox job delivers wecom_poster rows here too: the poster kinds and service it renders with.
    register_poster_kinds()
    posters.start_service(rt)
    runner = JobsRunner(rt, SCHEDULE)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await runner.start()
        await stop.wait()
        log.info("stopping scheduler")
    finally:
        await runner.stop()
        await outbox.wait_idle()
        await posters.stop_service(rt)
        await stop_runtime(rt)
