"""Routes are registered through ``api(...)`` so that the OpenAPI 3.1 document served at
/api/v1/openapi.json always covers every public endpoint: one declaration, both purposes.

    api(app, "POST", "/api/v1/orders", create_order,
        summary="下单", tag="orders", auth="user",
        body=CreateOrderIn, response=OrderOut, status=201,
        errors=(401, 404, 409, 422),
        headers={"Idempotency-Key": Header("同一个键返回同一个订单", required=True)})

- ``headers``: name -> description (optional header) or ``Header(description, required=...)``;
  the document says "required" exactly where the server refuses a request without it (a test
  walks the document and checks).
- ``bodies``: more request body media types beside ``body`` (JSON): content type -> OpenAPI
  media object (schema, example, encoding), e.g. a CSV or multipart upload.
- ``request_example`` / ``response_example``: the examples shown in the document; when left out
  they are built from the models' field examples (``core.web.examples``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from aiohttp import web
from pydantic import BaseModel

from huituan.core.inbound import ID_MAX
from huituan.core.web.auth import DECLARED_KEY, Auth, enforce
from huituan.core.web.examples import example_for_model
from huituan.core.web.glossary import describe
from huituan.core.web.http import screen_request

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


@dataclass(frozen=True)
class Header:
    description: str
    required: bool = False
    min_length: int = 0
    max_length: int = 64


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
    headers: dict[str, Header] = field(default_factory=dict)
    description: str = ""
    body_content_type: str = "application/json"
    public: bool = True  # False: served but left out of the document (sandbox, bot)
    # more success statuses: a description (same body) or (description, its own body model)
    also: dict[int, str | tuple[str, type[BaseModel]]] = field(default_factory=dict)
    path_params: dict[str, dict[str, Any]] = field(default_factory=dict)  # schema of non-integer path params
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)
    request_example: Any = None
    response_example: Any = None


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
    headers: dict[str, str | Header] | None = None,
    description: str = "",
    body_content_type: str = "application/json",
    public: bool = True,
    also: dict[int, str | tuple[str, type[BaseModel]]] | None = None,
    path_params: dict[str, dict[str, Any]] | None = None,
    bodies: dict[str, dict[str, Any]] | None = None,
    request_example: Any = None,
    response_example: Any = None,
) -> None:
    """Register ``handler`` on the router behind its declared ``auth`` (huituan.core.web.auth)
    and record the operation for the OpenAPI document."""
    auth = Auth(auth)
    enforced = enforce(auth, handler, f"{method} {path}")
    # Documented path parameters are integers (build_openapi): ASCII digits in range, checked
    # with headers, path and query text before the auth check and the handler run.
    int_params = tuple(p for p in _path_params(path) if p not in (path_params or {})) if public else ()

    async def wrapped(request: web.Request) -> web.StreamResponse:
        screen_request(request, int_params)
        return await enforced(request)

    wrapped.__qualname__ = getattr(handler, "__qualname__", "handler")
    app.router.add_route(method, path, wrapped)
    app.setdefault(DECLARED_KEY, {})[wrapped] = auth
    if OPERATIONS_KEY not in app:
        app[OPERATIONS_KEY] = []
    all_errors = set(errors) | {400}  # the edge refuses malformed headers, path or query text
    if auth in (Auth.user, Auth.operator):
        all_errors |= {401, 403}
    if body is not None or query is not None or "{" in path:
        all_errors.add(422)
    if body is not None:
        all_errors.add(413)
    app[OPERATIONS_KEY].append(
        Operation(
            method=method.upper(), path=path, summary=summary, tag=tag, auth=auth, body=body,
            query=query, response=response, response_content_type=response_content_type,
            status=status, errors=tuple(sorted(all_errors)),
            headers={k: v if isinstance(v, Header) else Header(v) for k, v in (headers or {}).items()},
            description=description, body_content_type=body_content_type, public=public,
            also=dict(also or {}), path_params=dict(path_params or {}), bodies=dict(bodies or {}),
            request_example=request_example, response_example=response_example,
        )
    )


def _path_params(path: str) -> list[str]:
    return [segment[1:-1].split(":")[0] for segment in path.split("/")
            if segment.startswith("{") and segment.endswith("}")]


def _schema(model: type[BaseModel], components: dict[str, Any], mode: str = "serialization") -> dict[str, Any]:
    """A $ref to ``model`` in components (its nested models beside it); ``mode="validation"``
    for request bodies, which may differ from what the same model serializes to."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode)
    for name, sub in schema.pop("$defs", {}).items():
        components[name] = sub
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _describe_fields(schema: Any) -> None:
    """Fill missing property descriptions from the glossary (the model's own wins)."""
    if isinstance(schema, dict):
        for name, prop in (schema.get("properties") or {}).items():
            if isinstance(prop, dict) and not prop.get("description") and describe(name):
                prop["description"] = describe(name)
        for value in schema.values():
            if isinstance(value, (dict, list)):
                _describe_fields(value)
    elif isinstance(schema, list):
        for value in schema:
            _describe_fields(value)


def build_openapi(app: web.Application, *, title: str = "惠团 huituan API", version: str = "1.0.0") -> dict[str, Any]:
    components: dict[str, Any] = {}
    _schema(ErrorOut, components)
    paths: dict[str, Any] = {}
    for op in app.get(OPERATIONS_KEY, []):
        if not op.public:
            continue
        params: list[dict[str, Any]] = []
        for name in _path_params(op.path):
            schema = op.path_params.get(name, {"type": "integer", "minimum": 1, "maximum": ID_MAX})
            params.append({"name": name, "in": "path", "required": True, "schema": schema})
        if op.query is not None:
            # Enums in query models become $refs: point them at components, not at $defs.
            qschema = op.query.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(qschema.pop("$defs", {}))
            required = set(qschema.get("required", []))
            for name, prop in qschema.get("properties", {}).items():
                params.append({"name": name, "in": "query", "required": name in required, "schema": prop})
        for name, header in op.headers.items():
            schema = {"type": "string", "maxLength": header.max_length}
            if header.min_length:
                schema["minLength"] = header.min_length
            params.append({"name": name, "in": "header", "required": header.required,
                           "description": header.description, "schema": schema})
        responses: dict[str, Any] = {}
        if op.response is not None:
            media = {"schema": _schema(op.response, components)}
            example = op.response_example if op.response_example is not None else example_for_model(op.response)
            if example is not None:
                media["example"] = example
            responses[str(op.status)] = {"description": "成功", "content": {op.response_content_type: media}}
        elif op.response_content_type != "application/json":
            media = {"schema": {"type": "string"}}
            if op.response_example is not None:
                media["example"] = op.response_example
            responses[str(op.status)] = {"description": "成功", "content": {op.response_content_type: media}}
        else:
            responses[str(op.status)] = {"description": "成功（无响应体）"}
        for code, what in op.also.items():
            if isinstance(what, tuple):
                what, model = what
                media = {"schema": _schema(model, components)}
                if (example := example_for_model(model)) is not None:
                    media["example"] = example
                responses[str(code)] = {"description": what, "content": {"application/json": media}}
            else:
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
            media = {"schema": _schema(op.body, components, "validation")}
            example = op.request_example if op.request_example is not None else example_for_model(op.body, inputs=True)
            if example is not None:
                media["example"] = example
            operation["requestBody"] = {"required": True, "content": {op.body_content_type: media, **op.bodies}}
        paths.setdefault(op.path, {})[op.method.lower()] = operation
    _describe_fields(components)
    for item in paths.values():
        for operation in item.values():
            for param in operation["parameters"]:
                if not param.get("description"):
                    param["description"] = param["schema"].get("description") or describe(param["name"])
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
