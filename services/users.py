"""Mini-program users: login by WeChat code, phone binding, profile."""

from __future__ import annotations

import logging
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from huituan.core.errors import Forbidden, NotFound
from huituan.core.runtime import Runtime
from huituan.core.tokens import issue_token
from huituan.models.user import User
from huituan.services import events

log = logging.getLogger("huituan.users")


def user_to_dict(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "nickname": user.nickname,
        "avatar_url": user.avatar_url,
        "phone": user.phone,
        "has_phone": bool(user.phone),
        "created_at": user.created_at.isoformat() if user.created_at else None,
    }


async def get_active_user(user_id: int) -> User:
    """The user behind a token; a disabled user is refused (403), a vanished one is 401-ish 404."""
    user = await User.get_or_none(id=user_id)
    if user is None:
        raise NotFound("用户不存在", code="user_not_found", field="user_id")
    if user.is_disabled:
        raise Forbidden("账号已被停用", code="user_disabled")
    return user


async def login(rt: Runtime, code: str, scene: str | None = None) -> dict[str, Any]:
    """code -> code2session -> upsert by openid (race-safe) -> {token, user}.

    Two concurrent first logins of one openid create one user: the loser's insert hits the
    UNIQUE openid, its transaction rolls back and it reads the winner's row.
    """
    session = await rt.wechat.miniprogram.code2session(code)
    openid = session.openid
    session_key = session.session_key or ""
    unionid = session.unionid
    scene = (scene or "")[:128]

    user = await User.get_or_none(openid=openid)
    is_new = False
    if user is None:
        try:
            async with in_transaction() as conn:
                user = await User.create(openid=openid, unionid=unionid, session_key=session_key,
                                         first_scene=scene, using_db=conn)
                await events.emit(events.USER_LOGGED_IN, user_id=user.id, scene=scene, is_new=True, conn=conn)
            is_new = True
        except IntegrityError:
            user = await User.get(openid=openid)
    if not is_new:
        if user.is_disabled:
            raise Forbidden("账号已被停用", code="user_disabled")
        async with in_transaction() as conn:
            updates: dict[str, Any] = {"session_key": session_key}
            if unionid and not user.unionid:
                updates["unionid"] = unionid
            await User.filter(id=user.id).using_db(conn).update(**updates)
            await events.emit(events.USER_LOGGED_IN, user_id=user.id, scene=scene, is_new=False, conn=conn)
    token = issue_token(rt.settings.secret_key, user.id, "user", rt.settings.token_ttl_seconds)
    return {"token": token, "expires_in": rt.settings.token_ttl_seconds, "is_new": is_new, "user": user_to_dict(user)}


async def get_me(user_id: int) -> dict[str, Any]:
    return user_to_dict(await get_active_user(user_id))


async def bind_phone(rt: Runtime, user_id: int, code: str) -> dict[str, Any]:
    """Exchange a getPhoneNumber code for the phone number and keep it on the user."""
    user = await get_active_user(user_id)
    phone = await rt.wechat.miniprogram.get_phone_number(code)
    await User.filter(id=user.id).update(phone=phone[:20])
    user.phone = phone[:20]
    return user_to_dict(user)
