"""Idempotency-Key: the same key with the same request returns the first result; the same key
with a different request is refused (422 ``idempotency_key_reused``), never answered with the
first result as if it were this one. The request is remembered as a hash stored with the key."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from huituan.core.errors import ValidationFailed

# Named as the edge names every header it refuses (core/web/http.screen_headers).
FIELD = "headers.Idempotency-Key"


def check_key(key: str | None) -> str:
    """The key as sent: 1 to 64 printable characters."""
    if not key or len(key) > 64 or not key.isprintable():
        raise ValidationFailed("Idempotency-Key: 请求头必填，长度 1 到 64", field=FIELD)
    return key


def request_hash(**request: Any) -> str:
    """A stable hash of what the request asks for (the parsed body), key order irrelevant."""
    text = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def ensure_same_request(stored_hash: str, new_hash: str) -> None:
    """Refuse a reused key whose request differs from the one stored with it. Rows written
    before the hash existed have an empty hash and are taken as the same request."""
    if stored_hash and stored_hash != new_hash:
        refuse_reuse()


def refuse_reuse() -> None:
    """422 idempotency_key_reused: the key was used for another request."""
    raise ValidationFailed("Idempotency-Key: 该键已用于另一个不同的请求，请使用新的键",
                           field=FIELD, code="idempotency_key_reused")
