"""The admin API (/api/admin/v1): every route needs an operator token except login."""

from __future__ import annotations

from aiohttp import web

from huituan.miniapp_api.admin import (
    activities,
    catalog,
    distribution,
    leaders,
    notifications,
    operators,
    orders,
    posters,
)


def register(app: web.Application) -> None:
    operators.setup(app)
    catalog.setup(app)
    orders.setup(app)
    leaders.setup(app)
    distribution.setup(app)
    posters.setup(app)
    activities.setup(app)
    notifications.setup(app)
