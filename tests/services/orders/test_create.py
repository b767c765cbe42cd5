import asyncio
import uuid

import pytest

from huituan.core.errors import NotFound, OutOfStock, ValidationFailed
from huituan.models.catalog import Sku
from huituan.models.order import Order, OrderItem, OrderStatus
from huituan.services.orders.create import create_order
from tests.factories import make_address, make_product, make_user
from tests.services.orders.helpers import given_order


async def _order(settings, user, items, key=None, **kw):
    address = await make_address(user)
    return await create_order(settings, user.id, key or uuid.uuid4().hex, items=items, delivery_mode="express",
                              address_id=address.id, **kw)


async def test_create_takes_stock_and_prices_from_sku(rt, settings):
    user, product, order = await given_order(settings, skus=[{"price_fen": 1250, "stock": 5}], quantity=3)
    assert order["status"] == "unpaid"
    assert order["goods_fen"] == 3750 and order["payable_fen"] == 3750
    assert sum(i["paid_fen"] for i in order["items"]) == 3750
    assert (await Sku.get(id=product.sku_list[0].id)).stock == 2


async def test_duplicate_lines_merge_and_paid_fen_splits_exactly(rt, settings):
    user = await make_user()
    p = await make_product(skus=[{"price_fen": 333, "stock": 10}, {"price_fen": 334, "stock": 10}])
    a, b = p.sku_list
    order, _ = await _order(settings, user, [{"sku_id": a.id, "quantity": 1}, {"sku_id": b.id, "quantity": 2},
                                             {"sku_id": a.id, "quantity": 2}])
    lines = {i["sku_id"]: i for i in order["items"]}
    assert lines[a.id]["quantity"] == 3 and lines[b.id]["quantity"] == 2
    assert sum(i["paid_fen"] for i in order["items"]) == order["goods_fen"] - order["discount_fen"]


async def test_one_short_line_rolls_back_the_whole_order(rt, settings):
    user = await make_user()
    p = await make_product(skus=[{"stock": 5}, {"stock": 1}])
    a, b = p.sku_list
    with pytest.raises(OutOfStock) as exc:
        await _order(settings, user, [{"sku_id": a.id, "quantity": 2}, {"sku_id": b.id, "quantity": 2}])
    assert exc.value.details["sku_id"] == b.id
    assert (await Sku.get(id=a.id)).stock == 5 and (await Sku.get(id=b.id)).stock == 1
    assert await Order.all().count() == 0 and await OrderItem.all().count() == 0


async def test_shipping_fee_below_threshold_free_above_and_for_pickup(rt, make_settings):
    s = make_settings(shipping_fee_fen=800, free_shipping_threshold_fen=5000)
    user = await make_user()
    p = await make_product(skus=[{"price_fen": 1000, "stock": 100}])
    sku = p.sku_list[0]
    small, _ = await _order(s, user, [{"sku_id": sku.id, "quantity": 1}])
    big, _ = await _order(s, user, [{"sku_id": sku.id, "quantity": 5}])
    assert (small["shipping_fen"], small["payable_fen"]) == (800, 1800)
    assert (big["shipping_fen"], big["payable_fen"]) == (0, 5000)


async def test_bad_inputs_name_the_field(rt, settings):
    user = await make_user()
    p = await make_product()
    sku = p.sku_list[0]
    with pytest.raises(ValidationFailed) as exc:
        await _order(settings, user, [{"sku_id": sku.id, "quantity": 0}])
    assert exc.value.details["field"] == "items.0.quantity"
    with pytest.raises(ValidationFailed) as exc:
        await _order(settings, user, [{"sku_id": sku.id, "quantity": settings.order_max_quantity + 1}])
    assert exc.value.details["field"] == "items.0.quantity"
    with pytest.raises(NotFound) as exc:
        await _order(settings, user, [{"sku_id": sku.id, "quantity": 1}, {"sku_id": 999999, "quantity": 1}])
    assert exc.value.details["field"] == "items.1.sku_id"
    with pytest.raises(ValidationFailed) as exc:
        await create_order(settings, user.id, "k", items=[{"sku_id": sku.id, "quantity": 1}], delivery_mode="express")
    assert exc.value.details["field"] == "address_id"
    with pytest.raises(ValidationFailed) as exc:
        await create_order(settings, user.id, "", items=[{"sku_id": sku.id, "quantity": 1}], delivery_mode="express")
    assert exc.value.details["field"] == "headers.Idempotency-Key"
    other = await make_user()
    theirs = await make_address(other)
    with pytest.raises(NotFound) as exc:
        await create_order(settings, user.id, "k2", items=[{"sku_id": sku.id, "quantity": 1}],
                           delivery_mode="express", address_id=theirs.id)
    assert exc.value.details["field"] == "address_id"


async def test_off_sale_sku_is_refused(rt, settings):
    user = await make_user()
    p = await make_product(on_sale=False)
    with pytest.raises(OutOfStock) as exc:
        await _order(settings, user, [{"sku_id": p.sku_list[0].id, "quantity": 1}])
    assert exc.value.code == "sku_off_sale"


async def test_same_key_returns_same_order_even_concurrently(rt, settings):
    user = await make_user()
    p = await make_product(skus=[{"stock": 100}])
    address = await make_address(user)
    items = [{"sku_id": p.sku_list[0].id, "quantity": 2}]

    async def attempt():
        return await create_order(settings, user.id, "same-key", items=items, delivery_mode="express",
                                  address_id=address.id)

    results = await asyncio.gather(*[attempt() for _ in range(20)])
    assert len({o["id"] for o, _ in results}) == 1
    assert sum(1 for _, created in results if created) == 1
    assert await Order.filter(user_id=user.id).count() == 1
    assert (await Sku.get(id=p.sku_list[0].id)).stock == 98


async def test_200_concurrent_buyers_for_50_units(rt, settings):
    """Given 50 units and 200 buyers ordering 1 each at once, exactly 50 orders exist and stock is 0."""
    p = await make_product(skus=[{"price_fen": 990, "stock": 50}])
    sku = p.sku_list[0]
    users = [await make_user() for _ in range(200)]
    addresses = [await make_address(u) for u in users]

    async def buy(u, a):
        try:
            await create_order(settings, u.id, uuid.uuid4().hex, items=[{"sku_id": sku.id, "quantity": 1}],
                               delivery_mode="express", address_id=a.id)
            return True
        except OutOfStock:
            return False

    results = await asyncio.gather(*[buy(u, a) for u, a in zip(users, addresses)])
    assert sum(results) == 50
    assert await Order.all().count() == 50
    assert (await Sku.get(id=sku.id)).stock == 0
    assert sum(await OrderItem.all().values_list("quantity", flat=True)) == 50
    assert all(o.status == OrderStatus.unpaid for o in await Order.all())


async def test_an_order_above_the_amount_ceiling_is_refused_not_overflowed(rt, settings):
    """100,000 yuan x 22 units would overflow the 32-bit amount columns on PostgreSQL."""
    from huituan.core.errors import ValidationFailed
    from huituan.models.catalog import Sku
    from huituan.models.order import Order
    from huituan.services.orders.create import create_order
    from tests.factories import make_address, make_product, make_user

    user = await make_user()
    address = await make_address(user)
    product = await make_product(skus=[{"price_fen": 100_000_000 // 10, "stock": 999}])
    sku = product.sku_list[0]
    with pytest.raises(ValidationFailed) as err:
        await create_order(settings, user.id, "too-big", items=[{"sku_id": sku.id, "quantity": 999}],
                           delivery_mode="express", address_id=address.id)
    assert err.value.code == "order_amount_too_large" and err.value.details["field"] == "items"
    assert await Order.all().count() == 0
    assert (await Sku.get(id=sku.id)).stock == 999

