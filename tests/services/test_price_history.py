"""Honest prices: the struck price is the lowest price the SKU was offered at in the 7 days
before the promotion, computed from the price history the catalog keeps; none without history."""

from __future__ import annotations

from datetime import timedelta

from huituan.core.clock import utcnow
from huituan.models.catalog import SkuPriceHistory
from huituan.services import catalog_admin
from huituan.services.price_history import lowest_price_before, reference_price
from tests.factories import make_product


async def test_every_sku_price_change_through_the_catalog_is_recorded(rt):
    product = await catalog_admin.create_product(None, {"title": "五常大米 10kg", "skus": [
        {"code": "RICE-10", "price_fen": 8990, "stock": 10}]})
    sku_id = product["skus"][0]["id"]
    await catalog_admin.update_sku(None, sku_id, {"price_fen": 7990})
    await catalog_admin.update_sku(None, sku_id, {"stock": 50})  # no price change: no row
    rows = await SkuPriceHistory.filter(sku_id=sku_id).order_by("id").values_list("price_fen", flat=True)
    assert rows == [8990, 7990]


async def test_the_reference_is_the_7_day_low_before_the_promotion_and_none_without_history(rt):
    sku = (await make_product(skus=[{"price_fen": 5990}])).sku_list[0]
    now = utcnow()
    assert await reference_price(sku.id, 5990) is None  # no history at all
    for days_ago, price in ((20, 6990), (9, 6590), (5, 7290), (2, 6890)):
        await SkuPriceHistory.create(sku_id=sku.id, price_fen=price, started_at=now - timedelta(days=days_ago))
    await SkuPriceHistory.create(sku_id=sku.id, price_fen=9990, on_sale=False, started_at=now - timedelta(days=3))
    await SkuPriceHistory.create(sku_id=sku.id, price_fen=4990, started_at=now)  # the promotion starts now
    # In the 7 days before now: 6590 (in effect when the window opened), 7290, 6890; the off-sale 9990 does not count.
    assert await lowest_price_before(sku.id, now) == 6590
    assert await reference_price(sku.id, 4990) == 6590
    # A promotion price above the low is not "discounted": nothing is struck.
    assert await reference_price(sku.id, 6600, now) is None
    # A promotion that started 30 days ago has no history in its window.
    assert await reference_price(sku.id, 4990, now - timedelta(days=30)) is None


async def test_more_changes_in_the_window_than_one_read_holds(rt):
    from huituan.services.price_history import HISTORY_PAGE

    sku = (await make_product(skus=[{"price_fen": 3000}])).sku_list[0]
    now = utcnow()
    await SkuPriceHistory.create(sku_id=sku.id, price_fen=2500, started_at=now - timedelta(days=6, hours=23))
    await SkuPriceHistory.bulk_create([
        SkuPriceHistory(sku_id=sku.id, price_fen=4000 + i, started_at=now - timedelta(days=6) + timedelta(minutes=i))
        for i in range(HISTORY_PAGE + 10)])
    await SkuPriceHistory.create(sku_id=sku.id, price_fen=1990, started_at=now)
    assert await reference_price(sku.id, 1990) == 2500
    assert await lowest_price_before(sku.id, now) == 2500


async def test_buyers_see_the_honest_struck_price_never_the_operators_original_price(client, rt):
    """The product detail's struck price is the 7-day low above the current price; the
    operator's original_price_fen (an "original" price anyone can type) is not shown at all."""
    from huituan.models.catalog import Category

    fruit = await Category.create(name="水果-划线")
    product = await catalog_admin.create_product(None, {"title": "阳光玫瑰葡萄", "category_id": fruit.id, "skus": [
        {"code": "GRAPE-1", "name": "1kg", "price_fen": 3990, "original_price_fen": 9990, "stock": 10},
        {"code": "GRAPE-2", "name": "2kg", "price_fen": 6990, "original_price_fen": 19990, "stock": 10}]})
    one, two = (s["id"] for s in product["skus"])
    # Both SKUs have sold at these prices for ten days.
    await SkuPriceHistory.filter(sku_id__in=[one, two]).update(started_at=utcnow() - timedelta(days=10))

    async def shown() -> dict[int, object]:
        rt.extras.pop("product_cache", None)  # the detail is cached for a few seconds
        body = await (await client.get(f"/api/v1/products/{product['id']}")).json()
        assert all("original_price_fen" not in s for s in body["skus"]), body
        return {s["id"]: s["struck_price_fen"] for s in body["skus"]}

    assert await shown() == {one: None, two: None}  # no lower price yet: nothing struck, whatever was typed
    await catalog_admin.update_sku(None, one, {"price_fen": 2990})  # a real cut
    await catalog_admin.update_sku(None, two, {"price_fen": 7990})  # a rise
    assert await shown() == {one: 3990, two: None}


async def test_a_product_off_sale_was_not_offered_at_its_price(client, rt):
    """Attacker pass, session 8: off sale for the whole window (the product's switch, not the
    SKU's), the old price still counted as offered and was struck above the new one."""
    from huituan.models.catalog import Category

    cat = await Category.create(name="水果-下架")
    product = await catalog_admin.create_product(None, {"title": "哈密瓜", "category_id": cat.id, "skus": [
        {"code": "MELON-1", "name": "1个", "price_fen": 20000, "stock": 10}]})
    sku_id = product["skus"][0]["id"]
    await catalog_admin.set_products_on_sale(None, [product["id"]], False)
    await SkuPriceHistory.all().update(started_at=utcnow() - timedelta(days=10))  # off sale for ten days
    await catalog_admin.update_sku(None, sku_id, {"price_fen": 10000})  # repriced while off sale
    await catalog_admin.update_product(None, product["id"], {"on_sale": True})
    assert await reference_price(sku_id, 10000) is None
    rows = await SkuPriceHistory.filter(sku_id=sku_id).order_by("started_at", "id").values_list("price_fen", "on_sale")
    assert [tuple(r) for r in rows] == [(20000, True), (20000, False), (10000, False), (10000, True)]
