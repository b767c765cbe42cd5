"""The buyer-facing detail is cached (product_cache_seconds); admin edits must drop it."""

import pytest

from huituan.core.errors import Conflict, NotFound
from huituan.models.catalog import Product, Sku
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


async def test_incomplete_product_is_created_off_sale_and_cannot_be_put_on_sale(client, rt):
    from huituan.core.errors import ValidationFailed
    from huituan.models.catalog import Category

    fruit = await Category.create(name="水果")
    sku = {"code": "SELL-1", "name": "1kg", "price_fen": 990, "stock": 5}
    no_sku = await catalog_admin.create_product(rt, {"title": "无规格", "category_id": fruit.id, "skus": []})
    no_category = await catalog_admin.create_product(rt, {"title": "无分类", "skus": [sku]})
    complete = await catalog_admin.create_product(rt, {"title": "完整", "category_id": fruit.id,
                                                        "skus": [dict(sku, code="SELL-2")]})
    assert (no_sku["on_sale"], no_category["on_sale"], complete["on_sale"]) == (False, False, True)
    # Asked for on sale explicitly, an incomplete product is refused as the same PATCH is (it
    # came back off sale before), and nothing is written.
    for data, reason in (({"title": "要上架无分类", "skus": [dict(sku, code="SELL-3")]}, "未设置分类"),
                         ({"title": "要上架无规格", "category_id": fruit.id, "skus": []}, "没有 SKU"),
                         ({"title": "要上架无价", "category_id": fruit.id,
                           "skus": [dict(sku, code="SELL-4", on_sale=False)]}, "没有在售且有售价的 SKU")):
        with pytest.raises(ValidationFailed) as exc:
            await catalog_admin.create_product(rt, {**data, "on_sale": True})
        assert exc.value.code == "product_not_sellable" and exc.value.details["field"] == "on_sale"
        assert reason in exc.value.message
        assert not await Product.filter(title=data["title"]).exists()
    assert not await Sku.filter(code__in=["SELL-3", "SELL-4"]).exists()
    for product, reason in ((no_sku, "没有 SKU"), (no_category, "未设置分类")):
        with pytest.raises(ValidationFailed) as exc:
            await catalog_admin.set_products_on_sale(rt, [product["id"]], True)
        assert exc.value.code == "product_not_sellable" and reason in exc.value.message
        with pytest.raises(ValidationFailed):
            await catalog_admin.update_product(rt, product["id"], {"on_sale": True})
    # The last priced SKU off sale takes the product off sale; the catalog never lists 0 fen.
    await catalog_admin.update_sku(rt, complete["skus"][0]["id"], {"on_sale": False})
    assert (await Product.get(id=complete["id"])).on_sale is False
    with pytest.raises(ValidationFailed):
        await catalog_admin.set_products_on_sale(rt, [complete["id"]], True)
    await Product.filter(id=complete["id"]).update(on_sale=True)  # even if a row says so by hand
    listed = await (await client.get("/api/v1/products")).json()
    assert all(p["price_from_fen"] > 0 for p in listed["items"]) and complete["id"] not in [p["id"] for p in listed["items"]]
    assert (await client.get(f"/api/v1/products/{complete['id']}")).status == 404
    await catalog_admin.update_sku(rt, complete["skus"][0]["id"], {"on_sale": True})
    assert (await catalog_admin.set_products_on_sale(rt, [complete["id"]], True))["updated"] == 1
    assert (await client.get(f"/api/v1/products/{complete['id']}")).status == 200
