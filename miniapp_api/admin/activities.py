"""Admin: activities (拼团, 砍价, 秒杀) — create, edit, start/stop, results, stock drift."""

from __future__ import annotations

from aiohttp import web

from huituan.core.web.auth import Auth
from huituan.core.web.http import parse_json, path_int
from huituan.core.web.keys import RUNTIME_KEY
from huituan.core.web.openapi import api
from huituan.miniapp_api.admin import activities_schemas as a
from huituan.miniapp_api.admin.schemas import respond
from huituan.miniapp_api.schemas import activities as s
from huituan.models.group_buy import ActivityStatus
from huituan.services.activities import bargain, flash_sale, group_buy


async def create_group_buy(request: web.Request, operator_id: int) -> web.Response:
    body = await parse_json(request, a.GroupActivityIn)
    return respond(s.GroupActivityOut, await group_buy.create_activity(body.model_dump()), 201)


async def edit_group_buy(request: web.Request, operator_id: int) -> web.Response:
    body = await parse_json(request, a.GroupActivityPatch)
    return respond(s.GroupActivityOut, await group_buy.update_activity(path_int(request, "id"), body.model_dump()))


async def group_buy_status(request: web.Request, operator_id: int) -> web.Response:
    body = await parse_json(request, a.StatusIn)
    return respond(s.GroupActivityOut, await group_buy.set_activity_status(path_int(request, "id"),
                                                                            ActivityStatus(body.status)))


async def group_buy_results(request: web.Request, operator_id: int) -> web.Response:
    return respond(a.GroupResultsOut, await group_buy.activity_results(path_int(request, "id")))


async def create_bargain(request: web.Request, operator_id: int) -> web.Response:
    body = await parse_json(request, a.BargainActivityIn)
    return respond(s.BargainActivityOut, await bargain.create_activity(body.model_dump()), 201)


async def edit_bargain(request: web.Request, operator_id: int) -> web.Response:
    body = await parse_json(request, a.BargainActivityPatch)
    return respond(s.BargainActivityOut, await bargain.update_activity(path_int(request, "id"), body.model_dump()))


async def bargain_status(request: web.Request, operator_id: int) -> web.Response:
    body = await parse_json(request, a.StatusIn)
    return respond(s.BargainActivityOut, await bargain.set_activity_status(path_int(request, "id"),
                                                                            ActivityStatus(body.status)))


async def bargain_results(request: web.Request, operator_id: int) -> web.Response:
    return respond(a.BargainResultsOut, await bargain.activity_results(path_int(request, "id")))


async def create_flash_session(request: web.Request, operator_id: int) -> web.Response:
    body = await parse_json(request, a.FlashSessionIn)
    return respond(s.FlashSessionOut, await flash_sale.create_session(
        body.title, body.starts_at, body.ends_at, [i.model_dump() for i in body.items], body.claim_ttl_seconds), 201)


async def edit_flash_session(request: web.Request, operator_id: int) -> web.Response:
    body = await parse_json(request, a.FlashSessionPatch)
    return respond(s.FlashSessionOut, await flash_sale.update_session(
        request.app[RUNTIME_KEY].redis, path_int(request, "id"), body.model_dump()))


async def flash_session_status(request: web.Request, operator_id: int) -> web.Response:
    body = await parse_json(request, a.StatusIn)
    return respond(s.FlashSessionOut, await flash_sale.set_session_status(
        request.app[RUNTIME_KEY].redis, path_int(request, "id"), ActivityStatus(body.status)))


async def flash_session_results(request: web.Request, operator_id: int) -> web.Response:
    return respond(a.FlashResultsOut, await flash_sale.session_results(request.app[RUNTIME_KEY].redis,
                                                                       path_int(request, "id")))


async def flash_drifts(request: web.Request, operator_id: int) -> web.Response:
    return respond(a.StockDriftListOut, await flash_sale.list_drifts())


def setup(app: web.Application) -> None:
    op = dict(auth=Auth.operator)
    base = "/api/admin/v1"
    status_doc = "active 为开始，stopped 为停止（进行中的团、砍价到期自然结束；秒杀停止后立即不可抢）"
    api(app, "POST", f"{base}/group-buys", create_group_buy, summary="新建拼团活动", tag="admin-activities",
        body=a.GroupActivityIn, response=s.GroupActivityOut, status=201, errors=(404,), **op)
    api(app, "PATCH", f"{base}/group-buys/{{id}}", edit_group_buy, summary="修改拼团活动", tag="admin-activities",
        body=a.GroupActivityPatch, response=s.GroupActivityOut, errors=(404,), **op)
    api(app, "POST", f"{base}/group-buys/{{id}}/status", group_buy_status, summary="开始/停止拼团活动",
        tag="admin-activities", body=a.StatusIn, response=s.GroupActivityOut, errors=(404,), description=status_doc, **op)
    api(app, "GET", f"{base}/group-buys/{{id}}/results", group_buy_results, summary="拼团结果（成团、失败、系统成团）",
        tag="admin-activities", response=a.GroupResultsOut, errors=(404,), **op)
    api(app, "POST", f"{base}/bargain-activities", create_bargain, summary="新建砍价活动", tag="admin-activities",
        body=a.BargainActivityIn, response=s.BargainActivityOut, status=201, errors=(404,),
        description="需满足 助力人数×最小刀 ≤ 起始价−底价 ≤ 助力人数×最大刀（第 N 人恰好砍到底价）。", **op)
    api(app, "PATCH", f"{base}/bargain-activities/{{id}}", edit_bargain, summary="修改砍价活动", tag="admin-activities",
        body=a.BargainActivityPatch, response=s.BargainActivityOut, errors=(404,), **op)
    api(app, "POST", f"{base}/bargain-activities/{{id}}/status", bargain_status, summary="开始/停止砍价活动",
        tag="admin-activities", body=a.StatusIn, response=s.BargainActivityOut, errors=(404,), description=status_doc,
        **op)
    api(app, "GET", f"{base}/bargain-activities/{{id}}/results", bargain_results, summary="砍价结果",
        tag="admin-activities", response=a.BargainResultsOut, errors=(404,), **op)
    api(app, "POST", f"{base}/flash-sales", create_flash_session, summary="新建秒杀场次（库存从规格划出）",
        tag="admin-activities", body=a.FlashSessionIn, response=s.FlashSessionOut, status=201, errors=(404, 409), **op)
    api(app, "PATCH", f"{base}/flash-sales/{{id}}", edit_flash_session, summary="修改秒杀场次",
        tag="admin-activities", body=a.FlashSessionPatch, response=s.FlashSessionOut, errors=(404,), **op)
    api(app, "POST", f"{base}/flash-sales/{{id}}/status", flash_session_status, summary="开始/停止秒杀场次",
        tag="admin-activities", body=a.StatusIn, response=s.FlashSessionOut, errors=(404,), description=status_doc, **op)
    api(app, "GET", f"{base}/flash-sales/{{id}}/results", flash_session_results, summary="秒杀结果与库存差异",
        tag="admin-activities", response=a.FlashResultsOut, errors=(404,), **op)
    api(app, "GET", f"{base}/flash-sales/drifts", flash_drifts, summary="秒杀库存差异记录（对账修复）",
        tag="admin-activities", response=a.StockDriftListOut, **op)
