"""Routes are registered through ``api(...)`` so that the OpenAPI 3.1 document served at
/api/v1/openapi.json always covers every public endpoint: one declaration, both purposes.

    api(app, "POST", "/api/v1/orders", create_order,
        summary="下单", tag="orders", auth="user",
        body=CreateOrderIn, response=OrderOut, status=201,
        errors=(401, 404, 409, 422), headers={"Idempotency-Key": "同一个键返回同一个订单"})
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from aiohttp import web
from pydantic import BaseModel

from huituan.core.web.auth import DECLARED_KEY, Auth, enforce

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ERROR_DESCRIPTIONS = {
    400: "请求有误",
    401: "未登录、凭证无效或过期，或签名校验失败",
    403: "没有权限",
    404: "资源不存在",
    409: "状态冲突（库存不足、状态已变化等）",
    413: "请求体过大",
    422: "参数校验失败，details.field 指出字段",
    429: "操作太频繁",
    502: "微信服务出错",
    503: "服务暂时不可用",
}


class ErrorOut(BaseModel):
    error: str
    message: str
    details: dict[str, Any] = {}


@dataclass
class Operation:
    method: str
    path: str
    summary: str
    tag: str
    auth: Auth = Auth.public
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    response_content_type: str = "application/json"
    status: int = 200
    errors: tuple[int, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)
    description: str = ""
    body_content_type: str = "application/json"
    public: bool = True  # False: served but left out of the document (sandbox, bot)
    also: dict[int, str] = field(default_factory=dict)  # more success statuses, same body


OPERATIONS_KEY = web.AppKey("openapi_operations", list)


def api(
    app: web.Application,
    method: str,
    path: str,
    handler: Handler,
    *,
    summary: str,
    tag: str,
    auth: Auth,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    response_content_type: str = "application/json",
    status: int = 200,
    errors: tuple[int, ...] = (),
    headers: dict[str, str] | None = None,
    description: str = "",
    body_content_type: str = "application/json",
    public: bool = True,
    also: dict[int, str] | None = None,
) -> None:
    """Register ``handler`` on the router behind its declared ``auth`` (huituan.core.web.auth)
    and record the operation for the OpenAPI document."""
    auth = Auth(auth)
    wrapped = enforce(auth, handler, f"{method} {path}")
    app.router.add_route(method, path, wrapped)
    app.setdefault(DECLARED_KEY, {})[wrapped] = auth
    if OPERATIONS_KEY not in app:
        app[OPERATIONS_KEY] = []
    all_errors = set(errors)
    if auth in (Auth.user, Auth.operator):
        all_errors |= {401, 403}
    if body is not None or query is not None or "{" in path:
        all_errors.add(422)
    app[OPERATIONS_KEY].append(
        Operation(
            method=method.upper(), path=path, summary=summary, tag=tag, auth=auth, body=body,
            query=query, response=response, response_content_type=response_content_type,
            status=status, errors=tuple(sorted(all_errors)), headers=dict(headers or {}),
            description=description, body_content_type=body_content_type, public=public,
            also=dict(also or {}),
        )
    )


def _schema(model: type[BaseModel], components: dict[str, Any], mode: str = "serialization") -> dict[str, Any]:
    """A $ref to ``model`` in components (its nested models beside it); ``mode="validation"``
    for request bodies, which may differ from what the same model serializes to."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode)
    for name, sub in schema.pop("$defs", {}).items():
        components[name] = sub
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def build_openapi(app: web.Application, *, title: str = "惠团 huituan API", version: str = "1.0.0") -> dict[str, Any]:
    components: dict[str, Any] = {}
    _schema(ErrorOut, components)
    paths: dict[str, Any] = {}
    for op in app.get(OPERATIONS_KEY, []):
        if not op.public:
            continue
        params: list[dict[str, Any]] = []
        for segment in op.path.split("/"):
            if segment.startswith("{") and segment.endswith("}"):
                name = segment[1:-1].split(":")[0]
                params.append({"name": name, "in": "path", "required": True,
                               "schema": {"type": "integer", "minimum": 1}})
        if op.query is not None:
            # Enums in query models become $refs: point them at components, not at $defs.
            qschema = op.query.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(qschema.pop("$defs", {}))
            required = set(qschema.get("required", []))
            for name, prop in qschema.get("properties", {}).items():
                params.append({"name": name, "in": "query", "required": name in required, "schema": prop})
        for name, desc in op.headers.items():
            params.append({"name": name, "in": "header", "required": False, "description": desc,
                           "schema": {"type": "string", "maxLength": 64}})
        responses: dict[str, Any] = {}
        if op.response is not None:
            content = {op.response_content_type: {"schema": _schema(op.response, components)}}
            responses[str(op.status)] = {"description": "成功", "content": content}
        elif op.response_content_type != "application/json":
            responses[str(op.status)] = {"description": "成功", "content": {op.response_content_type: {"schema": {"type": "string"}}}}
        else:
            responses[str(op.status)] = {"description": "成功"}
        for code, what in op.also.items():
            responses[str(code)] = dict(responses[str(op.status)], description=what)
        for code in op.errors:
            responses[str(code)] = {
                "description": ERROR_DESCRIPTIONS.get(code, "错误"),
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
            }
        operation: dict[str, Any] = {
            "summary": op.summary,
            "tags": [op.tag],
            "operationId": f"{op.method.lower()}_{op.path.strip('/').replace('/', '_').replace('{', '').replace('}', '')}",
            "parameters": params,
            "responses": responses,
        }
        if op.description:
            operation["description"] = op.description
        if op.auth is Auth.user:
            operation["security"] = [{"userToken": []}]
        elif op.auth is Auth.operator:
            operation["security"] = [{"operatorToken": []}]
        if op.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {op.body_content_type: {"schema": _schema(op.body, components, "validation")}},
            }
        paths.setdefault(op.path, {})[op.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version,
                 "description": "惠团小程序与运营后台接口。金额单位均为分（整数）。错误统一为 {error, message, details}。"},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "userToken": {"type": "http", "scheme": "bearer", "description": "POST /api/v1/auth/login 返回的 token"},
                "operatorToken": {"type": "http", "scheme": "bearer", "description": "POST /api/admin/v1/auth/login 返回的 token"},
            },
        },
    }
