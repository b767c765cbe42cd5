import asyncio

import pytest

from huituan.models.catalog import Product, Sku
from tests.factories import create_order, make_category, make_product, make_user, token_for

NEW_PRODUCT = {
    "title": "赣南脐橙",
    "subtitle": "果园直发",
    "images": ["https://img.test/orange-1.jpg", "https://img.test/orange-2.jpg"],
    "skus": [
        {"code": "ORANGE-5", "name": "5 斤装", "price_fen": 3990, "original_price_fen": 4990, "stock": 100},
        {"code": "ORANGE-10", "name": "10 斤装", "price_fen": 6990, "stock": 50},
    ],
}


async def test_categories_create_list_edit(client, admin):
    resp = await client.post("/api/admin/v1/categories", headers=admin, json={"name": "水果", "sort": 2})
    cat = await resp.json()
    assert resp.status == 201, cat
    resp = await client.post("/api/admin/v1/categories", headers=admin, json={"name": "水果"})
    body = await resp.json()
    assert resp.status == 409 and body["error"] == "category_exists" and body["details"]["field"] == "name"
    resp = await client.patch(f"/api/admin/v1/categories/{cat['id']}", headers=admin, json={"name": "新鲜水果"})
    assert resp.status == 200 and (await resp.json())["name"] == "新鲜水果"
    resp = await client.patch(f"/api/admin/v1/categories/{cat['id']}", headers=admin, json={"name": ""})
    body = await resp.json()
    assert resp.status == 422 and body["details"]["field"] == "name"
    resp = await client.get("/api/admin/v1/categories", headers=admin)
    assert [c["name"] for c in (await resp.json())["items"]] == ["新鲜水果"]
    resp = await client.patch("/api/admin/v1/categories/999", headers=admin, json={"sort": 1})
    assert resp.status == 404


async def test_create_product_with_skus_keeps_price_from(client, admin):
    cat = await make_category()
    resp = await client.post("/api/admin/v1/products", headers=admin, json={**NEW_PRODUCT, "category_id": cat.id})
    product = await resp.json()
    assert resp.status == 201, product
    assert product["price_from_fen"] == 3990
    assert product["main_image"] == "https://img.test/orange-1.jpg"
    assert [s["code"] for s in product["skus"]] == ["ORANGE-5", "ORANGE-10"]
    resp = await client.get(f"/api/admin/v1/products/{product['id']}", headers=admin)
    assert (await resp.json())["skus"][1]["stock"] == 50
    # the buyer-facing catalog sees it
    resp = await client.get(f"/api/v1/products/{product['id']}")
    assert resp.status == 200


@pytest.mark.parametrize("patch, field", [
    ({"title": ""}, "title"),
    ({"skus": [{"code": "A", "price_fen": 0, "stock": 1}]}, "skus.0.price_fen"),
    ({"skus": [{"code": "A", "price_fen": 100, "stock": -1}]}, "skus.0.stock"),
    ({"skus": [{"code": "A", "price_fen": "1.5元", "stock": 1}]}, "skus.0.price_fen"),
    ({"skus": [{"code": "A", "price_fen": 100, "stock": 1}, {"code": "A", "price_fen": 100, "stock": 1}]},
     "skus.1.code"),
    ({"category_id": 4242}, "category_id"),
    # images users' phones load are http(s) links (attacker pass, session 7)
    ({"images": ["javascript:alert(1)"]}, "images.0"),
    ({"main_image": "file:///etc/passwd"}, "main_image"),
    ({"skus": [{"code": "A", "price_fen": 100, "stock": 1, "image": "data:image/png;base64,AA"}]}, "skus.0.image"),
    ({"title": "\u200b"}, "title"),
])
async def test_create_product_validation_names_the_field(client, admin, patch, field):
    resp = await client.post("/api/admin/v1/products", headers=admin, json={**NEW_PRODUCT, **patch})
    body = await resp.json()
    assert resp.status in (404, 422), body
    assert body["details"]["field"] == field
    assert await Product.all().count() == 0


async def test_duplicate_sku_code_across_products_is_409(client, admin):
    await make_product(skus=[{"code": "ORANGE-5"}])
    resp = await client.post("/api/admin/v1/products", headers=admin, json=NEW_PRODUCT)
    body = await resp.json()
    assert resp.status == 409 and body["error"] == "sku_code_exists" and body["details"]["field"] == "skus.0.code"


async def test_list_filters(client, admin):
    fruit, meat = await make_category(name="水果"), await make_category(name="肉")
    apple = await make_product(title="红富士苹果", category_id=fruit.id)
    await make_product(title="青苹果", category_id=fruit.id, on_sale=False)
    await make_product(title="五花肉", category_id=meat.id, skus=[{"code": "PORK-1"}])

    async def titles(**params):
        resp = await client.get("/api/admin/v1/products", headers=admin, params=params)
        data = await resp.json()
        assert resp.status == 200, data
        return sorted(p["title"] for p in data["items"]), data["total"]

    assert (await titles())[1] == 3
    assert await titles(keyword="苹果") == (["红富士苹果", "青苹果"], 2)
    assert await titles(keyword="苹果", on_sale="true") == (["红富士苹果"], 1)
    assert await titles(category_id=str(meat.id)) == (["五花肉"], 1)
    assert await titles(keyword="PORK-1") == (["五花肉"], 1)
    page = await client.get("/api/admin/v1/products", headers=admin, params={"page": "2", "page_size": "2"})
    data = await page.json()
    assert data["total"] == 3 and len(data["items"]) == 1 and data["page"] == 2
    resp = await client.get("/api/admin/v1/products", headers=admin, params={"page_size": "1000"})
    assert resp.status == 422 and (await resp.json())["details"]["field"] == "page_size"
    assert apple.id


async def test_edit_product_and_bulk_on_sale(client, admin):
    a, b = await make_product(), await make_product()
    resp = await client.patch(f"/api/admin/v1/products/{a.id}", headers=admin,
                              json={"title": "改名了", "category_id": None})
    assert resp.status == 200 and (await resp.json())["title"] == "改名了"
    resp = await client.patch(f"/api/admin/v1/products/{a.id}", headers=admin, json={"title": None})
    assert resp.status == 422 and (await resp.json())["details"]["field"] == "title"
    resp = await client.post("/api/admin/v1/products/on-sale", headers=admin, json={"ids": [a.id, b.id], "on_sale": False})
    data = await resp.json()
    assert resp.status == 200 and data["updated"] == 2
    assert await Product.filter(on_sale=True).count() == 0
    resp = await client.post("/api/admin/v1/products/on-sale", headers=admin, json={"ids": [a.id, 999], "on_sale": True})
    body = await resp.json()
    assert resp.status == 404 and body["details"]["field"] == "ids"
    assert await Product.filter(on_sale=True).count() == 0


async def test_sku_create_edit_updates_price_from(client, admin):
    product = await make_product(skus=[{"price_fen": 1000}])
    resp = await client.post(f"/api/admin/v1/products/{product.id}/skus", headers=admin,
                             json={"code": "CHEAP", "name": "小份", "price_fen": 500, "stock": 3})
    sku = await resp.json()
    assert resp.status == 201, sku
    assert (await Product.get(id=product.id)).price_from_fen == 500
    resp = await client.patch(f"/api/admin/v1/skus/{sku['id']}", headers=admin, json={"on_sale": False})
    assert resp.status == 200
    assert (await Product.get(id=product.id)).price_from_fen == 1000
    resp = await client.patch(f"/api/admin/v1/skus/{product.sku_list[0].id}", headers=admin, json={"price_fen": 800})
    assert (await resp.json())["price_fen"] == 800
    assert (await Product.get(id=product.id)).price_from_fen == 800
    resp = await client.patch(f"/api/admin/v1/skus/{sku['id']}", headers=admin, json={"code": product.sku_list[0].code})
    assert resp.status == 409
    resp = await client.patch(f"/api/admin/v1/skus/{sku['id']}", headers=admin, json={"stock": 5})
    body = await resp.json()
    assert resp.status == 422 and body["details"]["field"] == "stock"  # stock moves only via /stock


async def test_stock_set_and_delta_never_negative(client, admin):
    product = await make_product(skus=[{"stock": 10}])
    sku_id = product.sku_list[0].id
    url = f"/api/admin/v1/skus/{sku_id}/stock"
    resp = await client.post(url, headers=admin, json={"delta": -4})
    assert (await resp.json())["stock"] == 6
    resp = await client.post(url, headers=admin, json={"delta": -7})
    body = await resp.json()
    assert resp.status == 409 and body["error"] == "stock_negative" and body["details"]["field"] == "delta"
    assert "不能为负" in body["message"]
    assert (await Sku.get(id=sku_id)).stock == 6
    resp = await client.post(url, headers=admin, json={"set": 0, "expected_stock": 6})
    assert (await resp.json())["stock"] == 0
    resp = await client.post(url, headers=admin, json={"set": -1, "expected_stock": 0})
    assert resp.status == 422 and (await resp.json())["details"]["field"] == "set"
    resp = await client.post(url, headers=admin, json={})
    assert resp.status == 422
    resp = await client.post(url, headers=admin, json={"set": 1, "delta": 1})
    assert resp.status == 422
    resp = await client.post(url, headers=admin, json={"delta": 20})
    assert (await resp.json())["stock"] == 20
    resp = await client.post("/api/admin/v1/skus/999999/stock", headers=admin, json={"delta": 1})
    assert resp.status == 404


async def test_setting_stock_never_erases_units_taken_by_orders_in_between(client, admin):
    """The operator saw 10 and wants 50 more on the shelf (60); an order takes 3 meanwhile.
    A blind write of 60 would erase the 3 units sold: the set is refused (409) with the
    current stock, or the operator sends a delta, which keeps them."""
    product = await make_product(skus=[{"stock": 10, "price_fen": 100}])
    sku = product.sku_list[0]
    url = f"/api/admin/v1/skus/{sku.id}/stock"
    seen = (await Sku.get(id=sku.id)).stock
    buyer = await make_user()
    await create_order(client, token_for(buyer), [(sku, 3)])
    resp = await client.post(url, headers=admin, json={"set": 60})
    body = await resp.json()
    assert resp.status == 422 and body["details"]["field"] == "expected_stock"
    resp = await client.post(url, headers=admin, json={"set": 60, "expected_stock": seen})
    body = await resp.json()
    assert resp.status == 409 and body["error"] == "stock_changed", body
    assert body["details"]["current_stock"] == 7
    assert (await Sku.get(id=sku.id)).stock == 7
    resp = await client.post(url, headers=admin, json={"set": 57, "expected_stock": 7})
    assert resp.status == 200 and (await resp.json())["stock"] == 57
    resp = await client.post(url, headers=admin, json={"delta": 3})
    assert (await resp.json())["stock"] == 60


async def test_concurrent_sets_from_one_reading_let_one_win(client, admin):
    product = await make_product(skus=[{"stock": 10}])
    url = f"/api/admin/v1/skus/{product.sku_list[0].id}/stock"
    resps = await asyncio.gather(*[client.post(url, headers=admin, json={"set": 20 + i, "expected_stock": 10})
                                   for i in range(6)])
    assert sorted(r.status for r in resps) == [200, 409, 409, 409, 409, 409]


async def test_concurrent_decrements_never_go_below_zero(client, admin):
    product = await make_product(skus=[{"stock": 10}])
    url = f"/api/admin/v1/skus/{product.sku_list[0].id}/stock"
    resps = await asyncio.gather(*[client.post(url, headers=admin, json={"delta": -3}) for _ in range(6)])
    statuses = sorted(r.status for r in resps)
    assert statuses == [200, 200, 200, 409, 409, 409]
    assert (await Sku.get(id=product.sku_list[0].id)).stock == 1


async def test_out_of_range_ids_and_nul_characters_are_422_naming_the_field(client, admin):
    resp = await client.get("/api/admin/v1/products", headers=admin, params={"category_id": str(2**70)})
    assert resp.status == 422 and (await resp.json())["details"]["field"] == "category_id"
    resp = await client.post("/api/admin/v1/products/on-sale", headers=admin, json={"ids": [1, 2**70], "on_sale": True})
    assert resp.status == 422 and (await resp.json())["details"]["field"] == "ids.1"
    resp = await client.post("/api/admin/v1/products", headers=admin, json={**NEW_PRODUCT, "title": "坏\x00标题"})
    assert resp.status == 422 and (await resp.json())["details"]["field"] == "title"
