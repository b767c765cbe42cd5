"""Share posters: the image for the logged-in sharer, with ETag / 304."""

from __future__ import annotations

import re

from aiohttp import web

from huituan.core.web.auth import Auth
from huituan.core.web.http import parse_query, path_text
from huituan.core.web.keys import RUNTIME_KEY, SETTINGS_KEY
from huituan.core.web.openapi import api
from huituan.miniapp_api.schemas.sharing import PosterQuery
from huituan.posters.registry import KINDS
from huituan.posters.service import get_service

KIND_RE = re.compile(r"[a-z_]{1,32}")


async def poster(request: web.Request, user_id: int) -> web.Response:
    kind = path_text(request, "kind", KIND_RE, "海报类型格式不正确")  # unknown kinds: 404 from the service
    q = parse_query(request, PosterQuery)
    result = await get_service(request.app[RUNTIME_KEY]).poster(user_id, kind, q.target, q.template)
    headers = {"ETag": result.etag, "Cache-Control": f"private, max-age={request.app[SETTINGS_KEY].poster_max_age_seconds}",
               "X-Share-Code": result.share_code}
    if result.etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    return web.Response(body=result.body, content_type=result.content_type, headers=headers)


def setup(app: web.Application) -> None:
    api(app, "GET", "/api/v1/posters/{kind}", poster, summary="分享海报（图片）", tag="sharing", auth=Auth.user,
        query=PosterQuery, response_content_type="image/jpeg", errors=(403, 404, 422, 429),
        path_params={"kind": {"type": "string", "enum": list(KINDS), "description": "海报类型"}},
        also={304: "海报未变化"}, response_example="（JPEG 或 PNG 图片字节）",
        description="返回 JPEG 或 PNG（由模板决定），带 ETag 与 Cache-Control；请求带 If-None-Match（上次的 ETag）"
                    "且海报未变化时返回 304。海报上的码是我的分享码（响应头 X-Share-Code）。"
                    "404：类型不存在或暂未开放（field=kind）、对象不存在或已下架（field=target）、模板不存在（field=template）；"
                    "403：不是自己的砍价；422：缺少 target；429：生成排队已满。")
