"""HTTP edge plumbing shared by every route module: request ids, error mapping, body parsing."""

from __future__ import annotations

import itertools
import json
import logging
import os
import time
import uuid
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from huituan.core.errors import HuituanError, ValidationFailed, pydantic_message
from huituan.core.logging import log_fields, request_id_var

log = logging.getLogger("huituan.http")

M = TypeVar("M", bound=BaseModel)

def validation_error_from_pydantic(exc: ValidationError, prefix: str = "") -> ValidationFailed:
    errors = []
    for err in exc.errors(include_url=False):
        field = ".".join(str(p) for p in err.get("loc", ()) if p != "__root__")
        if prefix:
            field = f"{prefix}.{field}" if field else prefix
        text = pydantic_message(err)
        errors.append({"field": field or "body", "message": text, "type": err["type"]})
    first = errors[0]
    return ValidationFailed(f"{first['field']}: {first['message']}", field=first["field"], errors=errors)


async def parse_json(request: web.Request, model: type[M]) -> M:
    """Read the JSON body and validate it; errors name the field."""
    raw = await request.read()
    if not raw:
        data: Any = {}
    else:
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise ValidationFailed("请求体不是合法的 JSON", field="body", code="invalid_json") from None
    if not isinstance(data, dict):
        raise ValidationFailed("请求体必须是 JSON 对象", field="body", code="invalid_json")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error_from_pydantic(exc) from None


def parse_query(request: web.Request, model: type[M]) -> M:
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise validation_error_from_pydantic(exc) from None


def path_int(request: web.Request, name: str) -> int:
    value = request.match_info.get(name, "")
    try:
        number = int(value)
    except ValueError:
        raise ValidationFailed(f"{name} 应为整数", field=name) from None
    if number <= 0 or number > 2**62:
        raise ValidationFailed(f"{name} 超出范围", field=name)
    return number


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str).encode(),
        status=status,
        content_type="application/json",
    )


def error_response(err: HuituanError) -> web.Response:
    return json_response(err.to_dict(), status=err.status)


# A random per-process prefix and a counter: unique across processes, cheaper than uuid4.
_REQUEST_ID_PREFIX = uuid.uuid4().hex[:12]
_request_counter = itertools.count(1)


def _new_request_id_prefix() -> None:
    global _REQUEST_ID_PREFIX, _request_counter
    _REQUEST_ID_PREFIX = uuid.uuid4().hex[:12]
    _request_counter = itertools.count(1)


# `serve --workers` forks after import: each worker needs its own prefix.
os.register_at_fork(after_in_child=_new_request_id_prefix)


def _next_request_id() -> str:
    return f"{_REQUEST_ID_PREFIX}{next(_request_counter):012x}"


@web.middleware
async def request_context_middleware(request: web.Request, handler):
    """Request id on every response and every log line; errors mapped to the JSON shape."""
    rid = request.headers.get("X-Request-Id") or _next_request_id()
    if len(rid) > 64:
        rid = rid[:64]
    token = request_id_var.set(rid)
    started = time.perf_counter()
    status = 500
    try:
        try:
            response = await handler(request)
        except HuituanError as err:
            response = error_response(err)
        except web.HTTPException as exc:
            if exc.status >= 400:
                code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(exc.status, "http_error")
                message = {404: "接口不存在", 405: "请求方法不支持", 413: "请求体过大"}.get(exc.status, "请求有误")
                response = json_response({"error": code, "message": message, "details": {}}, status=exc.status)
            else:
                raise
        except Exception:  # never a stack trace in a response
            log.exception("unhandled error on %s %s", request.method, request.path)
            response = json_response(
                {"error": "internal_error", "message": "服务器开小差了，请稍后再试", "details": {"request_id": rid}},
                status=500,
            )
        status = response.status
        response.headers["X-Request-Id"] = rid
        return response
    finally:
        elapsed = time.perf_counter() - started
        route = request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
        observe = request.app.get(REQUEST_OBSERVER_KEY)
        if observe is not None:
            observe(request.method, route, status, elapsed)
        if status >= 500 or log.isEnabledFor(logging.DEBUG):
            log_fields(log, logging.INFO, "request", method=request.method, path=request.path,
                       route=route, status=status, ms=round(elapsed * 1000, 2))
        request_id_var.reset(token)


REQUEST_OBSERVER_KEY = web.AppKey("request_observer", object)
