"""One JSON access-log line per request (``HUITUAN_ACCESS_LOG``, on by default): method, path,
route, status, latency and the request id, read from the response the inner
``request_context_middleware`` produced (it maps every error to a response, so nothing
escapes here except a client that went away)."""

from __future__ import annotations

import logging
import time

from aiohttp import web

from huituan.core.logging import log_fields

log = logging.getLogger("huituan.access")


def access_log_wanted(enabled: bool) -> bool:
    """Whether to install the middleware: the setting is on and its INFO lines would be written
    (with HUITUAN_LOG_LEVEL above INFO every request would pay for lines nobody writes)."""
    return enabled and log.isEnabledFor(logging.INFO)


@web.middleware
async def access_log_middleware(request: web.Request, handler):
    started = time.perf_counter()
    status = 499  # the client went away before a response existed
    request_id = request.headers.get("X-Request-Id", "-")[:64]
    try:
        response = await handler(request)
        status = response.status
        request_id = response.headers.get("X-Request-Id", request_id)
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        if log.isEnabledFor(logging.INFO):
            resource = request.match_info.route.resource
            log_fields(log, logging.INFO, "access", request_id=request_id, method=request.method, path=request.path,
                       route=resource.canonical if resource else "unmatched", status=status,
                       ms=round((time.perf_counter() - started) * 1000, 2))
