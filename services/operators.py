"""Operator accounts (运营): creation, password hashing and admin login.

Passwords are hashed with scrypt and a random salt, encoded ``scrypt$n$r$p$salt$hash``
(salt and hash base64) so the cost parameters can be raised later without breaking old hashes.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from typing import Any

from tortoise.exceptions import IntegrityError

from huituan.core.errors import Conflict, Forbidden, NotFound, RateLimited, Unauthorized, ValidationFailed
from huituan.core.runtime import Runtime
from huituan.core.tokens import issue_token
from huituan.models.user import Operator

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
PASSWORD_MIN_LENGTH = 8
LOGIN_MAX_FAILURES = 5  # attempts per username per window (a success clears them)
LOGIN_MAX_PER_IP = 20  # attempts per client address per window, whatever the username
LOGIN_FAILURE_WINDOW_SECONDS = 300


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                                dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


# A valid hash of nothing anybody knows: unknown usernames cost the same scrypt work as
# known ones, so response time does not tell which usernames exist.
_DUMMY_HASH = hash_password(secrets.token_hex(16))


def operator_dict(op: Operator) -> dict[str, Any]:
    return {
        "id": op.id,
        "username": op.username,
        "display_name": op.display_name,
        "wecom_userid": op.wecom_userid,
        "is_active": op.is_active,
        "created_at": op.created_at,
    }


async def create_operator(username: str, password: str, display_name: str = "",
                          wecom_userid: str | None = None) -> Operator:
    username = (username or "").strip()
    if not username or len(username) > 64:
        raise ValidationFailed("用户名不能为空，且不超过 64 个字符", field="username")
    if len(password or "") < PASSWORD_MIN_LENGTH:
        raise ValidationFailed(f"密码至少需要 {PASSWORD_MIN_LENGTH} 个字符", field="password")
    if await Operator.filter(username=username).exists():
        raise Conflict("该运营账号已存在", code="operator_exists", field="username")
    if wecom_userid and await Operator.filter(wecom_userid=wecom_userid).exists():
        raise Conflict("该企业微信账号已绑定其他运营账号", code="wecom_userid_taken", field="wecom_userid")
    password_hash = await asyncio.to_thread(hash_password, password)
    try:
        return await Operator.create(username=username, password_hash=password_hash,
                                     display_name=display_name or username, wecom_userid=wecom_userid or None)
    except IntegrityError:
        # Lost a race with a concurrent create of the same username.
        raise Conflict("该运营账号已存在", code="operator_exists", field="username") from None


def _attempts_key(kind: str, who: str) -> str:
    return f"admin:login_attempts:{kind}:{who}"


async def _count_attempt(rt: Runtime, username: str, ip: str | None) -> tuple[str, str | None]:
    """Count this attempt BEFORE any password is checked, atomically (INCR in one MULTI/EXEC,
    the window starting at the first attempt), and refuse past the limit without hashing.
    A burst of N concurrent guesses gets counts 1..N: at most the limit of them go on."""
    user_key = _attempts_key("user", username.lower())
    ip_key = _attempts_key("ip", ip) if ip else None
    async with rt.redis.pipeline(transaction=True) as pipe:
        pipe.incr(user_key)
        pipe.expire(user_key, LOGIN_FAILURE_WINDOW_SECONDS, nx=True)
        if ip_key:
            pipe.incr(ip_key)
            pipe.expire(ip_key, LOGIN_FAILURE_WINDOW_SECONDS, nx=True)
        counts = (await pipe.execute())[0::2]
    for key, count, limit, field in ((user_key, counts[0], LOGIN_MAX_FAILURES, "username"),
                                     (ip_key, counts[1] if ip_key else 0, LOGIN_MAX_PER_IP, "ip")):
        if key and int(count) > limit:
            ttl = await rt.redis.ttl(key)
            raise RateLimited("登录尝试次数过多，请 5 分钟后再试", code="login_throttled",
                              field=field, retry_after_seconds=max(int(ttl), 1))
    return user_key, ip_key


async def authenticate_operator(rt: Runtime, username: str, password: str, ip: str | None = None) -> Operator:
    """Check a username and password. Every attempt counts before the check: more than 5 per
    username, or 20 per client address, in 5 minutes are refused (429) without hashing.
    A success clears the username's count (not the address's)."""
    user_key, _ = await _count_attempt(rt, username, ip)
    op = await Operator.get_or_none(username=username)
    ok = await asyncio.to_thread(verify_password, password, op.password_hash if op else _DUMMY_HASH)
    if op is None or not ok:
        raise Unauthorized("用户名或密码错误", code="invalid_credentials", field="password")
    if not op.is_active:
        raise Forbidden("该运营账号已停用", code="operator_disabled")
    await rt.redis.delete(user_key)
    return op


async def login_operator(rt: Runtime, username: str, password: str, ip: str | None = None) -> dict[str, Any]:
    op = await authenticate_operator(rt, username, password, ip)
    token = issue_token(rt.settings.secret_key, op.id, "operator", rt.settings.token_ttl_seconds)
    return {"token": token, "expires_in": rt.settings.token_ttl_seconds, "operator": operator_dict(op)}


async def ensure_active_operator(operator_id: int) -> None:
    """Login tokens are stateless: this is what makes disabling an operator take effect at
    once instead of when their token expires."""
    active = await Operator.filter(id=operator_id).values_list("is_active", flat=True)
    if not active:
        raise Unauthorized("运营账号不存在，请重新登录", code="operator_not_found")
    if not active[0]:
        raise Forbidden("该运营账号已停用", code="operator_disabled")


async def get_operator(operator_id: int) -> dict[str, Any]:
    op = await Operator.get_or_none(id=operator_id)
    if op is None:
        raise NotFound("运营账号不存在", code="operator_not_found", field="operator_id")
    if not op.is_active:
        raise Forbidden("该运营账号已停用", code="operator_disabled")
    return operator_dict(op)
