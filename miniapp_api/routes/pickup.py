"""Pickup for consumers: the points to choose at checkout (nearest first with consent), the
default leader, a leader's store, and the consumer's own pickup codes."""

from __future__ import annotations

from aiohttp import web

from huituan.core.web.auth import Auth
from huituan.core.web.http import parse_json, parse_query, path_int
from huituan.core.web.openapi import api
from huituan.miniapp_api.admin.schemas import PickupPointListOut, PickupPointQuery, respond
from huituan.miniapp_api.schemas import leaders as s
from huituan.services import leader_store, pickup_points
from huituan.services.pickup import arrival


async def list_pickup_points(request: web.Request) -> web.Response:
    q = parse_query(request, PickupPointQuery)
    return respond(PickupPointListOut, await pickup_points.list_public_pickup_points(q.city, q.page, q.page_size))


async def nearby(request: web.Request) -> web.Response:
    q = parse_query(request, s.NearbyQuery)
    return respond(s.NearbyOut, await pickup_points.nearest_pickup_points(
        q.latitude, q.longitude, consent=q.consent, radius_km=q.radius_km))


async def get_default(request: web.Request, user_id: int) -> web.Response:
    return respond(s.DefaultPointOut, await pickup_points.get_default_point(user_id))


async def set_default(request: web.Request, user_id: int) -> web.Response:
    body = await parse_json(request, s.DefaultPointIn)
    return respond(s.DefaultPointOut, await pickup_points.set_default_point(user_id, body.pickup_point_id,
                                                                            body.source))


async def store(request: web.Request) -> web.Response:
    return respond(s.StoreOut, await leader_store.leader_store(path_int(request, "leader_id")))


async def my_tickets(request: web.Request, user_id: int) -> web.Response:
    q = parse_query(request, s.TicketListQuery)
    return respond(s.TicketListOut, {"items": await arrival.consumer_tickets(user_id, q.order_id)})


def setup(app: web.Application) -> None:
    api(app, "GET", "/api/v1/pickup-points", list_pickup_points, summary="可选自提点（分页）", tag="pickup",
        query=PickupPointQuery, response=PickupPointListOut, auth=Auth.public)
    api(app, "GET", "/api/v1/pickup-points/nearby", nearby, summary="附近的自提点（需同意使用位置）", tag="pickup",
        query=s.NearbyQuery, response=s.NearbyOut, errors=(422,), auth=Auth.public)
    api(app, "GET", "/api/v1/me/pickup-point", get_default, summary="我的默认团长与自提点", tag="pickup",
        response=s.DefaultPointOut, auth=Auth.user)
    api(app, "PUT", "/api/v1/me/pickup-point", set_default, summary="设置默认团长与自提点", tag="pickup",
        body=s.DefaultPointIn, response=s.DefaultPointOut, errors=(404,), auth=Auth.user)
    api(app, "GET", "/api/v1/leaders/{leader_id}/store", store, summary="团长小店商品", tag="pickup",
        response=s.StoreOut, errors=(404,), auth=Auth.public)
    api(app, "GET", "/api/v1/me/pickup-codes", my_tickets, summary="我的提货码", tag="pickup",
        query=s.TicketListQuery, response=s.TicketListOut, auth=Auth.user)
