from models.catalog import Product, Sku
from services.catalog_import import import_csv, import_json

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
