import pytest

from huituan.core.errors import ValidationFailed
from huituan.models.catalog import Product, Sku
from huituan.services import catalog_admin
from huituan.services.catalog_import import import_csv, import_json
from tests.factories import create_order, login


@pytest.fixture
def settings(make_settings):
    return make_settings(product_cache_seconds=300)

HEADER = "product_title,category,subtitle,sku_code,sku_name,price_fen,original_price_fen,stock,image,on_sale\n"


async def test_bom_and_crlf_are_tolerated(rt):
    text = "\ufeff" + HEADER.replace("\n", "\r\n") + "土鸡蛋,蛋奶,散养,EGG-20,20 枚,2590,3290,500,,1\r\n"
    out = await import_csv(rt, text.encode())
    assert out["succeeded"] == 1, out
    assert (await Sku.get(code="EGG-20")).original_price_fen == 3290


async def test_a_product_failing_to_save_does_not_stop_the_next(rt):
    # Same title twice in one JSON file: two groups, each its own transaction; the second
    # updates the product the first created.
    out = await import_json(rt, [
        {"title": "花生油", "category": "粮油", "skus": [{"code": "OIL-5", "price_fen": 8990, "stock": 10}]},
        {"title": "花生油", "category": "粮油", "on_sale": False,
         "skus": [{"code": "OIL-1", "price_fen": 1990, "stock": 10}]},
    ])
    assert out["succeeded"] == 2, out
    product = await Product.get(title="花生油")
    assert product.on_sale is False and product.price_from_fen == 1990
    assert await Sku.filter(product_id=product.id).count() == 2


async def test_import_without_runtime_skips_cache_invalidation(rt):
    out = await import_json(None, [{"title": "大米", "category": "粮油",
                                    "skus": [{"code": "RICE", "price_fen": 5990, "stock": 1}]}])
    assert out["succeeded"] == 1


# --- re-import of existing SKUs: only what the row gives; stock only with stock_mode="set" ----

SHEET = HEADER + "土鸡蛋,蛋奶,散养,EGG-30,30 枚,3590,,10,https://img.test/egg.jpg,\n"


def _rows(out):
    return {r["row"]: r for r in out["rows"]}


async def _sell(client, sku_code: str, quantity: int) -> None:
    """Given buyers: a real order takes units through the guarded stock decrement."""
    token, _ = await login(client, code=f"buyer-{sku_code}")
    await create_order(client, token, [(await Sku.get(code=sku_code), quantity)])


async def test_csv_reimport_after_sales_keeps_stock(client, rt):
    out = await import_csv(rt, SHEET)
    assert _rows(out)[1]["stock"] == "set"
    await _sell(client, "EGG-30", 4)
    sku = await Sku.get(code="EGG-30")
    assert sku.stock == 6
    resp = await client.get(f"/api/v1/products/{sku.product_id}")
    assert (await resp.json())["skus"][0]["price_fen"] == 3590  # now cached
    # The operator fixes only the price in the same sheet and imports it again.
    out = await import_csv(rt, SHEET.replace("3590", "3290"))
    assert out["succeeded"] == 1 and out["stock_mode"] == "keep", out
    assert _rows(out)[1]["stock"] == "kept"
    sku = await Sku.get(code="EGG-30")
    assert (sku.price_fen, sku.stock) == (3290, 6)
    product = await Product.get(id=sku.product_id)
    assert product.price_from_fen == 3290
    resp = await client.get(f"/api/v1/products/{product.id}")
    assert (await resp.json())["skus"][0]["price_fen"] == 3290  # product cache was dropped


async def test_json_reimport_after_sales_keeps_stock(client, rt):
    sheet = [{"title": "花生油", "category": "粮油",
              "skus": [{"code": "OIL-5", "name": "5L", "price_fen": 8990, "stock": 10}]}]
    await import_json(rt, sheet)
    await _sell(client, "OIL-5", 4)
    sheet[0]["skus"][0]["price_fen"] = 7990
    out = await import_json(rt, sheet)
    assert out["succeeded"] == 1 and _rows(out)[1]["stock"] == "kept", out
    sku = await Sku.get(code="OIL-5")
    assert (sku.price_fen, sku.stock) == (7990, 6)


async def test_stock_mode_set_writes_the_sheet_stock(client, rt):
    await import_csv(rt, SHEET)
    await _sell(client, "EGG-30", 4)
    out = await import_csv(rt, SHEET.replace(",10,", ",50,"), stock_mode="set")
    assert out["succeeded"] == 1 and out["stock_mode"] == "set" and _rows(out)[1]["stock"] == "set", out
    assert (await Sku.get(code="EGG-30")).stock == 50
    # A blank stock cell in "set" mode still keeps the stock.
    out = await import_csv(rt, SHEET.replace(",10,", ",,"), stock_mode="set")
    assert out["succeeded"] == 1 and _rows(out)[1]["stock"] == "kept", out
    assert (await Sku.get(code="EGG-30")).stock == 50
    out = await import_json(rt, [{"title": "土鸡蛋", "category": "蛋奶",
                                  "skus": [{"code": "EGG-30", "stock": 0}]}], stock_mode="set")
    assert _rows(out)[1]["stock"] == "set", out
    assert (await Sku.get(code="EGG-30")).stock == 0


async def test_stock_mode_set_never_writes_a_negative_stock(rt):
    await import_csv(rt, SHEET)
    out = await import_csv(rt, SHEET.replace(",10,", ",-3,"), stock_mode="set")
    assert out["failed"] == 1 and _rows(out)[1]["error"]["field"] == "stock", out
    assert (await Sku.get(code="EGG-30")).stock == 10


async def test_unknown_stock_mode_is_refused(rt):
    with pytest.raises(ValidationFailed) as exc:
        await import_csv(rt, SHEET, stock_mode="add")
    assert exc.value.details["field"] == "stock_mode"


async def test_omitted_on_sale_does_not_put_an_off_sale_sku_back_on_sale(rt):
    await import_csv(rt, SHEET)
    sku = await Sku.get(code="EGG-30")
    await catalog_admin.update_sku(rt, sku.id, {"on_sale": False})
    out = await import_csv(rt, SHEET.replace("3590", "3490"))
    assert out["succeeded"] == 1, out
    out = await import_json(rt, [{"title": "土鸡蛋", "category": "蛋奶",
                                  "skus": [{"code": "EGG-30", "price_fen": 3390}]}])
    assert out["succeeded"] == 1, out
    sku = await Sku.get(code="EGG-30")
    assert (sku.on_sale, sku.price_fen) == (False, 3390)
    assert (await Product.get(id=sku.product_id)).price_from_fen == 0  # nothing on sale
    # Given explicitly, it does change.
    await import_csv(rt, SHEET.replace(".jpg,", ".jpg,true"))
    assert (await Sku.get(code="EGG-30")).on_sale is True


async def test_blank_cells_keep_stored_values(rt):
    await import_csv(rt, SHEET)
    out = await import_csv(rt, HEADER + "土鸡蛋,蛋奶,,EGG-30,,,,,,\n")
    assert out["succeeded"] == 1, out
    out = await import_json(rt, [{"title": "土鸡蛋", "category": "蛋奶",
                                  "skus": [{"code": "EGG-30", "name": " ", "image": ""}]}])
    assert out["succeeded"] == 1, out
    sku = await Sku.get(code="EGG-30")
    assert (sku.name, sku.image, sku.price_fen, sku.stock) == ("30 枚", "https://img.test/egg.jpg", 3590, 10)
    product = await Product.get(id=sku.product_id)
    assert (product.subtitle, product.images) == ("散养", ["https://img.test/egg.jpg"])


async def test_new_sku_without_stock_or_price_is_a_row_error(rt):
    out = await import_csv(rt, HEADER + "土鸡蛋,蛋奶,,EGG-NEW,x,100,,,,\n"
                                        "土鸡蛋,蛋奶,,EGG-NOPRICE,x,,,5,,\n"
                                        "土鸡蛋,蛋奶,,EGG-OK,x,100,,5,,\n", dry_run=True)
    rows = _rows(out)
    assert rows[1]["error"]["field"] == "stock" and "库存" in rows[1]["error"]["message"], out
    assert rows[2]["error"]["field"] == "price_fen"
    assert rows[3]["ok"] and rows[3]["stock"] == "set"
    out = await import_json(rt, [{"title": "土鸡蛋", "category": "蛋奶",
                                  "skus": [{"code": "EGG-OK", "price_fen": 100, "stock": 5},
                                           {"code": "EGG-NEW", "price_fen": 100}]}])
    rows = _rows(out)
    assert rows[1]["ok"] and rows[2]["error"]["field"] == "products.0.skus.1.stock", out
    assert not await Sku.filter(code="EGG-NEW").exists()


async def test_stock_mode_set_with_the_sheets_stock_never_overwrites_a_sale(client, rt):
    """A sheet with the stock it was made from (原库存 / expected_stock) sets stock by
    compare-and-set: units sold since are not written over (that was an oversell). The row
    says the current stock, and nothing of its product is written."""
    sheet = ("商品名称,分类,SKU编码,售价（分）,库存,原库存\n"
             "土鸡蛋,蛋奶,EGG-30,3590,10,\n土鸡蛋,蛋奶,EGG-60,6590,20,\n")
    assert (await import_csv(rt, sheet.encode()))["succeeded"] == 2
    await _sell(client, "EGG-30", 4)  # stock 10 -> 6 after the sheet was exported at 10
    stocktake = ("商品名称,分类,SKU编码,售价（分）,库存,原库存\n"
                 "土鸡蛋,蛋奶,EGG-30,3990,50,10\n土鸡蛋,蛋奶,EGG-60,6990,70,20\n")
    for dry_run in (True, False):
        out = await import_csv(rt, stocktake.encode(), stock_mode="set", dry_run=dry_run)
        rows = _rows(out)
        assert (out["failed"], rows[1]["error"]["field"], rows[2]["ok"]) == (1, "expected_stock", True), out
        assert rows[1]["error"]["current_stock"] == 6 and "当前 6" in rows[1]["error"]["message"]
    # That row wrote nothing; the good row of the same product was written.
    egg30, egg60 = await Sku.get(code="EGG-30"), await Sku.get(code="EGG-60")
    assert (egg30.stock, egg30.price_fen, egg60.stock, egg60.price_fen) == (6, 3590, 70, 6990)
    # With the current stock the row goes through.
    out = await import_csv(rt, stocktake.replace(",50,10", ",50,6").replace(",70,20", ",70,70").encode(),
                           stock_mode="set")
    assert out["succeeded"] == 2, out
    assert ((await Sku.get(code="EGG-30")).stock, (await Sku.get(code="EGG-60")).stock) == (50, 70)


async def test_a_sale_between_the_check_and_the_write_rolls_the_product_back(rt, monkeypatch):
    """The compare-and-set, not the read before it, decides: a sale committed after the rows
    were checked makes that row's write refuse; its product's transaction rolls back and the
    good row is written again without it."""
    from tortoise.expressions import F

    from huituan.services import catalog_import

    await import_json(rt, [{"title": "大米", "category": "粮油", "skus": [
        {"code": "RICE-5", "price_fen": 5990, "stock": 10}, {"code": "RICE-10", "price_fen": 9990, "stock": 10}]}])
    real_transaction = catalog_import.in_transaction
    sales: list[int] = []

    class AfterASale:
        async def __aenter__(self):
            if not sales:  # one buyer, once: before the first write
                sales.append(await Sku.filter(code="RICE-10", stock__gte=2).update(stock=F("stock") - 2))
            self.inner = real_transaction()
            return await self.inner.__aenter__()

        async def __aexit__(self, *exc):
            return await self.inner.__aexit__(*exc)

    monkeypatch.setattr(catalog_import, "in_transaction", AfterASale)
    out = await import_json(rt, [{"title": "大米", "category": "粮油", "skus": [
        {"code": "RICE-5", "price_fen": 5500, "stock": 30, "expected_stock": 10},
        {"code": "RICE-10", "price_fen": 9500, "stock": 40, "expected_stock": 10}]}], stock_mode="set")
    assert sales == [1]  # the sale really landed between the check and the write
    rows = _rows(out)
    assert (out["succeeded"], rows[1]["ok"]) == (1, True) and rows[2]["error"]["field"].endswith("expected_stock"), out
    assert rows[2]["error"]["current_stock"] == 8
    rice5, rice10 = await Sku.get(code="RICE-5"), await Sku.get(code="RICE-10")
    assert (rice5.price_fen, rice5.stock, rice10.price_fen, rice10.stock) == (5500, 30, 9990, 8)


async def test_an_image_that_is_not_an_http_link_is_a_row_error(rt):
    out = await import_json(rt, [
        {"title": "毒图片", "category": "测试", "images": ["javascript:alert(1)"],
         "skus": [{"code": "BAD-IMG-1", "price_fen": 100, "stock": 1}]},
        {"title": "毒规格图", "category": "测试", "skus": [{"code": "BAD-IMG-2", "price_fen": 100, "stock": 1,
                                                            "image": "file:///etc/passwd"}]}])
    rows = _rows(out)
    assert out["failed"] == 2 and "http(s)" in rows[1]["error"]["message"] and "http(s)" in rows[2]["error"]["message"], out
    assert await Sku.filter(code__startswith="BAD-IMG").count() == 0


@pytest.mark.postgres
async def test_an_import_and_an_sku_edit_of_one_product_at_once_never_deadlock(rt):
    """Attacker pass, session 8: the import took product then SKU, an SKU edit SKU then product;
    at once they deadlocked (a 500, sometimes for a buyer's order caught in the cycle)."""
    import asyncio

    from huituan.core.errors import HuituanError
    from huituan.services import catalog_admin

    product = await catalog_admin.create_product(None, {"title": "并发导入苹果", "category_id": None, "skus": [
        {"code": "RACE-APPLE", "name": "5斤", "price_fen": 1000, "stock": 100}]})
    sku_id = product["skus"][0]["id"]
    for round_ in range(30):
        results = await asyncio.gather(*[
            job for i in range(3) for job in (
                catalog_admin.update_sku(None, sku_id, {"price_fen": 1100 + round_}),
                import_json(None, [{"title": "并发导入苹果", "category": "水果", "skus": [
                    {"code": "RACE-APPLE", "name": "5斤", "price_fen": 1500 + round_}]}]))],
            return_exceptions=True)
        unexpected = [r for r in results if isinstance(r, Exception) and not isinstance(r, HuituanError)]
        assert not unexpected, (round_, unexpected)
    assert (await Sku.get(id=sku_id)).price_fen in {1100 + 29, 1500 + 29}
