"""Admin: poster templates (list, add, preview, switch) and the share material library."""

from __future__ import annotations

from aiohttp import web

from huituan.core.web.auth import Auth
from huituan.core.web.http import json_response, parse_json, parse_query, path_int
from huituan.core.web.keys import RUNTIME_KEY
from huituan.core.web.openapi import api
from huituan.miniapp_api.admin.posters_schemas import (
    MaterialIn,
    MaterialListOut,
    MaterialListQuery,
    MaterialOut,
    PreviewIn,
    SwitchIn,
    SwitchOut,
    TemplateIn,
    TemplateListOut,
    TemplateOut,
)
from huituan.posters import template_store
from huituan.posters.service import get_service
from huituan.services.sharing import materials

T = "/api/admin/v1/poster-templates"
M = "/api/admin/v1/share-materials"


async def list_templates(request: web.Request, operator_id: int) -> web.Response:
    return json_response(await template_store.list_templates())


async def save_template(request: web.Request, operator_id: int) -> web.Response:
    body = await parse_json(request, TemplateIn)
    out = await template_store.save_template(operator_id, body.key, body.spec)
    get_service(request.app[RUNTIME_KEY]).forget_recent()
    return json_response(out, status=201)


async def preview(request: web.Request, operator_id: int) -> web.Response:
    body = await parse_json(request, PreviewIn)
    ctype, image = await get_service(request.app[RUNTIME_KEY]).preview(body.kind, body.spec, body.key)
    return web.Response(body=image, content_type=ctype)


async def switch(request: web.Request, operator_id: int) -> web.Response:
    body = await parse_json(request, SwitchIn)
    out = await template_store.switch_template(operator_id, body.kind, body.key)
    get_service(request.app[RUNTIME_KEY]).forget_recent()
    return json_response(out)


async def add_material(request: web.Request, operator_id: int) -> web.Response:
    b = await parse_json(request, MaterialIn)
    out = await materials.add_material(operator_id, product_id=b.product_id, activity_kind=b.activity_kind,
                                       activity_id=b.activity_id, title=b.title, texts=b.texts, images=b.images,
                                       sort=b.sort)
    return json_response(out, status=201)


async def list_materials(request: web.Request, operator_id: int) -> web.Response:
    q = parse_query(request, MaterialListQuery)
    return json_response(await materials.list_materials(q.product_id, q.page, q.page_size))


async def delete_material(request: web.Request, operator_id: int) -> web.Response:
    await materials.delete_material(path_int(request, "id"))
    return web.Response(status=204)


def setup(app: web.Application) -> None:
    tag = "admin-posters"
    api(app, "GET", T, list_templates, summary="海报模板列表（含每种海报当前模板）", tag=tag, auth=Auth.operator,
        response=TemplateListOut)
    api(app, "POST", T, save_template, summary="新增或替换海报模板", tag=tag, auth=Auth.operator, body=TemplateIn,
        response=TemplateOut, status=201, errors=(409, 422),
        description="422：模板不合法，details.field 为模板内的 JSON 指针（如 /layers/3/size）；409：与内置模板同名。")
    api(app, "POST", f"{T}/preview", preview, summary="预览海报模板（示例数据）", tag=tag, auth=Auth.operator,
        body=PreviewIn, response_content_type="image/jpeg", errors=(404, 422), response_example="（JPEG 或 PNG 图片字节）",
        description="给 spec 预览未保存的模板，或给 key 预览已有模板；返回 JPEG 或 PNG。")
    api(app, "PUT", f"{T}/current", switch, summary="切换某种海报使用的模板", tag=tag, auth=Auth.operator,
        body=SwitchIn, response=SwitchOut, errors=(404,))
    api(app, "POST", M, add_material, summary="添加分享素材（文案与图片）", tag=tag, auth=Auth.operator,
        body=MaterialIn, response=MaterialOut, status=201, errors=(404, 422))
    api(app, "GET", M, list_materials, summary="分享素材列表", tag=tag, auth=Auth.operator,
        query=MaterialListQuery, response=MaterialListOut)
    api(app, "DELETE", f"{M}/{{id}}", delete_material, summary="删除分享素材", tag=tag, auth=Auth.operator,
        status=204, errors=(404,))
