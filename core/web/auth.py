"""Who may call a route, declared where the route is declared and enforced by the declaration.

Every route is registered through ``huituan.core.web.openapi.api(..., auth=Auth.X)``; the
registrar wraps the handler so that the check runs before it, and hands the authenticated
subject to the handler as its second argument:

- ``Auth.public``:   anyone; ``handler(request)``.
- ``Auth.user``:     a mini-program user token; ``handler(request, user_id)``.
- ``Auth.operator``: an operator token of a still-active operator; ``handler(request, operator_id)``.
- ``Auth.wechat``:   a WeChat / WeChat Pay / WeCom callback; the handler verifies the signature
  first (the platform's own scheme), ``handler(request)``.
- ``Auth.sandbox``:  the WeChat emulator, mounted only when no app id is configured.

A route added to the router any other way fails ``check_routes`` at start-up.
"""

from __future__ import annotations

import inspect
from enum import StrEnum
from typing import Any, Awaitable, Callable

from aiohttp import web

from huituan.core.errors import Forbidden, Unauthorized
from huituan.core.tokens import read_token
from huituan.core.web.keys import SETTINGS_KEY


class Auth(StrEnum):
    public = "public"
    user = "user"
    operator = "operator"
    wechat = "wechat"
    sandbox = "sandbox"


# The composition root provides the "is this operator still active?" check (a service):
# tokens are stateless, so a disabled operator is refused here on every admin request.
OperatorGuard = Callable[[int], Awaitable[None]]
OPERATOR_GUARD_KEY = web.AppKey("operator_guard", object)
DECLARED_KEY = web.AppKey("declared_handlers", dict)

SUBJECT_AUTHS = (Auth.user, Auth.operator)


def _bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("缺少登录凭证（Authorization: Bearer <token>）", code="token_missing")
    return token.strip()


def authenticate_user(request: web.Request) -> int:
    claims = read_token(request.app[SETTINGS_KEY].secret_key, _bearer(request))
    if claims.role != "user":
        raise Forbidden("该凭证不是小程序用户凭证", code="wrong_token_role")
    return claims.subject_id


def authenticate_operator(request: web.Request) -> int:
    claims = read_token(request.app[SETTINGS_KEY].secret_key, _bearer(request))
    if claims.role != "operator":
        raise Forbidden("需要运营账号登录", code="operator_required")
    return claims.subject_id


Handler = Callable[..., Awaitable[web.StreamResponse]]


def enforce(auth: Auth, handler: Handler, where: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The handler as the router calls it: the declared check first, then the handler."""
    auth = Auth(auth)
    positional = [p for p in inspect.signature(handler).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    wanted = 2 if auth in SUBJECT_AUTHS else 1
    if len(positional) != wanted:
        raise TypeError(f"{where}: auth={auth.value} handlers take {wanted} positional argument(s) "
                        f"(request{', subject id' if wanted == 2 else ''}), {handler.__qualname__} takes {len(positional)}")
    if auth is Auth.user:
        async def as_user(request: web.Request) -> web.StreamResponse:
            return await handler(request, authenticate_user(request))

        return as_user
    if auth is Auth.operator:
        async def as_operator(request: web.Request) -> web.StreamResponse:
            operator_id = authenticate_operator(request)
            guard: Any = request.app[OPERATOR_GUARD_KEY]
            await guard(operator_id)
            return await handler(request, operator_id)

        return as_operator
    return handler


def check_routes(app: web.Application) -> None:
    """Start-up check: every route on the router was declared with an auth, and the operator
    guard is wired when any route needs it. Raises RuntimeError naming the first offender."""
    declared: dict[Any, Auth] = app.get(DECLARED_KEY, {})
    for route in app.router.routes():
        if route.method == "HEAD":
            continue  # aiohttp adds HEAD beside GET
        if route.handler not in declared:
            info = route.resource.canonical if route.resource else "?"
            raise RuntimeError(f"route {route.method} {info} has no auth declaration: register it with api(..., auth=...)")
    if any(a is Auth.operator for a in declared.values()) and OPERATOR_GUARD_KEY not in app:
        raise RuntimeError("operator routes are registered but no operator guard is wired (OPERATOR_GUARD_KEY)")


def route_auths(app: web.Application) -> list[tuple[str, str, Auth]]:
    """(method, path, auth) of every declared route: the auth walk test reads this."""
    declared: dict[Any, Auth] = app.get(DECLARED_KEY, {})
    out = []
    for route in app.router.routes():
        if route.method == "HEAD" or route.handler not in declared:
            continue
        out.append((route.method, route.resource.canonical, declared[route.handler]))
    return out
