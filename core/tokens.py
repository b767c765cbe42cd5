"""Stateless login tokens: ``<payload>.<hmac>``; checking one needs no database round trip."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from huituan.core.errors import TokenExpired, Unauthorized
from huituan.core.inbound import ID_MAX  # a larger "sub" was a 500 at the first query (session 7)


@dataclass(frozen=True)
class TokenClaims:
    subject_id: int
    role: str  # "user" or "operator"
    expires_at: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_token(secret: str, subject_id: int, role: str, ttl_seconds: int, now: float | None = None) -> str:
    payload = {"sub": subject_id, "role": role, "exp": int((now or time.time()) + ttl_seconds)}
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    sig = _b64(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest())
    return f"{body}.{sig}"


# Tokens already verified in this process: the HMAC, base64 and JSON of a token are checked
# once, its expiry on every use. Bounded; cleared wholesale when full (re-verifying is cheap).
_VERIFIED: dict[tuple[str, str], TokenClaims] = {}
_VERIFIED_MAX = 50_000


def read_token(secret: str, token: str, now: float | None = None) -> TokenClaims:
    claims = _VERIFIED.get((secret, token))
    if claims is None:
        claims = _verify(secret, token)
        if len(_VERIFIED) >= _VERIFIED_MAX:
            _VERIFIED.clear()
        _VERIFIED[(secret, token)] = claims
    if claims.expires_at < (now or time.time()):
        raise TokenExpired()
    return claims


def _verify(secret: str, token: str) -> TokenClaims:
    try:
        body, sig = token.split(".", 1)
        expected = _b64(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(sig, expected):
            raise ValueError("signature")
        payload = json.loads(_unb64(body))
        claims = _claims(payload)
    except (ValueError, KeyError, TypeError, json.JSONDecodeError):
        raise Unauthorized("登录凭证无效，请重新登录", code="token_invalid") from None
    return claims


def _claims(payload: object) -> TokenClaims:
    """The claims exactly as ``issue_token`` writes them: JSON integers in range and a role
    string. Nothing else is read as a claim, even under a valid signature (``"sub": "1"``,
    ``true``, ``1.0``, ``1e400`` were taken or crashed)."""
    if not isinstance(payload, dict):
        raise ValueError("payload")
    sub, role, exp = payload["sub"], payload["role"], payload["exp"]
    for value in (sub, exp):
        if type(value) is not int:
            raise ValueError("claim type")
    if not 1 <= sub <= ID_MAX or not 0 <= exp <= ID_MAX or role not in ("user", "operator"):
        raise ValueError("claim range")
    return TokenClaims(sub, role, exp)
