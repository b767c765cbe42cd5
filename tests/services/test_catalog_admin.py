"""The buyer-facing detail is cached (product_cache_seconds); admin edits must drop it."""

import pytest

from huituan.core.errors import Conflict, NotFound
from huituan.models.catalog import Product
from huituan.services import catalog_admin
from tests.factories import make_product


@pytest.fixture
def settings(make_settings):
    return make_settings(product_cache_seconds=300)


async def _public_price(client, product_id):
    resp = await client.get(f"/api/v1/products/{product_id}")
    assert resp.status == 200
    return (await resp.json())["skus"][0]["price_fen"]


async def test_sku_edit_invalidates_cached_detail(client, rt):
    product = await make_product(skus=[{"price_fen": 1000}])
    assert await _public_price(client, product.id) == 1000
    await catalog_admin.update_sku(rt, product.sku_list[0].id, {"price_fen": 1200})
    assert await _public_price(client, product.id) == 1200
    await catalog_admin.adjust_stock(rt, product.sku_list[0].id, delta=-5)
    resp = await client.get(f"/api/v1/products/{product.id}")
    assert (await resp.json())["skus"][0]["stock"] == 95


async def test_price_from_is_zero_when_nothing_on_sale(rt):
    product = await make_product(skus=[{"price_fen": 700}, {"price_fen": 900}])
    for sku in product.sku_list:
        await catalog_admin.update_sku(rt, sku.id, {"on_sale": False})
    assert (await Product.get(id=product.id)).price_from_fen == 0
    await catalog_admin.update_sku(rt, product.sku_list[1].id, {"on_sale": True})
    assert (await Product.get(id=product.id)).price_from_fen == 900


async def test_stock_errors(rt):
    product = await make_product(skus=[{"stock": 2}])
    with pytest.raises(Conflict) as exc:
        await catalog_admin.adjust_stock(rt, product.sku_list[0].id, delta=-3)
    assert exc.value.code == "stock_negative"
    with pytest.raises(NotFound):
        await catalog_admin.adjust_stock(rt, 424242, set_to=1)
