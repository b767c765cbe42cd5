import asyncio

import pytest

from huituan.models.catalog import Product, Sku
from huituan.services.catalog import get_product_detail_bytes, invalidate_product
from tests.factories import make_category, make_product


async def test_categories_and_paged_filtered_list(client):
    fruit = await make_category(name="水果", sort=1)
    veg = await make_category(name="蔬菜", sort=2)
    await make_category(name="停用", is_active=False)
    apple = await make_product(title="红富士苹果", category=fruit)
    await make_product(title="香蕉", category=fruit)
    await make_product(title="白菜", category=veg)
    await make_product(title="下架苹果", category=fruit, on_sale=False)
    resp = await client.get("/api/v1/categories")
    assert [c["name"] for c in (await resp.json())["items"]] == ["水果", "蔬菜"]
    resp = await client.get(f"/api/v1/products?category_id={fruit.id}")
    body = await resp.json()
    assert body["total"] == 2 and {p["title"] for p in body["items"]} == {"红富士苹果", "香蕉"}
    resp = await client.get("/api/v1/products?keyword=苹果")
    assert [p["id"] for p in (await resp.json())["items"]] == [apple.id]
    resp = await client.get("/api/v1/products?page=2&page_size=2")
    body = await resp.json()
    assert body["total"] == 3 and len(body["items"]) == 1 and body["page"] == 2
    for bad, field in [("page_size=51", "page_size"), ("page=0", "page"), ("category_id=x", "category_id")]:
        resp = await client.get(f"/api/v1/products?{bad}")
        assert resp.status == 422 and (await resp.json())["details"]["field"] == field


async def test_detail_with_skus_stock_images_and_off_sale_404(client):
    p = await make_product(skus=[{"price_fen": 500, "stock": 3, "specs": {"重量": "500g"}},
                                 {"price_fen": 900, "stock": 0}, {"price_fen": 1, "stock": 9, "on_sale": False}])
    resp = await client.get(f"/api/v1/products/{p.id}")
    body = await resp.json()
    assert resp.status == 200
    assert [s["price_fen"] for s in body["skus"]] == [500, 900]
    assert body["skus"][0]["stock"] == 3 and body["skus"][0]["specs"] == {"重量": "500g"}
    assert body["images"] == p.images and body["stock"] == 3
    await Product.filter(id=p.id).update(on_sale=False)
    resp = await client.get(f"/api/v1/products/{p.id}")
    assert resp.status == 404 and (await resp.json())["error"] == "product_not_found"
    resp = await client.get("/api/v1/products/0")
    assert resp.status == 422


class TestCache:
    @pytest.fixture
    def settings(self, make_settings):
        return make_settings(product_cache_seconds=60)

    async def test_detail_is_cached_and_invalidated(self, client, rt):
        p = await make_product(skus=[{"price_fen": 500, "stock": 3}])
        first = await get_product_detail_bytes(rt, p.id)
        await Sku.filter(product_id=p.id).update(price_fen=700)
        assert await get_product_detail_bytes(rt, p.id) == first  # cached within the TTL
        await invalidate_product(rt, p.id)
        resp = await client.get(f"/api/v1/products/{p.id}")
        assert (await resp.json())["skus"][0]["price_fen"] == 700

    async def test_invalidation_from_another_process_arrives_by_pubsub(self, client, rt):
        from huituan.services.catalog import INVALIDATE_CHANNEL

        p = await make_product(skus=[{"price_fen": 500, "stock": 3}])
        await get_product_detail_bytes(rt, p.id)
        await Sku.filter(product_id=p.id).update(price_fen=800)
        await rt.redis.publish(INVALIDATE_CHANNEL, str(p.id))  # what another process's edit sends
        for _ in range(100):
            body = await (await client.get(f"/api/v1/products/{p.id}")).json()
            if body["skus"][0]["price_fen"] == 800:
                break
            await asyncio.sleep(0.02)
        assert body["skus"][0]["price_fen"] == 800


async def test_expired_product_cache_reloads_once_for_concurrent_readers(client, rt, monkeypatch):
    """Single flight: a hot product page whose cache entry expires is read from the database
    once, not once per waiting request; an off-sale product's 404 reaches every waiter."""
    import asyncio

    from huituan.services import catalog
    from tests.factories import make_product

    rt.settings.product_cache_seconds = 60
    product = await make_product(skus=[{"price_fen": 990, "stock": 5}])
    loads = 0
    real_load = catalog.get_product_detail

    async def counting_load(product_id):
        nonlocal loads
        loads += 1
        await asyncio.sleep(0.05)  # a slow database makes the overlap certain
        return await real_load(product_id)

    monkeypatch.setattr(catalog, "get_product_detail", counting_load)
    responses = await asyncio.gather(*(client.get(f"/api/v1/products/{product.id}") for _ in range(30)))
    assert {r.status for r in responses} == {200}
    bodies = {await r.read() for r in responses}
    assert len(bodies) == 1 and loads == 1

    missing = await asyncio.gather(*(client.get("/api/v1/products/999999") for _ in range(10)))
    assert {r.status for r in missing} == {404}
    assert loads == 2
