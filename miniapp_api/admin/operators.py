"""Admin login and the current operator."""

from __future__ import annotations

from aiohttp import web

from miniapp_api.admin.schemas import LoginIn, LoginOut, OperatorOut, respond
from miniapp_api.auth import current_operator_id
from miniapp_api.http import parse_json
from miniapp_api.keys import RUNTIME_KEY
from miniapp_api.openapi import api
from services import operators


async def login(request: web.Request) -> web.Response:
    body = await parse_json(request, LoginIn)
    result = await operators.login_operator(request.app[RUNTIME_KEY], body.username, body.password)
    return respond(LoginOut, result)


async def me(request: web.Request) -> web.Response:
    return respond(OperatorOut, await operators.get_operator(current_operator_id(request)))


def setup(app: web.Application) -> None:
    api(app, "POST", "/api/admin/v1/auth/login", login, summary="运营账号登录", tag="admin-auth",
        body=LoginIn, response=LoginOut, errors=(401, 403, 429),
        description="同一用户名 5 分钟内密码错误 5 次后暂时锁定（429）。")
    api(app, "GET", "/api/admin/v1/me", me, summary="当前运营账号", tag="admin-auth", auth="operator",
        response=OperatorOut, errors=(404,))
