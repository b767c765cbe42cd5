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

from huituan.core.errors import HuituanError, ValidationFailed
from huituan.core.logging import log_fields, request_id_var

log = logging.getLogger("huituan.http")

M = TypeVar("M", bound=BaseModel)

# Chinese messages for the pydantic error types clients actually hit.
_PYDANTIC_MESSAGES = {
    "missing": "缺少必填字段",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数",
    "string_type": "应为字符串",
    "bool_type": "应为布尔值",
    "bool_parsing": "应为布尔值",
    "list_type": "应为数组",
    "dict_type": "应为对象",
    "model_type": "应为对象",
    "greater_than": "必须大于 {gt}",
    "greater_than_equal": "不能小于 {ge}",
    "less_than": "必须小于 {lt}",
    "less_than_equal": "不能大于 {le}",
    "string_too_short": "长度不能少于 {min_length}",
    "string_too_long": "长度不能超过 {max_length}",
    "too_short": "至少需要 {min_length} 项",
    "too_long": "最多 {max_length} 项",
    "enum": "取值必须是 {expected}",
    "literal_error": "取值必须是 {expected}",
    "string_pattern_mismatch": "格式不正确",
    "extra_forbidden": "不支持的字段",
    "json_invalid": "不是合法的 JSON",
    "value_error": "取值不正确",
    "datetime_parsing": "应为时间，格式如 2024-05-01T08:00:00+08:00",
    "datetime_from_date_parsing": "应为时间，格式如 2024-05-01T08:00:00+08:00 或日期 2024-05-01",
    "datetime_type": "应为时间，格式如 2024-05-01T08:00:00+08:00",
    "datetime_object_invalid": "时间不正确",
    "date_parsing": "应为日期，格式如 2024-05-01",
    "date_from_datetime_parsing": "应为日期，格式如 2024-05-01",
    "date_from_datetime_inexact": "应为日期（不带时间），格式如 2024-05-01",
    "date_type": "应为日期，格式如 2024-05-01",
    "time_parsing": "应为时刻，格式如 08:30",
    "time_type": "应为时刻，格式如 08:30",
    "timezone_aware": "时间必须带时区，如 +08:00",
    "timezone_naive": "时间不能带时区",
    "float_parsing": "应为数字",
    "float_type": "应为数字",
    "finite_number": "应为有限的数字",
    "decimal_parsing": "应为数字",
    "decimal_type": "应为数字",
    "decimal_max_places": "小数位数不能超过 {decimal_places} 位",
    "decimal_max_digits": "数字位数不能超过 {max_digits} 位",
    "multiple_of": "必须是 {multiple_of} 的倍数",
    "int_from_string": "应为整数",
    "string_sub_type": "应为字符串",
    "string_unicode": "应为合法的 UTF-8 字符串",
    "bytes_type": "应为字符串",
    "url_parsing": "应为网址（URL）",
    "url_scheme": "网址必须以 {expected_schemes} 开头",
    "url_type": "应为网址（URL）",
    "uuid_parsing": "应为 UUID",
    "uuid_type": "应为 UUID",
    "union_tag_invalid": "类型标记不正确",
    "union_tag_not_found": "缺少类型标记字段",
    "is_instance_of": "类型不正确",
    "model_attributes_type": "应为对象",
    "dataclass_type": "应为对象",
    "tuple_type": "应为数组",
    "set_type": "应为数组",
    "frozen_set_type": "应为数组",
    "iterable_type": "应为数组",
    "mapping_type": "应为对象",
    "json_type": "应为 JSON 字符串",
    "none_required": "必须为 null",
    "assertion_error": "取值不正确",
    "frozen_field": "该字段不能修改",
    "frozen_instance": "不能修改",
    "no_such_attribute": "不支持的字段",
    "get_attribute_error": "取值不正确",
    "list_too_long": "最多 {max_length} 项",
    "bool_from_float": "应为布尔值",
    "complex_type": "应为数字",
    "complex_str_parsing": "应为数字",
}


def validation_error_from_pydantic(exc: ValidationError, prefix: str = "") -> ValidationFailed:
    errors = []
    for err in exc.errors(include_url=False):
        field = ".".join(str(p) for p in err.get("loc", ()) if p != "__root__")
        if prefix:
            field = f"{prefix}.{field}" if field else prefix
        template = _PYDANTIC_MESSAGES.get(err["type"])
        ctx = err.get("ctx") or {}
        try:
            text = template.format(**ctx) if template else err["msg"]
        except (KeyError, IndexError):
            text = template or err["msg"]
        if err["type"] == "value_error" and ctx.get("error"):
            text = str(ctx["error"])
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
