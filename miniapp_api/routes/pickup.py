"""Public pickup points (自提点) the buyer can choose at checkout."""

from __future__ import annotations

from aiohttp import web

from huituan.core.web.auth import Auth
from huituan.core.web.http import parse_query
from huituan.core.web.openapi import api
from huituan.miniapp_api.admin.schemas import PickupPointListOut, PickupPointQuery, respond
from huituan.services import pickup_points


async def list_pickup_points(request: web.Request) -> web.Response:
    q = parse_query(request, PickupPointQuery)
    return respond(PickupPointListOut, await pickup_points.list_public_pickup_points(q.city, q.page, q.page_size))


def setup(app: web.Application) -> None:
    api(app, "GET", "/api/v1/pickup-points", list_pickup_points, summary="可选自提点（分页）", tag="pickup",
        query=PickupPointQuery, response=PickupPointListOut, auth=Auth.public)
