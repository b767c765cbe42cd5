"""The admin API (/api/admin/v1): every route needs an operator token except login."""

from __future__ import annotations

from aiohttp import web

from miniapp_api.admin import catalog, leaders, operators, orders


def setup(app: web.Application) -> None:
    operators.setup(app)
    catalog.setup(app)
    orders.setup(app)
    leaders.setup(app)
