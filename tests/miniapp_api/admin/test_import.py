from huituan.models.catalog import Category, Product, Sku
from tests.factories import create_order, login, make_product

HEADER = "product_title,category,subtitle,sku_code,sku_name,price_fen,original_price_fen,stock,image,on_sale\n"


def csv_body(*rows: str) -> bytes:
    return (HEADER + "\n".join(rows) + "\n").encode()


async def post_csv(client, admin, body: bytes, **params):
    resp = await client.post("/api/admin/v1/products/import", headers={**admin, "Content-Type": "text/csv"},
                             data=body, params=params)
    return resp.status, await resp.json()


MIXED_CSV = csv_body(
    "烟台苹果,水果,脆甜,APL-1,2.5kg,2990,3990,100,https://img.test/a1.jpg,true",
    "烟台苹果,水果,脆甜,APL-2,5kg,5490,,50,https://img.test/a2.jpg,",
    ",水果,,NOTITLE-1,x,100,,1,,",                       # missing title
    "烟台苹果,水果,,APL-3,10kg,12.5,,10,,",              # non-integer price
    "五常大米,粮油,,RICE-1,5kg,5990,,-1,,",               # negative stock
    "五常大米,粮油,,RICE-2,10kg,9990,,20,,false",
    "五常大米,粮油,,APL-1,dup,100,,1,,",                  # duplicate code in the file
)


async def test_csv_import_mixed_good_and_bad_rows(client, admin):
    status, data = await post_csv(client, admin, MIXED_CSV)
    assert status == 200, data
    assert (data["total"], data["succeeded"], data["failed"]) == (7, 3, 4)
    by_row = {r["row"]: r for r in data["rows"]}
    assert [r for r in by_row if by_row[r]["ok"]] == [1, 2, 6]
    assert by_row[3]["error"]["field"] == "product_title"
    assert by_row[4]["error"]["field"] == "price_fen" and by_row[4]["sku_code"] == "APL-3"
    assert by_row[5]["error"]["field"] == "stock"
    assert by_row[7]["error"]["field"] == "sku_code" and "重复" in by_row[7]["error"]["message"]
    apple = await Product.get(title="烟台苹果")
    assert by_row[1]["product_id"] == by_row[2]["product_id"] == apple.id
    assert apple.price_from_fen == 2990 and apple.images == ["https://img.test/a1.jpg", "https://img.test/a2.jpg"]
    assert sorted(await Sku.filter(product_id=apple.id).values_list("code", flat=True)) == ["APL-1", "APL-2"]
    rice = await Product.get(title="五常大米")
    assert rice.price_from_fen == 0  # its only good SKU is off sale
    assert (await Sku.get(code="RICE-2")).on_sale is False
    assert sorted(await Category.all().values_list("name", flat=True)) == ["水果", "粮油"]


async def test_csv_dry_run_writes_nothing(client, admin):
    status, data = await post_csv(client, admin, MIXED_CSV, dry_run="true")
    assert status == 200, data
    assert data["dry_run"] is True and (data["succeeded"], data["failed"]) == (3, 4)
    assert await Product.all().count() == 0 and await Category.all().count() == 0


async def test_csv_import_is_an_upsert_by_sku_code(client, admin):
    await post_csv(client, admin, MIXED_CSV)
    status, data = await post_csv(client, admin, csv_body(
        "烟台苹果,水果,,APL-1,2.5kg 新包装,2790,3990,80,,true",
    ))
    assert status == 200 and data["succeeded"] == 1, data
    assert data["rows"][0]["stock"] == "kept" and data["stock_mode"] == "keep"
    assert await Product.filter(title="烟台苹果").count() == 1
    sku = await Sku.get(code="APL-1")
    # Stock of an existing SKU is not written by default; blank cells keep the image.
    assert (sku.name, sku.price_fen, sku.stock) == ("2.5kg 新包装", 2790, 100)
    assert sku.image == "https://img.test/a1.jpg"
    assert (await Product.get(title="烟台苹果")).price_from_fen == 2790


async def test_reimport_after_an_order_keeps_stock_unless_stock_mode_set(client, admin):
    sheet = csv_body("烟台苹果,水果,,APL-1,2.5kg,2990,,10,,")
    await post_csv(client, admin, sheet)
    token, _ = await login(client, code="buyer")
    await create_order(client, token, [(await Sku.get(code="APL-1"), 4)])
    status, data = await post_csv(client, admin, sheet.replace(b"2990", b"2890"))
    assert status == 200 and data["rows"][0]["stock"] == "kept", data
    assert (await Sku.get(code="APL-1")).stock == 6  # not back to 10: no oversell
    status, data = await post_csv(client, admin, sheet, stock_mode="set")
    assert status == 200 and data["stock_mode"] == "set" and data["rows"][0]["stock"] == "set", data
    assert (await Sku.get(code="APL-1")).stock == 10
    resp = await client.post("/api/admin/v1/products/import?stock_mode=set", headers=admin, json={"products": [
        {"title": "烟台苹果", "category": "水果", "skus": [{"code": "APL-1", "stock": 7}]}]})
    data = await resp.json()
    assert resp.status == 200 and data["rows"][0]["stock"] == "set", data
    assert (await Sku.get(code="APL-1")).stock == 7


async def test_bad_stock_mode_is_a_422_naming_the_field(client, admin):
    status, data = await post_csv(client, admin, csv_body("烟台苹果,水果,,APL-1,2.5kg,2990,,10,,"),
                                  stock_mode="add")
    assert status == 422 and data["details"]["field"] == "stock_mode", data
    assert await Product.all().count() == 0


async def test_new_sku_without_stock_is_a_row_error(client, admin):
    status, data = await post_csv(client, admin, csv_body("烟台苹果,水果,,APL-9,2.5kg,2990,,,,"))
    assert status == 200 and data["failed"] == 1, data
    assert data["rows"][0]["error"]["field"] == "stock"
    assert not await Sku.filter(code="APL-9").exists()


async def test_sku_code_owned_by_another_product_is_a_row_error(client, admin):
    await make_product(title="别的商品", skus=[{"code": "TAKEN"}])
    status, data = await post_csv(client, admin, csv_body("新商品,水果,,TAKEN,x,100,,1,,"))
    assert status == 200 and data["failed"] == 1
    assert data["rows"][0]["error"]["field"] == "sku_code" and "别的商品" in data["rows"][0]["error"]["message"]


async def test_csv_header_and_encoding_errors(client, admin):
    status, data = await post_csv(client, admin, b"title,price\nx,1\n")
    assert status == 422 and data["details"]["field"] == "csv" and data["error"] == "csv_header"
    status, data = await post_csv(client, admin, HEADER.encode("utf-16"))
    assert status == 422 and data["details"]["field"] == "csv"


async def test_json_import_mixed_rows_and_dry_run(client, admin):
    body = {"products": [
        {"title": "巴氏鲜奶", "category": "乳品", "images": ["https://img.test/milk.jpg"],
         "skus": [{"code": "MILK-1", "name": "950ml", "price_fen": 1590, "stock": 100},
                  {"code": "MILK-2", "price_fen": "abc", "stock": 1}]},
        {"category": "乳品", "skus": [{"code": "NOPE", "price_fen": 1, "stock": 1}]},
        {"title": "酸奶", "category": "乳品", "skus": [{"code": "MILK-1", "price_fen": 1, "stock": 1}]},
        {"title": "黄油", "category": "乳品", "skus": []},
    ]}
    resp = await client.post("/api/admin/v1/products/import?dry_run=true", headers=admin, json=body)
    data = await resp.json()
    assert resp.status == 200, data
    assert (data["total"], data["succeeded"], data["failed"]) == (5, 1, 4)
    assert await Product.all().count() == 0
    resp = await client.post("/api/admin/v1/products/import", headers=admin, json=body)
    data = await resp.json()
    rows = {r["row"]: r for r in data["rows"]}
    assert rows[1]["ok"] and rows[1]["sku_code"] == "MILK-1"
    assert rows[2]["error"]["field"] == "products.0.skus.1.price_fen"
    assert rows[3]["error"]["field"] == "products.1.title"
    assert rows[4]["error"]["field"] == "sku_code"
    assert rows[5]["error"]["field"] == "products.3.skus"
    milk = await Product.get(title="巴氏鲜奶")
    assert milk.main_image == "https://img.test/milk.jpg" and milk.price_from_fen == 1590
    assert await Product.all().count() == 1


async def test_limits(client, admin):
    many = {"products": [{"title": "p", "category": "c",
                          "skus": [{"code": f"C{i}", "price_fen": 1, "stock": 1} for i in range(5001)]}]}
    resp = await client.post("/api/admin/v1/products/import", headers=admin, json=many)
    body = await resp.json()
    assert resp.status == 422 and body["details"]["field"] == "rows" and "5000" in body["message"]
    rows = "".join(f"p,c,,C{i},x,1,,1,,\n" for i in range(5001))
    status, body = await post_csv(client, admin, (HEADER + rows).encode())
    assert status == 422 and body["details"]["field"] == "rows"
    big = HEADER.encode() + b"x" * (2 * 1024 * 1024 + 10)
    status, body = await post_csv(client, admin, big)
    assert status == 413 and body["error"] == "import_too_large" and "2 MB" in body["message"]
    assert await Product.all().count() == 0


CHINESE_SHEET = (
    "商品名称,分类,副标题,SKU编码,规格,售价（元）,划线价（元）,库存,图片,是否上架\r\n"
    "赣南脐橙,蔬菜水果,果肉细嫩,ORANGE-{n}-5KG,5斤装,39.9,49.90,80,,是\r\n"
    "赣南脐橙,蔬菜水果,果肉细嫩,ORANGE-{n}-10KG,10斤装,69,,40,,否\r\n"
    "𠮷野家牛肉饭,熟食,,BEEF-{n},大份,25.00,,10,,\r\n"
)


async def post_upload(client, admin, data: bytes, filename: str = "商品.csv", **params):
    import aiohttp

    form = aiohttp.FormData()
    form.add_field("note", "ignored")
    form.add_field("file", data, filename=filename, content_type="text/csv")
    resp = await client.post("/api/admin/v1/products/import", headers=admin, data=form, params=params)
    return resp.status, await resp.json()


async def _check_imported(n: int) -> None:
    skus = {s.code: s for s in await Sku.filter(code__contains=f"-{n}")}
    assert skus[f"ORANGE-{n}-5KG"].price_fen == 3990 and skus[f"ORANGE-{n}-5KG"].original_price_fen == 4990
    assert skus[f"ORANGE-{n}-10KG"].price_fen == 6900 and skus[f"ORANGE-{n}-10KG"].on_sale is False
    assert skus[f"BEEF-{n}"].price_fen == 2500
    beef = await Product.get(id=skus[f"BEEF-{n}"].product_id)
    assert beef.title == "𠮷野家牛肉饭" and (await Category.get(id=beef.category_id)).name == "熟食"


async def test_csv_variants_excel_makes_all_import(client, admin):
    """UTF-8 with and without BOM, GBK and GB18030 (a character outside GBK), as a text/csv
    body and as a multipart file upload, with Chinese headers and prices in yuan."""
    variants = [
        ("utf-8", "body"), ("utf-8-sig", "body"), ("gb18030", "body"),
        ("utf-8-sig", "upload"), ("gb18030", "upload"),
    ]
    for n, (encoding, how) in enumerate(variants, start=1):
        sheet = CHINESE_SHEET.format(n=n).encode(encoding)
        status, data = await (post_csv(client, admin, sheet) if how == "body" else post_upload(client, admin, sheet))
        assert status == 200 and data["succeeded"] == 3, (encoding, how, data)
        await _check_imported(n)
    # Plain GBK (what Chinese Excel saves) without the GB18030-only character.
    gbk = CHINESE_SHEET.format(n=9).replace("𠮷", "吉").encode("gbk")
    status, data = await post_upload(client, admin, gbk)
    assert status == 200 and data["succeeded"] == 3, data
    # A bad yuan amount is a row error naming the column, not a crash.
    status, data = await post_csv(client, admin, CHINESE_SHEET.format(n=10).replace("39.9,", "39.999,").encode())
    assert status == 200 and data["failed"] == 1 and data["rows"][0]["error"]["field"] == "price_fen", data


async def test_upload_without_a_file_and_the_template_round_trip(client, admin):
    import aiohttp

    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("other", "x")
    resp = await client.post("/api/admin/v1/products/import", headers=admin, data=form)
    body = await resp.json()
    assert resp.status == 422 and body["details"]["field"] == "file" and "file" in body["message"], body
    resp = await client.get("/api/admin/v1/products/import-template")  # no login needed
    assert resp.status == 200 and resp.content_type == "text/csv"
    template = await resp.read()
    assert template.startswith(b"\xef\xbb\xbf") and "商品名称" in template.decode("utf-8-sig")
    status, data = await post_upload(client, admin, template, dry_run="true")
    assert status == 200 and data["failed"] == 0 and data["succeeded"] == 2, data
