"""The mini-program HTTP edge (``/api/v1``) and the admin API (``/api/admin/v1``)."""

from __future__ import annotations

from aiohttp import web

from huituan.miniapp_api import admin
from huituan.miniapp_api.routes import (
    activities,
    addresses,
    auth,
    catalog,
    docs,
    leaders,
    notifications,
    ops,
    orders,
    pay,
    pickup,
    posters,
    promoter,
    sharing,
)


def register(app: web.Application) -> None:
    """Called by the composition root. Order only matters for the docs page; the docs route
    goes last so that it describes every other route."""
    ops.setup(app)
    auth.setup(app)
    catalog.setup(app)
    addresses.setup(app)
    orders.setup(app)
    pay.setup(app)
    pickup.setup(app)
    leaders.setup(app)
    promoter.setup(app)
    sharing.setup(app)
    posters.setup(app)
    activities.setup(app)
    notifications.setup(app)
    admin.register(app)


def register_docs(app: web.Application) -> None:
    docs.setup(app)
