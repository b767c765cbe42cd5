"""Share codes (open a share), the promoter's share funnel and share materials."""

from __future__ import annotations

from aiohttp import web

from huituan.core.errors import HuituanError
from huituan.core.web.auth import Auth, authenticate_user
from huituan.core.web.http import json_response, parse_query, path_text
from huituan.core.web.keys import SETTINGS_KEY
from huituan.core.web.openapi import api
from huituan.miniapp_api.schemas.sharing import (
    CODE_PATTERN,
    MaterialsQuery,
    PromoterMaterialsOut,
    PromoterSharesOut,
    ShareOut,
)
from huituan.services.sharing import codes, funnel, materials


def _viewer(request: web.Request) -> int | None:
    """Opening a share works without login; with a valid user token it also binds."""
    if not request.headers.get("Authorization"):
        return None
    try:
        return authenticate_user(request)
    except HuituanError:
        return None


async def open_share(request: web.Request) -> web.Response:
    code = path_text(request, "code", codes.CODE_RE, "分享码格式不正确（8 位字母或数字）", "share_code_invalid")
    return json_response(await codes.open_share(code, _viewer(request)))


async def my_shares(request: web.Request, user_id: int) -> web.Response:
    return json_response(await funnel.promoter_shares(user_id))


async def my_materials(request: web.Request, user_id: int) -> web.Response:
    q = parse_query(request, MaterialsQuery)
    h5 = request.app[SETTINGS_KEY].resolved_share_h5_url()
    return json_response(await materials.promoter_materials(user_id, q.product_id, h5))  # None: 422 product_id


def setup(app: web.Application) -> None:
    api(app, "GET", "/api/v1/share/{code}", open_share, summary="打开分享（解析分享码）", tag="sharing",
        auth=Auth.public, response=ShareOut, errors=(404, 422),
        path_params={"code": {"type": "string", "pattern": CODE_PATTERN, "description": "分享码（8 位字母或数字）"}},
        description="返回分享对象与分享人昵称头像，并计一次打开。带用户登录凭证时按推荐绑定规则绑定分享人；"
                    "也可在登录时把 code 作为 scene 带回。422：code 格式不对（details.field=code）；404：分享码不存在。")
    api(app, "GET", "/api/v1/promoter/shares", my_shares, summary="我的分享效果（按分享码与渠道）", tag="sharing",
        auth=Auth.user, response=PromoterSharesOut,
        description="每个分享码与每个渠道的打开、新用户、绑定、订单、实付与佣金，以及近 7 天、30 天汇总。")
    api(app, "GET", "/api/v1/promoter/materials", my_materials, summary="商品分享素材（一键发圈）", tag="sharing",
        auth=Auth.user, query=MaterialsQuery, response=PromoterMaterialsOut, errors=(404,),
        description="文案中的 {code}、{url} 已替换为我的分享码与分享链接。404：商品不存在。")
