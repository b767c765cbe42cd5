"""Operations endpoints: liveness, readiness (database and Redis), Prometheus metrics."""

from __future__ import annotations

from aiohttp import web
from tortoise import connections

from miniapp_api import metrics
from miniapp_api.http import json_response
from miniapp_api.keys import RUNTIME_KEY


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME_KEY]
    checks: dict[str, str] = {}
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
    ok = all(v == "ok" for v in checks.values())
    return json_response({"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503)


def setup(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    # GET /metrics, and every request observed into it (see miniapp_api.metrics).
    metrics.install(app)
