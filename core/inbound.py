"""Hostile input stops here: the checks every piece of text or number from outside passes
before anything parses, stores or compares it.

One place decides what the service accepts, so no handler, callback or parser can forget it:

- text: no NUL character (PostgreSQL refuses it in text columns) and valid Unicode (no lone
  surrogates: they come from ``\\ud800`` escapes in JSON or from invalid UTF-8 bytes decoded
  with ``surrogateescape``, and fail when the driver encodes them);
- numbers written as text (path ids, timestamps, share scenes, bot arguments): ASCII digits
  only (``'²'.isdigit()`` and ``'١٢'.isdigit()`` are True, and ``int('١٢') == 12``), a bounded
  number of digits, a declared range;
- JSON: bounded size and nesting depth (decided by a scan before ``json.loads``, whose C parser
  recurses once per level), no NaN/Infinity, every string clean, every integer within 64 bits.

Every refusal is a ``core.errors`` 4xx naming the field; nothing here is a 500.
Pure functions: the HTTP edge (``core.web.http``), the WeChat clients, the bot and the
services' own parsers all call them.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from huituan.core.errors import HuituanError, PayloadTooLarge, ValidationFailed

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
ID_MAX = 2**62  # ids in paths and bodies: 1..ID_MAX
MAX_JSON_BYTES = 2 * 1024 * 1024
MAX_JSON_DEPTH = 32
MAX_JSON_TEXT_CHARS = 100_000  # one JSON string; columns are far shorter, schemas say how much
MAX_QUERY_CHARS = 1000  # one query-string value
MAX_HEADER_CHARS = 8190


class BadRequest(HuituanError):
    """Malformed transport: a header, an encoding. ``details.field`` names what."""

    status = 400
    code = "bad_request"
    message = "请求格式不正确"

    def __init__(self, message: str | None = None, *, field: str | None = None, code: str | None = None, **details: Any):
        if field is not None:
            details["field"] = field
        super().__init__(message, code=code, **details)


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored or compared as text (Chinese), or None when it can."""
    if "\x00" in value:
        return "不能包含 NUL 字符"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "包含无效的 Unicode 字符"
    return None


def clean_text(value: str, field: str, *, max_chars: int | None = None) -> str:
    """``value`` unchanged when it is storable text within ``max_chars``; else ValidationFailed."""
    problem = text_problem(value)
    if problem is None and max_chars is not None and len(value) > max_chars:
        problem = f"长度不能超过 {max_chars}"
    if problem is not None:
        raise ValidationFailed(f"{field}: {problem}", field=field, code="invalid_text")
    return value


def is_ascii_digits(value: str) -> bool:
    """True for a non-empty run of 0-9 only (``str.isdigit`` also accepts '²' and '١٢')."""
    return value.isascii() and value.isdigit()


def ascii_int(value: str, *, low: int, high: int, max_digits: int = 19) -> int | None:
    """The integer written as ASCII digits (an optional leading '-') within low..high, or None."""
    digits = value[1:] if value.startswith("-") else value
    if not is_ascii_digits(digits) or len(digits) > max_digits:
        return None
    number = int(value)
    return number if low <= number <= high else None


def is_http_url(value: str) -> bool:
    """An address users' phones may load: http(s) with a host (never javascript:, file:, data:)."""
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def ascii_token(value: str, *, max_chars: int) -> bool:
    """A printable ASCII token (signatures, nonces, serial numbers) of at most max_chars."""
    return 0 < len(value) <= max_chars and value.isascii() and value.isprintable()


# --- JSON -----------------------------------------------------------------------------------

# A JSON string (escapes included) or one bracket: strings are skipped, brackets counted.
_JSON_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.S)


def json_too_deep(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``raw`` nests arrays/objects deeper than ``limit``; stops at the first level
    past it, so 100,000 opening brackets cost ``limit`` steps, not a recursion."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    depth = 0
    for match in _JSON_TOKENS.finditer(raw):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif token in (b"]", b"}"):
            depth -= 1
    return False


# A body with nothing to screen: printable ASCII and JSON whitespace, no backslash (so no
# escape can make a NUL or a lone surrogate), and no run of 19 digits (so every integer is
# within 64 bits). Most bodies are like this; for them two C passes replace the walk.
_PLAIN_BYTES = bytes(range(0x20, 0x5C)) + bytes(range(0x5D, 0x7F)) + b"\t\n\r"
_DIGITS = b"0123456789"
_DIGIT_RUN = re.compile(rb"[0-9]{19}")


def _needs_screening(raw: bytes) -> bool:
    if raw.translate(None, _PLAIN_BYTES):  # something outside plain ASCII is left
        return True
    return len(raw) - len(raw.translate(None, _DIGITS)) >= 19 and _DIGIT_RUN.search(raw) is not None


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_no_constants)  # json.loads with options builds one per call


def _screen_json(data: Any, root: str) -> None:
    """Every string (keys too) clean and bounded, every integer within 64 bits; iterative."""
    stack: list[tuple[str, Any]] = [(root, data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            clean_text(value, path, max_chars=MAX_JSON_TEXT_CHARS)
        elif isinstance(value, bool) or value is None or isinstance(value, float):
            continue
        elif isinstance(value, int):
            if not INT64_MIN <= value <= INT64_MAX:
                raise ValidationFailed(f"{path}: 超出范围", field=path, code="number_out_of_range")
        elif isinstance(value, dict):
            for key, item in value.items():
                clean_text(key, path, max_chars=MAX_JSON_TEXT_CHARS)
                stack.append((f"{path}.{key}" if path != root else key, item))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                stack.append((f"{path}.{i}" if path != root else str(i), item))


def load_json(raw: bytes, *, field: str = "body", max_bytes: int = MAX_JSON_BYTES) -> Any:
    """Parse JSON from outside: size, UTF-8, depth, syntax, then every value screened.
    Field names in errors are dotted paths below ``field`` (``items.0.name``)."""
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"请求体不能超过 {max_bytes // 1024} KB", field=field, max_bytes=max_bytes)
    try:
        text = raw.decode("utf-8")  # strict: json.loads(bytes) would let bad bytes through as surrogates
    except UnicodeDecodeError:
        raise ValidationFailed("请求体必须是 UTF-8 编码的 JSON", field=field, code="invalid_json") from None
    if json_too_deep(raw):
        raise ValidationFailed(f"JSON 嵌套不能超过 {MAX_JSON_DEPTH} 层", field=field, code="json_too_deep")
    try:
        data = _DECODER.decode(text)
    except RecursionError:  # belt and braces: the scan above already refused it
        raise ValidationFailed(f"JSON 嵌套不能超过 {MAX_JSON_DEPTH} 层", field=field, code="json_too_deep") from None
    except ValueError:
        raise ValidationFailed("请求体不是合法的 JSON", field=field, code="invalid_json") from None
    if len(raw) > MAX_JSON_TEXT_CHARS or _needs_screening(raw):
        _screen_json(data, field)
    return data
