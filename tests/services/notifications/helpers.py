"""Given-helpers for notification tests: a buyer with consent, an order in a given state,
and what the sandbox received."""

from __future__ import annotations

from typing import Any

from huituan.models.order import Order
from huituan.services import outbox
from huituan.services.notifications.subscriptions import grant
from tests.factories import create_order, login, make_product


async def sandbox(client) -> dict[str, Any]:
    await outbox.wait_idle()
    return await (await client.get("/sandbox/outbox")).json()


async def sent_with(client, template_id: str) -> list[dict[str, Any]]:
    return [m for m in (await sandbox(client))["subscribe_messages"] if m["template_id"] == template_id]


def values(message: dict[str, Any]) -> dict[str, str]:
    return {k: v["value"] for k, v in message["data"].items()}


async def buyer_with_order(client, code: str, *, templates: tuple[str, ...] = (), title: str = "赣南脐橙 5 斤装",
                           price_fen: int = 2590, **order_fields: Any) -> tuple[dict, Order]:
    """A logged-in buyer who accepted ``templates`` once each, with one unpaid order; the
    order row is then given ``order_fields`` (the situation)."""
    token, user = await login(client, code)
    for tid in templates:
        await grant(user["id"], tid)
    product = await make_product(title=title, skus=[{"price_fen": price_fen, "stock": 10}])
    order = await create_order(client, token, [(product.sku_list[0], 1)])
    if order_fields:
        await Order.filter(id=order["id"]).update(**order_fields)
    return user, await Order.get(id=order["id"])
