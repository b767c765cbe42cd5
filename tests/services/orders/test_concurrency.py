"""Multi-SKU orders under real concurrency (PostgreSQL, parallel pool connections), beside the
single-SKU burst in test_create.py: buyers order the same two SKUs with the lines in opposite
orders at the same moment. Stock is taken in SKU-id order whatever the line order, so no two
transactions wait on each other's rows (no deadlock), no order is half taken, nothing oversells."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from huituan.core.errors import OutOfStock
from huituan.models.catalog import Sku
from huituan.models.order import Order, OrderItem
from huituan.services.orders.create import create_order
from tests.factories import make_address, make_product, make_user

UNITS = 25
BUYERS = 80


@pytest.mark.postgres
async def test_opposite_line_orders_race_without_deadlock_or_oversell(rt, settings):
    p = await make_product(skus=[{"price_fen": 500, "stock": UNITS}, {"price_fen": 700, "stock": UNITS}])
    a, b = p.sku_list
    buyers = []
    for i in range(BUYERS):
        user = await make_user()
        lines = [{"sku_id": a.id, "quantity": 1}, {"sku_id": b.id, "quantity": 1}]
        buyers.append((user, await make_address(user), lines if i % 2 else lines[::-1]))
    spans: list[tuple[float, float]] = []
    start = asyncio.Event()

    async def buy(user, address, lines):
        await start.wait()
        began = time.monotonic()
        try:
            await create_order(settings, user.id, uuid.uuid4().hex, items=lines, delivery_mode="express",
                               address_id=address.id)
            return "ok"
        except OutOfStock:
            return "out_of_stock"  # anything else (a deadlock, a serialization error) fails the test
        finally:
            spans.append((began, time.monotonic()))

    tasks = [asyncio.create_task(buy(*b_)) for b_ in buyers]
    await asyncio.sleep(0)
    start.set()
    results = await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)

    # it really raced: transactions overlapped, on several pool connections at once
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    overlap = peak = 0
    for _, step in events:
        overlap += step
        peak = max(peak, overlap)
    assert peak >= 10, peak
    assert results.count("ok") == UNITS and results.count("out_of_stock") == BUYERS - UNITS
    # whole orders only, both stocks exactly used up
    orders = await Order.all()
    assert len(orders) == UNITS
    for order in orders:
        assert sorted(await OrderItem.filter(order_id=order.id).values_list("sku_id", flat=True)) == sorted([a.id, b.id])
    assert (await Sku.get(id=a.id)).stock == 0 and (await Sku.get(id=b.id)).stock == 0
    for sku in (a, b):
        assert sum(await OrderItem.filter(sku_id=sku.id).values_list("quantity", flat=True)) == UNITS
