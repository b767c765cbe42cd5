"""Bulk catalog import (JSON or CSV) for operators.

Upsert by SKU code; a product is matched by its exact title; categories are created by name.
One result row per SKU. A bad row never stops good rows: rows are validated one by one and
each product is written in its own transaction. ``dry_run`` validates (including conflicts
with what is already stored) and writes nothing.

An existing SKU is updated only in the fields the row provides (a non-blank CSV cell, a JSON
key with a non-blank value): re-importing a sheet must not undo what happened since the last
import. In particular its ``stock`` is kept (``stock_mode="keep"``, the default): orders have
taken units since, and writing the sheet's number back would oversell. Stock of an existing SKU
is written only with ``stock_mode="set"`` and only when the row gives one; with the stock the
sheet was made from (``expected_stock``, CSV 原库存) that write is a compare-and-set, so units sold
since are never written over (the row reports the current stock). ``on_sale`` only when the row
gives it. A new SKU needs ``price_fen`` and ``stock``; its other fields default.

CSV format: what Excel saves. UTF-8 (with or without BOM) or GBK/GB18030, comma (or tab)
separated, one row per SKU, header
``product_title,category,subtitle,sku_code,sku_name,price_fen,original_price_fen,stock,image,on_sale``
or its Chinese names (``CSV_HEADER_ALIASES``: 商品名称, 分类, 副标题, SKU编码, 规格, 售价（分）or
售价（元）, 划线价（分/元）, 库存, 图片, 是否上架); prices in yuan are converted to fen exactly (at
most 2 decimals); 是/否 are accepted for on_sale. Rows with the same product title form one
product (product fields come from its first row). ``CSV_TEMPLATE`` is a ready template.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from huituan.core.errors import PayloadTooLarge, ValidationFailed, pydantic_message
from huituan.core.inbound import is_http_url, text_problem
from huituan.core.runtime import Runtime
from huituan.models.catalog import Category, Product, Sku
from huituan.services.catalog_admin import STOCK_MAX, invalidate, refresh_price_from

MAX_IMPORT_ROWS = 5000
MAX_IMPORT_BYTES = 2 * 1024 * 1024
CSV_COLUMNS = ("product_title", "category", "subtitle", "sku_code", "sku_name", "price_fen",
               "original_price_fen", "stock", "image", "on_sale", "expected_stock")
_REQUIRED_COLUMNS = ("product_title", "category", "sku_code", "price_fen", "stock")

# Chinese headers (normalized: no spaces, half-width brackets) -> (column, unit). Unit "yuan"
# marks a price in yuan, converted to fen.
CSV_HEADER_ALIASES: dict[str, tuple[str, str]] = {
    **{name: (name, "") for name in CSV_COLUMNS},
    "商品名称": ("product_title", ""), "商品标题": ("product_title", ""), "标题": ("product_title", ""),
    "分类": ("category", ""), "商品分类": ("category", ""), "类目": ("category", ""),
    "副标题": ("subtitle", ""),
    "sku编码": ("sku_code", ""), "规格编码": ("sku_code", ""), "商品编码": ("sku_code", ""), "编码": ("sku_code", ""),
    "规格": ("sku_name", ""), "规格名称": ("sku_name", ""), "sku名称": ("sku_name", ""),
    "售价(分)": ("price_fen", ""), "价格(分)": ("price_fen", ""),
    "售价(元)": ("price_fen", "yuan"), "价格(元)": ("price_fen", "yuan"), "售价": ("price_fen", "yuan"),
    "价格": ("price_fen", "yuan"),
    "划线价(分)": ("original_price_fen", ""), "原价(分)": ("original_price_fen", ""),
    "划线价(元)": ("original_price_fen", "yuan"), "原价(元)": ("original_price_fen", "yuan"),
    "划线价": ("original_price_fen", "yuan"), "原价": ("original_price_fen", "yuan"),
    "库存": ("stock", ""), "原库存": ("expected_stock", ""), "导出时库存": ("expected_stock", ""),
    "图片": ("image", ""), "图片地址": ("image", ""), "规格图片": ("image", ""),
    "是否上架": ("on_sale", ""), "上架": ("on_sale", ""),
}
_YES_NO = {"是": "true", "否": "false", "上架": "true", "下架": "false"}
CSV_TEMPLATE_HEADER = ("商品名称", "分类", "副标题", "SKU编码", "规格", "售价（元）", "划线价（元）", "库存", "图片",
                       "是否上架")
CSV_TEMPLATE = (",".join(CSV_TEMPLATE_HEADER) + "\r\n"
                "烟台红富士苹果,蔬菜水果,脆甜多汁,APPLE-2.5KG,2.5kg 装,29.90,39.90,500,"
                "https://img.example.com/apple-1.jpg,是\r\n"
                "烟台红富士苹果,蔬菜水果,脆甜多汁,APPLE-5KG,5kg 装,54.90,69.90,300,"
                "https://img.example.com/apple-2.jpg,是\r\n")


def csv_template_bytes() -> bytes:
    """The template as Excel opens it: UTF-8 with a BOM."""
    return "\ufeff".encode() + CSV_TEMPLATE.encode("utf-8")


def _normalize_header(name: str) -> str:
    name = re.sub(r"\s+", "", name.strip().lstrip("\ufeff")).replace("（", "(").replace("）", ")")
    return name.lower()


def _yuan_to_fen(text: str) -> str:
    """"29.9" -> "2990"; anything that is not a yuan amount with at most 2 decimals is left for
    the integer validation to refuse."""
    try:
        amount = Decimal(text.replace("¥", "").replace("￥", "").replace(",", "").strip())
    except InvalidOperation:
        return text
    if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")):
        return text
    return str(int(amount * 100))


def decode_csv(data: bytes) -> str:
    """UTF-8 (BOM or not), else GB18030 (a superset of GBK and GB2312, what Chinese Excel saves)."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValidationFailed("CSV 编码无法识别，请另存为「CSV UTF-8」或 GBK 编码", field="csv", code="csv_encoding")
StockMode = Literal["keep", "set"]
STOCK_MODES = ("keep", "set")

# The import's own wording where the HTTP edge's (huituan.core.errors.PYDANTIC_MESSAGES) is
# less helpful to someone fixing a spreadsheet row.
_IMPORT_MESSAGES = {
    "bool_parsing": "应为布尔值（true/false/1/0）",
    "string_too_short": "不能为空",
}


def _http_url(value: str) -> str:
    """An image users' phones load: an http(s) address (blank: none given)."""
    if value and not is_http_url(value):
        raise ValueError("图片地址必须是 http(s) 链接")
    return value


class ImportSku(BaseModel):
    """One SKU row. Which fields the row gave is ``model_fields_set`` (see ``provided``); the
    defaults apply only when a new SKU is created. ``price_fen`` and ``stock`` have no usable
    default: a new SKU without them is a row error (``_check_against_stored``)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str = Field(min_length=1, max_length=64)
    name: str = Field("", max_length=100)
    price_fen: int = Field(0, gt=0, le=100_000_000)
    original_price_fen: int = Field(0, ge=0, le=100_000_000)
    stock: int = Field(0, ge=0, le=STOCK_MAX)
    on_sale: bool = True
    image: str = Field("", max_length=512)
    # With stock_mode=set: the stock the sheet was made from. The write is then a
    # compare-and-set: units sold since are not overwritten (the row says the current stock).
    expected_stock: int | None = Field(None, ge=0, le=STOCK_MAX)

    @field_validator("image")
    @classmethod
    def _image_url(cls, v: str) -> str:
        return _http_url(v)

    def provided(self) -> dict[str, Any]:
        """The columns this row gives, except ``code`` and ``expected_stock`` (a condition, not a
        value). A blank string counts as not given: an upsert never clears a stored value by
        omission."""
        return {k: getattr(self, k) for k in self.model_fields_set
                if k not in ("code", "expected_stock") and getattr(self, k) != ""}


class ImportProduct(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=100)
    category: str = Field(min_length=1, max_length=32)
    subtitle: str = Field("", max_length=200)
    description: str = ""
    images: list[str] = Field(default_factory=list, max_length=20)
    on_sale: bool = True

    @field_validator("images")
    @classmethod
    def _short_urls(cls, v: list[str]) -> list[str]:
        for url in v:
            if len(url) > 512:
                raise ValueError("图片地址长度不能超过 512")
            _http_url(url)
        return v


@dataclass
class _Row:
    row: int
    sku: ImportSku | None = None
    sku_code: str | None = None
    error: dict[str, Any] | None = None
    product_id: int | None = None
    prefix: str = ""                    # field-name prefix for errors (JSON: "products.0.skus.1.")
    stored_id: int | None = None        # the existing SKU this row updates; None = new SKU
    stock: str | None = None            # "set" | "kept": what the import does to the SKU's stock


@dataclass
class _Group:
    product: ImportProduct | None
    rows: list[_Row] = field(default_factory=list)
    error: dict[str, Any] | None = None


def _first_error(exc: ValidationError, prefix: str = "", names: dict[str, str] | None = None) -> dict[str, str]:
    err = exc.errors(include_url=False)[0]
    loc = [str(p) for p in err.get("loc", ())]
    name = ".".join(loc)
    if names and loc:
        name = names.get(loc[0], loc[0]) + ("." + ".".join(loc[1:]) if len(loc) > 1 else "")
    text = pydantic_message(err, _IMPORT_MESSAGES)
    return {"field": f"{prefix}{name}" if name else prefix.rstrip(".") or "body", "message": text}


def _check_row_count(n: int) -> None:
    if n > MAX_IMPORT_ROWS:
        raise ValidationFailed(f"一次最多导入 {MAX_IMPORT_ROWS} 行（当前 {n} 行），请拆分后再导入",
                               field="rows", code="too_many_rows", max_rows=MAX_IMPORT_ROWS)


def _check_size(n: int) -> None:
    if n > MAX_IMPORT_BYTES:
        raise PayloadTooLarge("导入内容不能超过 2 MB，请拆分后再导入", code="import_too_large",
                              max_bytes=MAX_IMPORT_BYTES)


# --- parsing -----------------------------------------------------------------------------------

def _groups_from_json(products: list[Any]) -> list[_Group]:
    groups: list[_Group] = []
    row_no = 0
    for pi, raw in enumerate(products):
        prefix = f"products.{pi}."
        raw_skus = raw.get("skus") if isinstance(raw, dict) else None
        if not isinstance(raw_skus, list) or not raw_skus:
            row_no += 1
            groups.append(_Group(None, [_Row(row_no, error={"field": f"{prefix}skus", "message": "至少需要一个 SKU"})]))
            continue
        product_error = None
        product = None
        try:
            product = ImportProduct.model_validate({k: v for k, v in raw.items() if k != "skus"})
        except ValidationError as exc:
            product_error = _first_error(exc, prefix)
        group = _Group(product, error=product_error)
        for si, raw_sku in enumerate(raw_skus):
            row_no += 1
            code = raw_sku.get("code") if isinstance(raw_sku, dict) else None
            row = _Row(row_no, sku_code=code if isinstance(code, str) else None, prefix=f"{prefix}skus.{si}.")
            try:
                row.sku = ImportSku.model_validate(raw_sku)
                row.sku_code = row.sku.code
            except ValidationError as exc:
                row.error = _first_error(exc, f"{prefix}skus.{si}.")
            group.rows.append(row)
        groups.append(group)
    return groups


def _groups_from_csv(text: str) -> list[_Group]:
    text = text.lstrip("\ufeff")
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] = []
    yuan_columns: set[str] = set()
    for raw in reader.fieldnames or []:
        column, unit = CSV_HEADER_ALIASES.get(_normalize_header(raw or ""), (raw.strip() if raw else "", ""))
        header.append(column)
        if unit == "yuan":
            yuan_columns.add(column)
    missing = [c for c in _REQUIRED_COLUMNS if c not in header]
    if missing:
        names = {"product_title": "商品名称", "category": "分类", "sku_code": "SKU编码", "price_fen": "售价（元）",
                 "stock": "库存"}
        raise ValidationFailed(
            "CSV 表头缺少列：" + "、".join(f"{names[c]}（{c}）" for c in missing), field="csv", code="csv_header",
            expected=list(CSV_COLUMNS), expected_chinese=list(CSV_TEMPLATE_HEADER))
    reader.fieldnames = header
    by_title: dict[str, _Group] = {}
    groups: list[_Group] = []
    records = list(reader)
    _check_row_count(len(records))
    for i, rec in enumerate(records, start=1):
        def col(name: str) -> str:
            value = rec.get(name)
            value = value.strip() if isinstance(value, str) else ""
            if value and name in yuan_columns:
                return _yuan_to_fen(value)
            if name == "on_sale":
                return _YES_NO.get(value, value)
            return value

        row = _Row(i, sku_code=col("sku_code") or None)
        title = col("product_title")
        if not title:
            row.error = {"field": "product_title", "message": "商品标题不能为空"}
            groups.append(_Group(None, [row]))
            continue
        # Only non-blank cells are given: a blank cell keeps what an existing SKU has stored.
        sku_values: dict[str, Any] = {"code": col("sku_code")}
        for key, column in (("name", "sku_name"), ("price_fen", "price_fen"),
                            ("original_price_fen", "original_price_fen"), ("stock", "stock"),
                            ("image", "image"), ("on_sale", "on_sale"), ("expected_stock", "expected_stock")):
            if col(column):
                sku_values[key] = col(column)
        try:
            row.sku = ImportSku.model_validate(sku_values)
        except ValidationError as exc:
            row.error = _first_error(exc, names={"code": "sku_code", "name": "sku_name"})
        group = by_title.get(title)
        if group is None:
            product_values = {"title": title, "category": col("category"), "subtitle": col("subtitle")}
            try:
                group = _Group(ImportProduct.model_validate(product_values))
            except ValidationError as exc:
                # This row's product fields are bad; a later row of the same title may be fine.
                row.error = row.error or _first_error(exc, names={"title": "product_title"})
                groups.append(_Group(None, [row]))
                continue
            by_title[title] = group
            groups.append(group)
        group.rows.append(row)
    for group in by_title.values():
        # Product images: the distinct SKU images in file order.
        group.product.images = list(dict.fromkeys(r.sku.image for r in group.rows if r.sku and r.sku.image))
    return groups


def _mark_duplicate_codes(groups: list[_Group]) -> None:
    """The first occurrence of a SKU code in the file wins; later ones are errors."""
    seen: dict[str, int] = {}
    for group in groups:
        for row in group.rows:
            if row.sku is None or row.error:
                continue
            if row.sku.code in seen:
                row.error = {"field": "sku_code",
                             "message": f"SKU 编码 {row.sku.code} 在文件中重复（首次出现在第 {seen[row.sku.code]} 行）"}
            else:
                seen[row.sku.code] = row.row


# --- writing -----------------------------------------------------------------------------------

def _check_against_stored(row: _Row, stored: Sku | None, stock_mode: StockMode) -> None:
    """Decide what the row does to the stored SKU, or make it a row error."""
    given = row.sku.provided()
    if stored is None:
        for key in ("price_fen", "stock"):
            if key not in given:
                what = "售价（price_fen）" if key == "price_fen" else "库存（stock）"
                row.error = {"field": f"{row.prefix}{key}", "message": f"新 SKU 必须填写{what}"}
                return
        row.stock = "set"
        return
    row.stored_id = stored.id
    row.stock = "set" if stock_mode == "set" and "stock" in given else "kept"
    expected = row.sku.expected_stock
    if row.stock == "set" and expected is not None and stored.stock != expected:
        # Seen now (a dry run says it too); the write's compare-and-set catches a sale after this.
        row.error = {"field": f"{row.prefix}expected_stock", "current_stock": stored.stock,
                     "message": f"库存已变化：导出时 {expected}，当前 {stored.stock}，请按当前库存重新填写"}


def _sku_updates(row: _Row) -> dict[str, Any]:
    """Column values for an existing SKU: only what the row gives; stock only when it is set."""
    updates = row.sku.provided()
    if row.stock != "set":
        updates.pop("stock", None)
    return updates


async def _import_group(group: _Group, dry_run: bool, stock_mode: StockMode) -> int | None:
    """Validate the group's rows against stored data and (unless dry run) upsert them in one
    transaction. Returns the product id (None for a new product in a dry run)."""
    if group.error:
        for row in group.rows:
            row.error = row.error or group.error
        return None
    good = [r for r in group.rows if r.error is None]
    if not good:
        return None
    spec = group.product
    existing_product = await Product.filter(title=spec.title).order_by("id").first()
    product_id = existing_product.id if existing_product else None
    existing_skus = {s.code: s for s in await Sku.filter(code__in=[r.sku.code for r in good])}
    for row in good:
        stored = existing_skus.get(row.sku.code)
        if stored is not None and stored.product_id != product_id:
            owner = await Product.get_or_none(id=stored.product_id)
            row.error = {"field": "sku_code",
                         "message": f"SKU 编码 {row.sku.code} 已属于其他商品「{owner.title if owner else stored.product_id}」"}
        else:
            _check_against_stored(row, stored, stock_mode)
    good = [r for r in good if r.error is None]
    if not good:
        return product_id
    if dry_run:
        return product_id
    async with in_transaction() as conn:
        category = await Category.get_or_none(name=spec.category, using_db=conn)
        if category is None:
            category = await Category.create(name=spec.category, using_db=conn)
        images = spec.images
        # Blank optional columns keep what is stored; an upsert never clears by omission.
        fields: dict[str, Any] = {"category_id": category.id}
        if spec.subtitle:
            fields["subtitle"] = spec.subtitle
        if spec.description:
            fields["description"] = spec.description
        if images:
            fields["images"] = images
            fields["main_image"] = images[0]
        if product_id is None:
            product = await Product.create(title=spec.title, on_sale=spec.on_sale, using_db=conn, **fields)
            product_id = product.id
        else:
            if "on_sale" in spec.model_fields_set:
                fields["on_sale"] = spec.on_sale
            await Product.filter(id=product_id).using_db(conn).update(**fields)
        for row in good:
            if row.stored_id is None:
                values = row.sku.model_dump(exclude={"code"})
                await Sku.create(product_id=product_id, code=row.sku.code, using_db=conn, **values)
                continue
            # Stock, when set, is a write of a validated 0..STOCK_MAX value in one statement
            # (never a read-compute-write); with the sheet's expected stock it is a
            # compare-and-set, like catalog_admin.adjust_stock(set_to=..., expected_stock=...).
            updates = _sku_updates(row)
            if not updates:
                continue
            guard = {"stock": row.sku.expected_stock} if "stock" in updates and row.sku.expected_stock is not None else {}
            if not await Sku.filter(id=row.stored_id, **guard).using_db(conn).update(**updates) and guard:
                raise _StockChanged(row)  # rolls the product back: nothing of it is half-written
        await refresh_price_from(product_id, conn)
    return product_id


class _StockChanged(Exception):
    def __init__(self, row: _Row):
        super().__init__(row.sku.code)
        self.row = row


async def _stock_changed(changed: _Row) -> None:
    """Orders took units between the row's check and its write: the row says the current
    stock (as the check would have)."""
    current = await Sku.filter(id=changed.stored_id).values_list("stock", flat=True)
    now = current[0] if current else 0
    changed.error = {"field": f"{changed.prefix}expected_stock", "current_stock": now,
                     "message": f"库存已变化：导出时 {changed.sku.expected_stock}，当前 {now}，请按当前库存重新填写"}


def _check_stock_mode(stock_mode: str) -> None:
    if stock_mode not in STOCK_MODES:
        raise ValidationFailed("stock_mode 只能是 keep 或 set", field="stock_mode")


async def _run(rt: Runtime | None, groups: list[_Group], dry_run: bool, stock_mode: StockMode) -> dict[str, Any]:
    _mark_duplicate_codes(groups)
    touched: list[int] = []
    for group in groups:
        try:
            while True:
                try:
                    product_id = await _import_group(group, dry_run, stock_mode)
                    break
                except _StockChanged as exc:
                    # Its transaction rolled back; the product's good rows are written again
                    # without the stale one (a bad row never stops good rows). Bounded: each
                    # round turns one more row into an error.
                    await _stock_changed(exc.row)
        except IntegrityError:
            # A concurrent writer took a code or category name between our check and write.
            for row in group.rows:
                row.error = row.error or {"field": "sku_code", "message": "保存失败：SKU 编码或分类已被占用，请重试"}
            continue
        for row in group.rows:
            if row.error is None:
                row.product_id = product_id
        if product_id is not None and not dry_run and any(r.error is None for r in group.rows):
            touched.append(product_id)
    for product_id in dict.fromkeys(touched):
        await invalidate(rt, product_id)
    rows = sorted((r for g in groups for r in g.rows), key=lambda r: r.row)
    out = []
    for r in rows:
        item: dict[str, Any] = {"row": r.row, "ok": r.error is None}
        if r.sku_code:
            item["sku_code"] = r.sku_code
        if r.error is None and r.product_id is not None:
            item["product_id"] = r.product_id
        if r.error is None and r.stock is not None:
            item["stock"] = r.stock
        if r.error is not None:
            item["error"] = r.error
        out.append(item)
    succeeded = sum(1 for r in out if r["ok"])
    return {"total": len(out), "succeeded": succeeded, "failed": len(out) - succeeded, "dry_run": dry_run,
            "stock_mode": stock_mode, "rows": out}


async def import_json(rt: Runtime | None, products: list[Any], *, dry_run: bool = False,
                      stock_mode: StockMode = "keep") -> dict[str, Any]:
    """Import ``[{title, category, subtitle?, description?, images?, on_sale?, skus: [...]}]``."""
    _check_stock_mode(stock_mode)
    if not isinstance(products, list):
        raise ValidationFailed("products 应为数组", field="products")
    _check_size(len(json.dumps(products, ensure_ascii=False).encode()))
    rows = sum(len(p["skus"]) if isinstance(p, dict) and isinstance(p.get("skus"), list) and p["skus"] else 1
               for p in products)
    _check_row_count(rows)
    return await _run(rt, _groups_from_json(products), dry_run, stock_mode)


async def import_csv(rt: Runtime | None, data: bytes | str, *, dry_run: bool = False,
                     stock_mode: StockMode = "keep") -> dict[str, Any]:
    """Import the CSV format described in the module docstring."""
    _check_stock_mode(stock_mode)
    if isinstance(data, bytes):
        _check_size(len(data))
        text = decode_csv(data)
    else:
        text = data
        _check_size(len(text.encode("utf-8", "surrogatepass")))
    if not text.strip():
        raise ValidationFailed("CSV 内容为空", field="csv", code="csv_empty")
    problem = text_problem(text)  # a NUL (PostgreSQL refuses it) or a lone surrogate in any cell
    if problem is not None:
        raise ValidationFailed(f"CSV {problem}", field="csv", code="csv_invalid")
    try:
        groups = _groups_from_csv(text)
    except csv.Error as exc:
        raise ValidationFailed(f"CSV 格式错误：{exc}", field="csv", code="csv_invalid") from None
    return await _run(rt, groups, dry_run, stock_mode)
