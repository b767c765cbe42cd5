"""Bearer tokens for mini-program users and operators (stateless, HMAC-signed)."""

from __future__ import annotations

from aiohttp import web

from core.errors import Forbidden, Unauthorized
from core.tokens import read_token
from miniapp_api.keys import SETTINGS_KEY


def _bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("缺少登录凭证（Authorization: Bearer <token>）", code="token_missing")
    return token.strip()


def current_user_id(request: web.Request) -> int:
    claims = read_token(request.app[SETTINGS_KEY].secret_key, _bearer(request))
    if claims.role != "user":
        raise Forbidden("该凭证不是小程序用户凭证", code="wrong_token_role")
    return claims.subject_id


def optional_user_id(request: web.Request) -> int | None:
    if "Authorization" not in request.headers:
        return None
    return current_user_id(request)


def current_operator_id(request: web.Request) -> int:
    claims = read_token(request.app[SETTINGS_KEY].secret_key, _bearer(request))
    if claims.role != "operator":
        raise Forbidden("需要运营账号登录", code="operator_required")
    return claims.subject_id



ADMIN_PREFIX = "/api/admin/"


@web.middleware
async def active_operator_middleware(request: web.Request, handler):
    """Admin requests carrying a valid operator token are refused once that operator is
    disabled (or deleted). Requests without one fall through to the handler's own 401/403."""
    if request.path.startswith(ADMIN_PREFIX) and request.headers.get("Authorization"):
        try:
            claims = read_token(request.app[SETTINGS_KEY].secret_key, _bearer(request))
        except Unauthorized:
            claims = None
        if claims is not None and claims.role == "operator":
            from services.operators import ensure_active_operator

            await ensure_active_operator(claims.subject_id)
    return await handler(request)
