"""Operations endpoints: liveness and readiness (database, Redis, the outbox's unhandled kinds)."""

from __future__ import annotations

from aiohttp import web
from tortoise import connections

from huituan.core.web.auth import Auth
from huituan.core.web.http import json_response
from huituan.core.web.keys import RUNTIME_KEY
from huituan.core.web.metrics import METRICS_KEY
from huituan.core.web.openapi import api
from huituan.services import outbox


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME_KEY]
    checks: dict[str, str] = {}
    details: dict[str, object] = {}
    try:
        await connections.get("default").execute_query("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # readiness reports, it does not raise
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        await rt.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
    if checks["database"] == "ok":
        # Rows nobody can deliver are a wiring fault: the service is up, but it says so.
        unhandled = await outbox.unhandled_kinds()
        metrics = request.app.get(METRICS_KEY)
        if metrics is not None:
            metrics.observe_unhandled(unhandled)
        details["outbox_unhandled"] = unhandled
        checks["outbox"] = "ok" if not unhandled else "unhandled kinds: " + ", ".join(sorted(unhandled))
    ok = checks["database"] == "ok" and checks["redis"] == "ok"
    return json_response({"status": "ok" if ok else "unavailable", "checks": checks, **details},
                         status=200 if ok else 503)


def setup(app: web.Application) -> None:
    api(app, "GET", "/healthz", healthz, summary="存活检查", tag="ops", auth=Auth.public, public=False)
    api(app, "GET", "/readyz", readyz, summary="就绪检查（数据库、Redis、发件箱）", tag="ops", auth=Auth.public, public=False)
