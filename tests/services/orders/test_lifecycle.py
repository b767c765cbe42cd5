from datetime import timedelta

import pytest

from huituan.core.clock import utcnow
from huituan.core.errors import InvalidState
from huituan.models.catalog import Sku
from huituan.models.order import Order, OrderStatus
from huituan.services.orders.lifecycle import (
    auto_confirm_orders,
    cancel_order,
    close_expired_orders,
    complete_order,
    confirm_receipt,
)
from huituan.services.orders.shipping import mark_ready_for_pickup, ship_order
from tests.services.orders.helpers import given_order, status_of


async def test_cancel_returns_stock_once(rt, settings):
    user, product, order = await given_order(settings, skus=[{"stock": 5}], quantity=3)
    out = await cancel_order(user.id, order["id"])
    assert out["status"] == "cancelled" and out["cancel_reason"] == "user_cancelled"
    assert (await Sku.get(id=product.sku_list[0].id)).stock == 5
    with pytest.raises(InvalidState):
        await cancel_order(user.id, order["id"])
    assert (await Sku.get(id=product.sku_list[0].id)).stock == 5


async def test_close_expired_orders_is_an_idempotent_sweep(rt, settings):
    user, product, order = await given_order(settings, skus=[{"stock": 5}], quantity=2)
    _, _, fresh = await given_order(settings, product=product, quantity=1)
    assert await close_expired_orders(rt) == 0
    later = utcnow() + timedelta(seconds=settings.order_pay_timeout_seconds + 1)
    await Order.filter(id=fresh["id"]).update(pay_deadline=later + timedelta(hours=1))
    assert await close_expired_orders(rt, now=later) == 1
    assert await close_expired_orders(rt, now=later) == 0
    assert await status_of(order["id"]) == OrderStatus.cancelled
    assert await status_of(fresh["id"]) == OrderStatus.unpaid
    assert (await Sku.get(id=product.sku_list[0].id)).stock == 4


async def test_ship_then_confirm_then_auto_confirm(rt, settings):
    user, _, order = await given_order(settings)
    with pytest.raises(InvalidState):
        await ship_order(order["id"], "顺丰", "SF1")
    await Order.filter(id=order["id"]).update(status=OrderStatus.paid)
    shipped = await ship_order(order["id"], "顺丰", "SF123")
    assert shipped["status"] == "shipped" and shipped["express_no"] == "SF123"
    assert await auto_confirm_orders(rt.settings.order_auto_confirm_days) == 0
    await Order.filter(id=order["id"]).update(shipped_at=utcnow() - timedelta(days=settings.order_auto_confirm_days + 1))
    assert await auto_confirm_orders(rt.settings.order_auto_confirm_days) == 1
    assert await status_of(order["id"]) == OrderStatus.completed
    with pytest.raises(InvalidState):
        await confirm_receipt(user.id, order["id"])


async def test_ready_for_pickup_only_for_paid_pickup_orders_and_complete(rt, settings):
    user, _, order = await given_order(settings)
    await Order.filter(id=order["id"]).update(status=OrderStatus.paid)
    assert await mark_ready_for_pickup(order["id"]) is False  # express order
    await Order.filter(id=order["id"]).update(delivery_mode="pickup")
    assert await mark_ready_for_pickup(order["id"]) is True
    assert await mark_ready_for_pickup(order["id"]) is False
    assert await complete_order(order["id"]) is True
    assert await complete_order(order["id"]) is False
