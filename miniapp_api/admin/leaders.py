"""Admin leaders and pickup points."""

from __future__ import annotations

from aiohttp import web

from huituan.core.web.auth import Auth
from huituan.core.web.http import parse_json, parse_query, path_int
from huituan.core.web.openapi import api
from huituan.miniapp_api.admin import schemas as s
from huituan.services import leader_store, leaders, pickup_points
from huituan.services.pickup import shortage


async def list_leaders(request: web.Request, operator_id: int) -> web.Response:
    q = parse_query(request, s.LeaderListQuery)
    return s.respond(s.LeaderListOut, await leaders.list_leaders(**q.model_dump()))


async def create_leader(request: web.Request, operator_id: int) -> web.Response:
    body = await parse_json(request, s.LeaderIn)
    return s.respond(s.LeaderOut, await leaders.create_leader(body.user_id, body.name, body.phone,
                                                             body.commission_bp), 201)


async def approve_leader(request: web.Request, operator_id: int) -> web.Response:
    return s.respond(s.LeaderOut, await leaders.approve_leader(path_int(request, "leader_id"), operator_id))


async def reject_leader(request: web.Request, operator_id: int) -> web.Response:
    body = await parse_json(request, s.RejectLeaderIn)
    return s.respond(s.LeaderOut, await leaders.reject_leader(path_int(request, "leader_id"), body.reason,
                                                             operator_id))


async def set_leader_rate(request: web.Request, operator_id: int) -> web.Response:
    body = await parse_json(request, s.LeaderRateIn)
    leader_id = path_int(request, "leader_id")
    await leader_store.set_leader_rate(leader_id, body.commission_bp)
    return s.respond(s.LeaderOut, await leaders.get_leader(leader_id))


async def set_product_rate(request: web.Request, operator_id: int) -> web.Response:
    body = await parse_json(request, s.ProductLeaderRateIn)
    return s.respond(s.ProductLeaderRateOut,
                     await leader_store.set_product_rate(path_int(request, "product_id"), body.rate_bp))


async def list_shortages(request: web.Request, operator_id: int) -> web.Response:
    q = parse_query(request, s.ShortageReportQuery)
    return s.respond(s.ShortageReportListOut, await shortage.list_reports(**q.model_dump()))


async def create_leader_pickup_point(request: web.Request, operator_id: int) -> web.Response:
    leader_id = path_int(request, "leader_id")
    body = await parse_json(request, s.PickupPointIn)
    return s.respond(s.PickupPointOut, await pickup_points.create_pickup_point(leader_id, body.model_dump()), 201)


async def list_pickup_points(request: web.Request, operator_id: int) -> web.Response:
    q = parse_query(request, s.AdminPickupPointQuery)
    return s.respond(s.AdminPickupPointListOut, await pickup_points.list_all_pickup_points(**q.model_dump()))


async def create_pickup_point(request: web.Request, operator_id: int) -> web.Response:
    body = await parse_json(request, s.AdminPickupPointIn)
    data = body.model_dump(exclude={"leader_id"})
    return s.respond(s.PickupPointOut, await pickup_points.create_pickup_point(body.leader_id, data), 201)


def setup(app: web.Application) -> None:
    op = dict(auth=Auth.operator)
    api(app, "GET", "/api/admin/v1/leaders", list_leaders, summary="团长列表", tag="admin-leaders",
        query=s.LeaderListQuery, response=s.LeaderListOut, **op)
    api(app, "POST", "/api/admin/v1/leaders", create_leader, summary="登记团长（直接通过）", tag="admin-leaders",
        body=s.LeaderIn, response=s.LeaderOut, status=201, errors=(404, 409), **op)
    api(app, "POST", "/api/admin/v1/leaders/{leader_id}/approve", approve_leader, summary="通过团长申请",
        tag="admin-leaders", response=s.LeaderOut, errors=(404, 409), **op)
    api(app, "POST", "/api/admin/v1/leaders/{leader_id}/reject", reject_leader, summary="驳回团长申请（需理由）",
        tag="admin-leaders", body=s.RejectLeaderIn, response=s.LeaderOut, errors=(404, 409), **op)
    api(app, "PUT", "/api/admin/v1/leaders/{leader_id}/commission", set_leader_rate, summary="设置团长佣金比例",
        tag="admin-leaders", body=s.LeaderRateIn, response=s.LeaderOut, errors=(404,), **op)
    api(app, "PUT", "/api/admin/v1/products/{product_id}/leader-commission", set_product_rate,
        summary="设置商品的团长佣金比例", tag="admin-leaders", body=s.ProductLeaderRateIn,
        response=s.ProductLeaderRateOut, errors=(404,), **op)
    api(app, "GET", "/api/admin/v1/shortage-reports", list_shortages, summary="团长报损记录", tag="admin-leaders",
        query=s.ShortageReportQuery, response=s.ShortageReportListOut, **op)
    api(app, "POST", "/api/admin/v1/leaders/{leader_id}/pickup-points", create_leader_pickup_point,
        summary="为团长新增自提点", tag="admin-leaders", body=s.PickupPointIn, response=s.PickupPointOut,
        status=201, errors=(404,), **op)
    api(app, "GET", "/api/admin/v1/pickup-points", list_pickup_points, summary="自提点列表（含停用）",
        tag="admin-leaders", query=s.AdminPickupPointQuery, response=s.AdminPickupPointListOut, **op)
    api(app, "POST", "/api/admin/v1/pickup-points", create_pickup_point, summary="新增自提点",
        tag="admin-leaders", body=s.AdminPickupPointIn, response=s.PickupPointOut, status=201,
        errors=(404,), **op)
