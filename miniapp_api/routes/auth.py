"""Login with a wx.login code, the current user, phone binding."""

from __future__ import annotations

from aiohttp import web

from huituan.core.web.auth import Auth
from huituan.core.web.http import json_response, parse_json
from huituan.core.web.keys import RUNTIME_KEY
from huituan.core.web.openapi import api
from huituan.miniapp_api.schemas.users import PhoneIn, UserLoginIn, UserLoginOut, UserOut
from huituan.services import users


async def login(request: web.Request) -> web.Response:
    body = await parse_json(request, UserLoginIn)
    return json_response(await users.login(request.app[RUNTIME_KEY], body.code, body.scene))


async def me(request: web.Request, user_id: int) -> web.Response:
    return json_response(await users.get_me(user_id))


async def bind_phone(request: web.Request, uid: int) -> web.Response:
    body = await parse_json(request, PhoneIn)
    return json_response(await users.bind_phone(request.app[RUNTIME_KEY], uid, body.code))


def setup(app: web.Application) -> None:
    api(app, "POST", "/api/v1/auth/login", login, summary="微信登录（wx.login code 换 token）", tag="auth",
        body=UserLoginIn, response=UserLoginOut, errors=(403, 502),
        description="scene 为首次进入时的分享场景值，仅首次登录时保存，用于推荐绑定。被停用的账号返回 403。", auth=Auth.public)
    api(app, "GET", "/api/v1/me", me, summary="当前用户", tag="auth", auth=Auth.user, response=UserOut, errors=(404,))
    api(app, "POST", "/api/v1/me/phone", bind_phone, summary="绑定手机号（getPhoneNumber code）", tag="auth",
        auth=Auth.user, body=PhoneIn, response=UserOut, errors=(404, 502))
