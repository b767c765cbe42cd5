"""Admin login and the current operator."""

from __future__ import annotations

from aiohttp import web

from huituan.core.web.auth import Auth
from huituan.core.web.http import client_ip, parse_json
from huituan.core.web.keys import RUNTIME_KEY
from huituan.core.web.openapi import api
from huituan.miniapp_api.admin.schemas import LoginIn, LoginOut, OperatorOut, respond
from huituan.services import operators


async def login(request: web.Request) -> web.Response:
    body = await parse_json(request, LoginIn)
    result = await operators.login_operator(request.app[RUNTIME_KEY], body.username, body.password,
                                            client_ip(request))
    return respond(LoginOut, result)


async def me(request: web.Request, operator_id: int) -> web.Response:
    return respond(OperatorOut, await operators.get_operator(operator_id))


def setup(app: web.Application) -> None:
    api(app, "POST", "/api/admin/v1/auth/login", login, summary="运营账号登录", tag="admin-auth",
        body=LoginIn, response=LoginOut, errors=(401, 403, 429),
        description="每次登录尝试在校验密码之前计数，5 分钟内超过以下任一限制直接返回 429（不校验密码，"
                    "`details.field` 为 username 或 ip）：同一来源地址上同一用户名 5 次；同一用户名合计 50 次"
                    "（该用户名登录成功过的地址不受此限，陌生人故意输错锁不住运营本人）；同一来源地址 20 次。"
                    "登录成功不计入限制（清零该地址上该用户名的计数），并记住该地址 30 天。", auth=Auth.public)
    api(app, "GET", "/api/admin/v1/me", me, summary="当前运营账号", tag="admin-auth", auth=Auth.operator,
        response=OperatorOut, errors=(404,))
