"""Catalog reads: categories, product list, product detail (cached bytes)."""

from __future__ import annotations

from aiohttp import web

from huituan.core.web.auth import Auth
from huituan.core.web.http import json_response, parse_query, path_int
from huituan.core.web.keys import RUNTIME_KEY
from huituan.core.web.openapi import api
from huituan.miniapp_api.schemas.catalog import ProductQuery, ShopCategoryListOut, ShopProductDetailOut, ShopProductListOut
from huituan.services import catalog


async def categories(request: web.Request) -> web.Response:
    return json_response(await catalog.list_categories())


async def products(request: web.Request) -> web.Response:
    q = parse_query(request, ProductQuery)
    return json_response(await catalog.list_products(q.category_id, q.keyword, q.page, q.page_size))


async def product_detail(request: web.Request) -> web.Response:
    body = await catalog.get_product_detail_bytes(request.app[RUNTIME_KEY], path_int(request, "id"))
    return web.Response(body=body, content_type="application/json")


async def _invalidation_ctx(app: web.Application):
    rt = app[RUNTIME_KEY]
    if rt.settings.product_cache_seconds > 0:
        await catalog.start_invalidation_listener(rt)
    yield
    await catalog.stop_invalidation_listener(rt)


def setup(app: web.Application) -> None:
    api(app, "GET", "/api/v1/categories", categories, summary="商品分类", tag="catalog", response=ShopCategoryListOut, auth=Auth.public)
    api(app, "GET", "/api/v1/products", products, summary="商品列表（在售，分页）", tag="catalog",
        query=ProductQuery, response=ShopProductListOut,
        description="按分类 category_id、关键词 keyword（标题/副标题）筛选；page_size 最大 50。", auth=Auth.public)
    api(app, "GET", "/api/v1/products/{id}", product_detail, summary="商品详情（规格、库存、图片）", tag="catalog",
        response=ShopProductDetailOut, errors=(404,),
        description="库存为展示用，可能有数秒延迟；以下单结果为准。已下架商品返回 404。", auth=Auth.public)
    # Runs after the runtime context (appended by create_app before route setup).
    app.cleanup_ctx.append(_invalidation_ctx)
