"""The one error hierarchy. Services raise these; each edge maps them.

Every error carries an English ``code`` (stable, for clients), a Chinese ``message`` (shown to
people) and ``details`` (for example the field that is wrong). The HTTP edge turns them into
``{"error": code, "message": message, "details": details}`` with ``status``; the bot turns the
message into a chat reply.
"""

from __future__ import annotations

from typing import Any


class HuituanError(Exception):
    status = 400
    code = "bad_request"
    message = "请求有误"

    def __init__(self, message: str | None = None, *, code: str | None = None, **details: Any):
        self.message = message or self.message
        if code:
            self.code = code
        self.details = details
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, "details": self.details}


class ValidationFailed(HuituanError):
    """Bad input. ``field`` names what is wrong (dotted path for nested input)."""

    status = 422
    code = "validation_error"
    message = "参数不正确"

    def __init__(self, message: str | None = None, *, field: str | None = None, code: str | None = None, **details: Any):
        if field is not None:
            details["field"] = field
        super().__init__(message, code=code, **details)


class NotifyMalformed(HuituanError):
    """A *verified* WeChat Pay notify whose content is not what WeChat sends (an amount that is
    not a positive integer, an id that is not a string): refused with 400, nothing stored."""

    status = 400
    code = "notify_malformed"
    message = "微信支付通知内容格式错误"

    def __init__(self, message: str | None = None, *, field: str | None = None, **details: Any):
        if field is not None:
            details["field"] = field
        super().__init__(message, **details)


class Unauthorized(HuituanError):
    status = 401
    code = "unauthorized"
    message = "请先登录"


class TokenExpired(Unauthorized):
    code = "token_expired"
    message = "登录已过期，请重新登录"


class SignatureInvalid(Unauthorized):
    code = "signature_invalid"
    message = "签名校验失败"


class Forbidden(HuituanError):
    status = 403
    code = "forbidden"
    message = "没有权限执行此操作"


class NotFound(HuituanError):
    status = 404
    code = "not_found"
    message = "资源不存在"


class Conflict(HuituanError):
    """A compare-and-set lost, or the thing is in a state that forbids the action."""

    status = 409
    code = "conflict"
    message = "状态已变化，请刷新后重试"


class OutOfStock(Conflict):
    code = "out_of_stock"
    message = "库存不足"


class InvalidState(Conflict):
    code = "invalid_state"
    message = "当前状态不允许此操作"


class PayloadTooLarge(HuituanError):
    status = 413
    code = "payload_too_large"
    message = "请求体过大"


class RateLimited(HuituanError):
    status = 429
    code = "rate_limited"
    message = "操作太频繁，请稍后再试"


class UpstreamError(HuituanError):
    """WeChat, WeChat Pay or WeCom answered with an error or did not answer."""

    status = 502
    code = "upstream_error"
    message = "微信服务暂时不可用，请稍后再试"


class ServiceUnavailable(HuituanError):
    status = 503
    code = "service_unavailable"
    message = "服务暂时不可用"


# Chinese messages for the pydantic error types people actually hit: the HTTP edge
# (``huituan.core.web.http``) and the catalog import (``huituan.services.catalog_import``)
# both word validation errors through ``pydantic_message``.
PYDANTIC_MESSAGES = {
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
    "int_parsing_size": "数值超出范围",
}
FALLBACK_MESSAGE = "取值不正确"  # never pydantic's English text in a response


def chat_text(message: str) -> str:
    """An error message for people in chat: "day: 日期超出范围" -> "日期超出范围" (the field
    prefix is for API clients)."""
    head, sep, tail = message.partition(": ")
    return tail if sep and head and head.isascii() and " " not in head else message


def pydantic_message(err: dict[str, Any], overrides: dict[str, str] | None = None) -> str:
    """The Chinese message for one pydantic error (an item of ``ValidationError.errors()``);
    ``overrides`` rewords some types for one caller. A validator's own ``ValueError`` text wins."""
    template = (overrides or {}).get(err["type"]) or PYDANTIC_MESSAGES.get(err["type"])
    ctx = err.get("ctx") or {}
    if err["type"] == "value_error" and ctx.get("error"):
        return str(ctx["error"])
    if isinstance(ctx.get("expected"), str):  # pydantic lists choices as "'a', 'b' or 'c'"
        ctx = {**ctx, "expected": ctx["expected"].replace(" or ", " 或 ")}
    try:
        return template.format(**ctx) if template else FALLBACK_MESSAGE
    except (KeyError, IndexError):
        return template or FALLBACK_MESSAGE
