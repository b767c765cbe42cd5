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
LOGIN_MAX_FAILURES = 5  # attempts per username from one address per window (a success clears them)
LOGIN_MAX_PER_USERNAME = 50  # attempts per username per window in all (not applied at its known addresses)
LOGIN_MAX_PER_IP = 20  # attempts per client address per window, whatever the username
LOGIN_FAILURE_WINDOW_SECONDS = 300
LOGIN_KNOWN_ADDRESS_SECONDS = 30 * 86400  # an address a username logged in from stays known this long


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


def _known_key(user: str) -> str:
    return f"admin:login_known:{user}"


def _pair_key(user: str, ip: str | None) -> str:
    # The address's length first: neither part can then be read as part of the other.
    return _attempts_key("pair", f"{len(ip)}:{ip}:{user}") if ip else _attempts_key("user", user)


async def _count_attempt(rt: Runtime, username: str, ip: str | None) -> list[str]:
    """Count this attempt BEFORE any password is checked, atomically (INCRs in one MULTI/EXEC,
    each window starting at its first attempt), and refuse past a limit without hashing:

    - 5 per username from one address: guessing from one place stops at 5;
    - 50 per username in all, not applied at an address the username logged in from: guessing
      spread over many addresses stops too, while the operator, at an address they logged in
      from before, is not locked out by strangers failing on purpose (before, 5 failures from
      anywhere locked a named operator out: a lock-out anyone could cause);
    - 20 per address whatever the username.

    A burst of N concurrent guesses gets counts 1..N: at most the limit of them go on.
    Returns the keys counted: the username's at this address first."""
    user = username.lower()
    pair_key = _pair_key(user, ip)
    # No address (not over HTTP): the username's own count is the only one.
    limited = [(pair_key, LOGIN_MAX_FAILURES, "username")]
    if ip:
        limited += [(_attempts_key("user", user), LOGIN_MAX_PER_USERNAME, "username"),
                    (_attempts_key("ip", ip), LOGIN_MAX_PER_IP, "ip")]
    async with rt.redis.pipeline(transaction=True) as pipe:
        for key, _, _ in limited:
            pipe.incr(key)
            pipe.expire(key, LOGIN_FAILURE_WINDOW_SECONDS, nx=True)
        if ip:
            pipe.sismember(_known_key(user), ip)
        answers = await pipe.execute()
    known = bool(answers[-1]) if ip else False
    for n, (key, limit, field) in enumerate(limited):
        if n == 1 and known:
            continue  # the username-wide count does not hold back an address it logged in from
        if int(answers[2 * n]) > limit:
            ttl = await rt.redis.ttl(key)
            raise RateLimited("登录尝试次数过多，请 5 分钟后再试", code="login_throttled",
                              field=field, retry_after_seconds=max(int(ttl), 1))
    return [key for key, _, _ in limited]


async def authenticate_operator(rt: Runtime, username: str, password: str, ip: str | None = None) -> Operator:
    """Check a username and password. Every attempt counts before the check (``_count_attempt``):
    past a limit it is refused (429) without hashing. A success clears the count of the
    username at that address, takes itself back from the username's and the address's counts
    (an operator logging in all day is not throttled), and remembers the address as known for
    the username (30 days)."""
    counted = await _count_attempt(rt, username, ip)
    op = await Operator.get_or_none(username=username)
    ok = await asyncio.to_thread(verify_password, password, op.password_hash if op else _DUMMY_HASH)
    if op is None or not ok:
        raise Unauthorized("用户名或密码错误", code="invalid_credentials", field="password")
    if not op.is_active:
        raise Forbidden("该运营账号已停用", code="operator_disabled")
    pair_key, shared = counted[0], counted[1:]
    async with rt.redis.pipeline(transaction=True) as pipe:
        pipe.delete(pair_key)
        for key in shared:  # a success is not an attempt against the username or the address
            pipe.decr(key)
        if ip:
            known = _known_key(username.lower())
            pipe.sadd(known, ip)
            pipe.expire(known, LOGIN_KNOWN_ADDRESS_SECONDS)
        answers = await pipe.execute()
    # A window that ended between the count and now: DECR made a fresh key at -1, with no expiry.
    below = [key for key, value in zip(shared, answers[1:1 + len(shared)]) if int(value) < 0]
    if below:
        await rt.redis.delete(*below)
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
