"""Admin catalog: categories, products, SKUs, stock, bulk on/off sale and bulk import."""

from __future__ import annotations

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from huituan.core.errors import PayloadTooLarge, ValidationFailed
from huituan.core.web.auth import Auth
from huituan.core.web.http import parse_json, parse_query, path_int
from huituan.core.web.keys import RUNTIME_KEY
from huituan.core.web.openapi import api
from huituan.miniapp_api.admin import schemas as s
from huituan.services import catalog_admin, catalog_import


async def list_categories(request: web.Request, operator_id: int) -> web.Response:
    return s.respond(s.CategoryListOut, await catalog_admin.list_categories())


async def create_category(request: web.Request, operator_id: int) -> web.Response:
    body = await parse_json(request, s.CategoryIn)
    return s.respond(s.CategoryOut, await catalog_admin.create_category(body.name, body.sort, body.is_active), 201)


async def update_category(request: web.Request, operator_id: int) -> web.Response:
    category_id = path_int(request, "category_id")
    body = await parse_json(request, s.CategoryPatch)
    return s.respond(s.CategoryOut, await catalog_admin.update_category(category_id, body.model_dump(exclude_unset=True)))


async def list_products(request: web.Request, operator_id: int) -> web.Response:
    q = parse_query(request, s.ProductListQuery)
    return s.respond(s.ProductListOut, await catalog_admin.list_products(**q.model_dump()))


async def get_product(request: web.Request, operator_id: int) -> web.Response:
    return s.respond(s.ProductDetailOut, await catalog_admin.get_product(path_int(request, "product_id")))


async def create_product(request: web.Request, operator_id: int) -> web.Response:
    body = await parse_json(request, s.ProductIn)
    data = body.model_dump(exclude_unset=True)
    data["skus"] = [sku.model_dump() for sku in body.skus]
    return s.respond(s.ProductDetailOut, await catalog_admin.create_product(request.app[RUNTIME_KEY], data), 201)


async def update_product(request: web.Request, operator_id: int) -> web.Response:
    product_id = path_int(request, "product_id")
    body = await parse_json(request, s.ProductPatch)
    result = await catalog_admin.update_product(request.app[RUNTIME_KEY], product_id, body.model_dump(exclude_unset=True))
    return s.respond(s.ProductDetailOut, result)


async def set_on_sale(request: web.Request, operator_id: int) -> web.Response:
    body = await parse_json(request, s.OnSaleIn)
    return s.respond(s.OnSaleOut, await catalog_admin.set_products_on_sale(request.app[RUNTIME_KEY], body.ids, body.on_sale))


async def create_sku(request: web.Request, operator_id: int) -> web.Response:
    product_id = path_int(request, "product_id")
    body = await parse_json(request, s.SkuIn)
    return s.respond(s.SkuOut, await catalog_admin.create_sku(request.app[RUNTIME_KEY], product_id, body.model_dump()), 201)


async def update_sku(request: web.Request, operator_id: int) -> web.Response:
    sku_id = path_int(request, "sku_id")
    body = await parse_json(request, s.SkuPatch)
    result = await catalog_admin.update_sku(request.app[RUNTIME_KEY], sku_id, body.model_dump(exclude_unset=True))
    return s.respond(s.SkuOut, result)


async def adjust_stock(request: web.Request, operator_id: int) -> web.Response:
    sku_id = path_int(request, "sku_id")
    body = await parse_json(request, s.StockIn)
    result = await catalog_admin.adjust_stock(request.app[RUNTIME_KEY], sku_id, set_to=body.set, delta=body.delta,
                                            expected_stock=body.expected_stock)
    return s.respond(s.SkuOut, result)


UPLOAD_FIELD = "file"


async def _uploaded_file(request: web.Request) -> bytes:
    """The ``file`` part of a multipart/form-data upload (what a browser form or Postman
    sends), read up to the import size limit."""
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if part.name != UPLOAD_FIELD:
                await part.release()
                continue
            data = bytearray()
            while chunk := await part.read_chunk(64 * 1024):
                data += chunk
                if len(data) > catalog_import.MAX_IMPORT_BYTES:
                    raise PayloadTooLarge("导入内容不能超过 2 MB，请拆分后再导入", code="import_too_large",
                                          max_bytes=catalog_import.MAX_IMPORT_BYTES)
            return bytes(data)
    except (ValueError, AssertionError, KeyError, HttpProcessingError):  # a malformed multipart body
        raise ValidationFailed("上传内容不是合法的 multipart/form-data", field=UPLOAD_FIELD, code="invalid_upload") from None
    raise ValidationFailed(f"{UPLOAD_FIELD}: 请用表单字段 file 上传 CSV 文件", field=UPLOAD_FIELD, code="upload_missing")


async def import_products(request: web.Request, operator_id: int) -> web.Response:
    q = parse_query(request, s.ImportQuery)
    # A multipart body carries the file plus its part headers and boundaries.
    slack = 64 * 1024 if request.content_type == "multipart/form-data" else 0
    if request.content_length is not None and request.content_length > catalog_import.MAX_IMPORT_BYTES + slack:
        raise PayloadTooLarge("导入内容不能超过 2 MB，请拆分后再导入", code="import_too_large",
                              max_bytes=catalog_import.MAX_IMPORT_BYTES)
    rt = request.app[RUNTIME_KEY]
    if request.content_type in ("text/csv", "application/csv", "text/plain"):
        result = await catalog_import.import_csv(rt, await request.read(), dry_run=q.dry_run, stock_mode=q.stock_mode)
    elif request.content_type == "multipart/form-data":
        data = await _uploaded_file(request)
        result = await catalog_import.import_csv(rt, data, dry_run=q.dry_run, stock_mode=q.stock_mode)
    else:
        body = await parse_json(request, s.ImportJsonIn)
        result = await catalog_import.import_json(rt, body.products, dry_run=q.dry_run, stock_mode=q.stock_mode)
    return s.respond(s.ImportOut, result)


IMPORT_DESCRIPTION = """\
批量导入商品，按 SKU 编码新增或更新（商品按标题匹配，分类按名称匹配，不存在则创建）。
`dry_run=true` 只校验不写入。每个商品在独立事务中写入；坏行不影响好行，逐行返回结果。
限制：最多 5000 行（超出 422，`details.field=rows`），请求体最大 2 MB（超出 413）。

**已有 SKU 只更新该行提供的字段**（CSV 为非空单元格，JSON 为出现且非空的键），留空的名称、图片、
价格等保持线上已有的值，不会被清空或改回默认值。`on_sale` 只有明确填写时才修改：
留空不会把已下架的 SKU 重新上架。
**库存**：已有 SKU 的库存默认不改（`stock_mode=keep`）——导入后已卖出的数量不会被表格里的旧库存覆盖，
避免超卖；要以表格为准时传 `stock_mode=set`，该行填写了 `stock` 才写入（绝对值，0 到 10000000，不会为负），
留空仍保持不变。建议同时填写 **原库存** 列（`expected_stock`，表格制作时的库存）：写入变为比较后写入，
期间又卖出的件数不会被覆盖——库存已变化的行报错（`error.field` 为 expected_stock，`error.current_stock`
为当前库存），该行不写入，同商品的其他好行照常写入。平时调整库存请用「调整库存」接口。
**新 SKU** 必须填写 `price_fen` 和 `stock`，否则该行报错（`error.field` 为缺少的字段）；
其他字段取默认值（`on_sale` 默认 true）。
每个成功行的 `stock` 说明库存的处理：`set` 为写入了该行的库存（新 SKU，或 `stock_mode=set`），
`kept` 为保持原库存不变。

**JSON**（`Content-Type: application/json`）：
`{"products": [{"title", "category", "subtitle?", "description?", "images?": [url], "on_sale?",
"skus": [{"code", "name?", "price_fen", "original_price_fen?", "stock", "on_sale?", "image?"}]}]}`，
每个 SKU 是一行，行号按出现顺序从 1 开始。

**CSV**：Excel「另存为 CSV」的文件即可。两种提交方式：
上传文件（`Content-Type: multipart/form-data`，表单字段 `file`），或把文件内容直接作为请求体（`Content-Type: text/csv`）。
编码：UTF-8（可带 BOM）或 GBK/GB18030（中文版 Excel 默认）；逗号分隔（制表符分隔也可），第一行为表头。
[下载导入模板](/api/admin/v1/products/import-template)（中文表头，价格单位为元）。

```
商品名称,分类,副标题,SKU编码,规格,售价（元）,划线价（元）,库存,图片,是否上架
烟台红富士苹果,蔬菜水果,脆甜多汁,APPLE-5KG,5kg 装,54.90,69.90,300,https://img.example.com/a.jpg,是
```

表头可以用中文或英文：

| 中文表头 | 英文表头 | 说明 |
|---|---|---|
| 商品名称 | `product_title` | 必填；相同名称的行归为同一个商品（分类、副标题取该商品第一行） |
| 分类 | `category` | 必填；不存在则创建 |
| 副标题 | `subtitle` | |
| SKU编码 | `sku_code` | 必填；按它新增或更新 |
| 规格 | `sku_name` | |
| 售价（元） | `price_fen`（分） | 新 SKU 必填，大于 0；元最多两位小数，写「售价（分）」则按分 |
| 划线价（元） | `original_price_fen`（分） | |
| 库存 | `stock` | 新 SKU 必填，非负整数 |
| 图片 | `image` | 图片地址 |
| 是否上架 | `on_sale` | 是/否、true/false、1/0；留空时新 SKU 上架，已有 SKU 不改 |

已有 SKU 留空的单元格表示不改。行号为数据行序号（不含表头），从 1 开始。
同一文件中重复的 SKU 编码：第一次出现的行生效，之后的行报错。
"""


async def import_template(request: web.Request) -> web.Response:
    return web.Response(body=catalog_import.csv_template_bytes(), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": "attachment; filename=\"product-import-template.csv\"; "
                                                        "filename*=UTF-8''%E5%95%86%E5%93%81%E5%AF%BC%E5%85%A5%E6%A8%A1%E6%9D%BF.csv"})


IMPORT_BODIES = {
    "text/csv": {
        "schema": {"type": "string", "description": "CSV 文件内容（UTF-8 可带 BOM，或 GBK/GB18030）"},
        "example": catalog_import.CSV_TEMPLATE,
    },
    "multipart/form-data": {
        "schema": {"type": "object", "required": [UPLOAD_FIELD], "properties": {
            UPLOAD_FIELD: {"type": "string", "format": "binary",
                           "description": "Excel 另存的 CSV 文件（UTF-8 或 GBK），最大 2 MB"}}},
        "encoding": {UPLOAD_FIELD: {"contentType": "text/csv"}},
    },
}


def setup(app: web.Application) -> None:
    op = dict(auth=Auth.operator)
    api(app, "GET", "/api/admin/v1/categories", list_categories, summary="分类列表", tag="admin-catalog",
        response=s.CategoryListOut, **op)
    api(app, "POST", "/api/admin/v1/categories", create_category, summary="新建分类", tag="admin-catalog",
        body=s.CategoryIn, response=s.CategoryOut, status=201, errors=(409,), **op)
    api(app, "PATCH", "/api/admin/v1/categories/{category_id}", update_category, summary="修改分类",
        tag="admin-catalog", body=s.CategoryPatch, response=s.CategoryOut, errors=(404, 409), **op)
    api(app, "GET", "/api/admin/v1/products", list_products, summary="商品列表", tag="admin-catalog",
        query=s.ProductListQuery, response=s.ProductListOut, **op)
    api(app, "POST", "/api/admin/v1/products", create_product, summary="新建商品（含 SKU）", tag="admin-catalog",
        body=s.ProductIn, response=s.ProductDetailOut, status=201, errors=(404, 409), **op)
    api(app, "POST", "/api/admin/v1/products/on-sale", set_on_sale, summary="批量上下架", tag="admin-catalog",
        body=s.OnSaleIn, response=s.OnSaleOut, errors=(404,), **op)
    api(app, "POST", "/api/admin/v1/products/import", import_products, summary="批量导入商品（JSON、CSV 或上传 CSV 文件）",
        tag="admin-catalog", query=s.ImportQuery, body=s.ImportJsonIn, bodies=IMPORT_BODIES, response=s.ImportOut,
        errors=(413,), description=IMPORT_DESCRIPTION, **op)
    api(app, "GET", "/api/admin/v1/products/import-template", import_template, summary="下载商品导入模板（CSV）",
        tag="admin-catalog", auth=Auth.public, response_content_type="text/csv", response_example=catalog_import.CSV_TEMPLATE,
        description="Excel 可直接打开的 CSV 模板（UTF-8 带 BOM，中文表头，价格单位为元），无需登录。")
    api(app, "GET", "/api/admin/v1/products/{product_id}", get_product, summary="商品详情", tag="admin-catalog",
        response=s.ProductDetailOut, errors=(404,), **op)
    api(app, "PATCH", "/api/admin/v1/products/{product_id}", update_product, summary="修改商品",
        tag="admin-catalog", body=s.ProductPatch, response=s.ProductDetailOut, errors=(404,), **op)
    api(app, "POST", "/api/admin/v1/products/{product_id}/skus", create_sku, summary="新增 SKU",
        tag="admin-catalog", body=s.SkuIn, response=s.SkuOut, status=201, errors=(404, 409), **op)
    api(app, "PATCH", "/api/admin/v1/skus/{sku_id}", update_sku, summary="修改 SKU（不含库存）",
        tag="admin-catalog", body=s.SkuPatch, response=s.SkuOut, errors=(404, 409), **op)
    api(app, "POST", "/api/admin/v1/skus/{sku_id}/stock", adjust_stock, summary="调整库存",
        tag="admin-catalog", body=s.StockIn, response=s.SkuOut, errors=(404, 409),
        description="`set` 与 `delta` 二选一。`set` 须带 `expected_stock`（修改前看到的库存），"
                    "库存已被订单改变时返回 409 stock_changed（details.current_stock），不会覆盖已售出的数量；"
                    "减少库存为条件更新，结果不能为负（409 stock_negative）。", **op)
