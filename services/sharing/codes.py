"""Share codes: a short code per sharer, target and channel that fits a mini-program code's
``scene`` (at most 32 visible characters; ours are 8 letters and digits), resolved by
``GET /api/v1/share/{code}``; opening or logging in with one binds the referral through the
referral rules (services.referrals), and every step is recorded for the funnel.

Scenes the mini-program may hand us: the bare code (from a poster's mini-program code),
``s=<code>`` (from the H5 link), or the older ``r=<user id>`` (still bound by services.referrals).
"""

from __future__ import annotations

import re
import secrets
import string
from typing import Any
from urllib.parse import parse_qsl, unquote

from tortoise.transactions import in_transaction

from huituan.core.errors import NotFound, ValidationFailed
from huituan.models.sharing import ShareChannel, ShareCode, ShareEvent, ShareEventKind, ShareTargetKind
from huituan.models.user import User
from huituan.services.referrals import BindResult, bind_from_scene, bind_user

ALPHABET = string.ascii_letters + string.digits
CODE_LENGTH = 8
CODE_RE = re.compile(r"^[0-9A-Za-z]{8}$")


def _q(q, conn):
    return q.using_db(conn) if conn is not None else q


def code_in_scene(scene: str | None) -> str | None:
    """The share code a scene carries (bare, or ``s=`` among ``k=v`` pairs), else None."""
    if not scene:
        return None
    text = unquote(scene.strip())
    if CODE_RE.match(text):
        return text
    for key, value in parse_qsl(text.split("?", 1)[-1], keep_blank_values=False):
        if key in ("s", "scene") and CODE_RE.match(value):
            return value
    return None


def check_code(code: str) -> str:
    if not CODE_RE.match(code or ""):
        raise ValidationFailed("code: 分享码格式不正确（8 位字母或数字）", field="code", code="share_code_invalid")
    return code


async def code_for(sharer_id: int, kind: ShareTargetKind | str, target_id: int,
                   channel: ShareChannel | str = ShareChannel.poster, conn=None) -> ShareCode:
    """The sharer's code for this target and channel, created on first use. Two first requests
    can race: the UNIQUE (sharer, kind, target, channel) lets one insert win, both read it."""
    kind, channel = ShareTargetKind(kind), ShareChannel(channel)
    filters = dict(sharer_id=sharer_id, target_kind=kind, target_id=target_id, channel=channel)
    found = await _q(ShareCode.get_or_none(**filters), conn)
    if found is not None:
        return found
    for _ in range(5):  # a random 8-character code colliding is rare; retry with a new one
        code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        await ShareCode.bulk_create([ShareCode(code=code, **filters)], ignore_conflicts=True, using_db=conn)
        found = await _q(ShareCode.get_or_none(**filters), conn)
        if found is not None:
            return found
    raise RuntimeError("could not allocate a share code")


async def get_code(code: str, conn=None) -> ShareCode:
    found = await _q(ShareCode.get_or_none(code=check_code(code)), conn)
    if found is None:
        raise NotFound("分享码不存在或已失效", code="share_code_not_found", field="code")
    return found


async def record(sc: ShareCode, kind: ShareEventKind, *, user_id: int | None = None, order_id: int | None = None,
                 amount_fen: int = 0, dedupe_key: str | None = None, conn=None) -> None:
    """Append one funnel step; a repeated ``dedupe_key`` is ignored (ON CONFLICT DO NOTHING,
    so a caller's PostgreSQL transaction is never aborted by a duplicate)."""
    await ShareEvent.bulk_create([ShareEvent(share_code_id=sc.id, sharer_id=sc.sharer_id, channel=sc.channel, kind=kind,
                                             user_id=user_id, order_id=order_id, amount_fen=amount_fen,
                                             dedupe_key=dedupe_key)], ignore_conflicts=True, using_db=conn)


async def bind_with_code(user_id: int, sc: ShareCode, *, is_new: bool = False, conn=None) -> BindResult:
    """Bind ``user_id`` to the code's sharer by the referral rules; the binding keeps the code
    as its scene (that is how later orders are attributed to the code)."""
    result = await bind_user(user_id, sc.sharer_id, scene=sc.code, is_new=is_new, conn=conn)
    if result.bound:
        await record(sc, ShareEventKind.bind, user_id=user_id, dedupe_key=f"bind:{sc.id}:{user_id}", conn=conn)
    return result


async def bind_scene(user_id: int, scene: str | None) -> BindResult:
    """``POST /api/v1/referrals/bind``: a share code scene, or the older ``r=`` scene."""
    code = code_in_scene(scene)
    if code is None:
        return await bind_from_scene(user_id, scene)
    sc = await ShareCode.get_or_none(code=code)
    if sc is None:
        return BindResult(False, "skipped", "share_code_not_found")
    async with in_transaction() as conn:
        return await bind_with_code(user_id, sc, conn=conn)


def _user_card(user: User | None) -> dict[str, Any]:
    return {"id": user.id if user else None, "nickname": (user.nickname if user else "") or "微信用户",
            "avatar_url": user.avatar_url if user else ""}


async def open_share(code: str, viewer_id: int | None = None) -> dict[str, Any]:
    """Someone opened a share: count the open; when they are logged in, bind them to the sharer
    by the referral rules. Returns the target and the sharer's name and avatar."""
    sc = await get_code(code)
    bind: dict[str, Any] | None = None
    async with in_transaction() as conn:
        await record(sc, ShareEventKind.open, user_id=viewer_id, conn=conn)
        if viewer_id is not None and viewer_id != sc.sharer_id:
            r = await bind_with_code(viewer_id, sc, conn=conn)
            bind = {"bound": r.bound, "action": r.action, "reason": r.reason}
    sharer = await User.get_or_none(id=sc.sharer_id)
    return {"code": sc.code, "scene": sc.code, "channel": str(sc.channel),
            "target": {"kind": str(sc.target_kind), "id": sc.target_id},
            "sharer": _user_card(sharer), "bind": bind}


async def on_user_logged_in(user_id: int, scene: str | None = None, is_new: bool = False, conn=None, **_) -> None:
    """USER_LOGGED_IN with a share code scene: count a new user, bind by the referral rules.
    (``r=`` scenes are bound by services.referrals.events.)"""
    code = code_in_scene(scene)
    if code is None:
        return
    sc = await _q(ShareCode.get_or_none(code=code), conn)
    if sc is None or sc.sharer_id == user_id:
        return
    if is_new:
        await record(sc, ShareEventKind.new_user, user_id=user_id, dedupe_key=f"new_user:{user_id}", conn=conn)
    await bind_with_code(user_id, sc, is_new=is_new, conn=conn)
