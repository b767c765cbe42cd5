"""Catalog management for operators: categories, products, SKUs, stock adjustments.

Every product or SKU change recomputes ``Product.price_from_fen`` (the lowest on-sale SKU
price, 0 when none is on sale) and invalidates the product cache after commit.
"""

from __future__ import annotations

from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q
from tortoise.functions import Min
from tortoise.transactions import in_transaction

from huituan.core import sql
from huituan.core.errors import Conflict, NotFound, ValidationFailed
from huituan.core.runtime import Runtime
from huituan.models.catalog import Category, Product, Sku
from huituan.services.price_history import record_prices

PRODUCT_FIELDS = ("title", "subtitle", "description", "main_image", "images", "on_sale", "sort")
SKU_FIELDS = ("code", "name", "specs", "price_fen", "original_price_fen", "stock", "on_sale", "image")
STOCK_MAX = 10_000_000
SKU_CODE_MAX = Sku._meta.fields_map["code"].max_length


# --- serialization ---------------------------------------------------------------------------

def category_dict(c: Category) -> dict[str, Any]:
    return {"id": c.id, "name": c.name, "sort": c.sort, "is_active": c.is_active, "created_at": c.created_at}


def sku_dict(s: Sku) -> dict[str, Any]:
    return {
        "id": s.id, "product_id": s.product_id, "code": s.code, "name": s.name, "specs": s.specs,
        "price_fen": s.price_fen, "original_price_fen": s.original_price_fen, "stock": s.stock,
        "on_sale": s.on_sale, "image": s.image, "created_at": s.created_at, "updated_at": s.updated_at,
    }


def product_dict(p: Product, skus: list[Sku] | None = None) -> dict[str, Any]:
    data = {
        "id": p.id, "category_id": p.category_id, "title": p.title, "subtitle": p.subtitle,
        "description": p.description, "main_image": p.main_image, "images": p.images or [],
        "on_sale": p.on_sale, "price_from_fen": p.price_from_fen, "sales": p.sales, "sort": p.sort,
        "created_at": p.created_at, "updated_at": p.updated_at,
    }
    if skus is not None:
        data["skus"] = [sku_dict(s) for s in skus]
    return data


# --- shared helpers --------------------------------------------------------------------------

async def refresh_price_from(product_id: int, conn=None) -> None:
    """Keep ``price_from_fen`` = lowest on-sale SKU price (0 when nothing is on sale). A product
    left with no priced on-sale SKU goes off sale: buyers never see a 0-fen product."""
    rows = await (Sku.filter(product_id=product_id, on_sale=True, price_fen__gt=0).using_db(conn)
                  .annotate(low=Min("price_fen")).values("low"))
    low = rows[0]["low"] if rows and rows[0]["low"] is not None else 0
    if low:
        await Product.filter(id=product_id).using_db(conn).update(price_from_fen=low)
    else:
        await Product.filter(id=product_id).using_db(conn).update(price_from_fen=0, on_sale=False)
    # Every SKU write passes here: the price history behind honest struck prices.
    await record_prices(product_id, conn)


async def unsellable_reason(product: Product, conn=None) -> str:
    """Why ``product`` cannot be on sale ("" when it can): it needs a category and at least
    one on-sale SKU with a price."""
    if product.category_id is None:
        return "未设置分类"
    if not await Sku.filter(product_id=product.id).using_db(conn).exists():
        return "没有 SKU"
    if not await Sku.filter(product_id=product.id, on_sale=True, price_fen__gt=0).using_db(conn).exists():
        return "没有在售且有售价的 SKU"
    return ""


async def _check_sellable(product_ids: list[int]) -> None:
    for product in await Product.filter(id__in=product_ids).order_by("id"):
        reason = await unsellable_reason(product)
        if reason:
            raise ValidationFailed(f"商品 {product.id}「{product.title}」不能上架：{reason}", field="on_sale",
                                   code="product_not_sellable", product_id=product.id)


async def invalidate(rt: Runtime | None, product_id: int) -> None:
    """Drop the buyer-facing product cache (services.catalog owns it) after a change commits."""
    if rt is None:
        return
    from huituan.services.catalog import invalidate_product

    await invalidate_product(rt, product_id)


def _check_prices(data: dict[str, Any], prefix: str = "") -> None:
    price = data.get("price_fen")
    if price is not None and price <= 0:
        raise ValidationFailed("售价必须大于 0 分", field=f"{prefix}price_fen")
    original = data.get("original_price_fen")
    if original is not None and original < 0:
        raise ValidationFailed("划线价不能为负数", field=f"{prefix}original_price_fen")
    stock = data.get("stock")
    if stock is not None and not 0 <= stock <= STOCK_MAX:
        raise ValidationFailed("库存必须在 0 到 10000000 之间", field=f"{prefix}stock")
    if "code" in data and not (data["code"] or "").strip():
        raise ValidationFailed("SKU 编码不能为空", field=f"{prefix}code")


async def _category_or_error(category_id: int | None, conn=None) -> None:
    if category_id is not None and not await Category.filter(id=category_id).using_db(conn).exists():
        raise NotFound("分类不存在", code="category_not_found", field="category_id")


async def _get_product(product_id: int) -> Product:
    product = await Product.get_or_none(id=product_id)
    if product is None:
        raise NotFound("商品不存在", code="product_not_found", field="product_id")
    return product


async def _get_sku(sku_id: int) -> Sku:
    sku = await Sku.get_or_none(id=sku_id)
    if sku is None:
        raise NotFound("SKU 不存在", code="sku_not_found", field="sku_id")
    return sku


# --- categories ------------------------------------------------------------------------------

async def list_categories() -> dict[str, Any]:
    cats = await Category.all().order_by("sort", "id")
    return {"items": [category_dict(c) for c in cats]}


async def create_category(name: str, sort: int = 0, is_active: bool = True) -> dict[str, Any]:
    name = name.strip()
    if not name:
        raise ValidationFailed("分类名称不能为空", field="name")
    if await Category.filter(name=name).exists():
        raise Conflict("分类名称已存在", code="category_exists", field="name")
    try:
        cat = await Category.create(name=name, sort=sort, is_active=is_active)
    except IntegrityError:
        raise Conflict("分类名称已存在", code="category_exists", field="name") from None
    return category_dict(cat)


async def update_category(category_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    cat = await Category.get_or_none(id=category_id)
    if cat is None:
        raise NotFound("分类不存在", code="category_not_found", field="category_id")
    if "name" in changes:
        name = (changes["name"] or "").strip()
        if not name:
            raise ValidationFailed("分类名称不能为空", field="name")
        if await Category.filter(name=name).exclude(id=category_id).exists():
            raise Conflict("分类名称已存在", code="category_exists", field="name")
        changes["name"] = name
    updates = {k: v for k, v in changes.items() if k in ("name", "sort", "is_active") and v is not None}
    if updates:
        try:
            await Category.filter(id=category_id).update(**updates)
        except IntegrityError:
            raise Conflict("分类名称已存在", code="category_exists", field="name") from None
        await cat.refresh_from_db()
    return category_dict(cat)


# --- products --------------------------------------------------------------------------------

async def list_products(*, on_sale: bool | None = None, category_id: int | None = None, keyword: str | None = None,
                        page: int = 1, page_size: int = 20) -> dict[str, Any]:
    qs = Product.all()
    if on_sale is not None:
        qs = qs.filter(on_sale=on_sale)
    if category_id is not None:
        qs = qs.filter(category_id=category_id)
    if keyword and keyword.strip():
        kw = keyword.strip()
        match = Q(title__icontains=kw) | Q(subtitle__icontains=kw)
        if len(kw) <= SKU_CODE_MAX:  # a longer keyword is no SKU code (and fails the column's check)
            match |= Q(skus__code=kw)
        qs = qs.filter(match).distinct()
    total = await qs.count()
    products = await qs.order_by("-id").offset((page - 1) * page_size).limit(page_size)
    return {"items": [product_dict(p) for p in products], "total": total, "page": page, "page_size": page_size}


async def get_product(product_id: int) -> dict[str, Any]:
    product = await _get_product(product_id)
    skus = await Sku.filter(product_id=product_id).order_by("id")
    return product_dict(product, skus)


async def create_product(rt: Runtime | None, data: dict[str, Any]) -> dict[str, Any]:
    """Create a product with its SKUs (``data["skus"]``) in one transaction."""
    title = (data.get("title") or "").strip()
    if not title:
        raise ValidationFailed("商品标题不能为空", field="title")
    skus = data.get("skus") or []
    codes: set[str] = set()
    for i, sku in enumerate(skus):
        _check_prices(sku, f"skus.{i}.")
        code = sku["code"].strip()
        if code in codes:
            raise ValidationFailed("同一商品内 SKU 编码重复", field=f"skus.{i}.code", code="duplicate_sku_code")
        codes.add(code)
    existing = await Sku.filter(code__in=list(codes)).values_list("code", flat=True) if codes else []
    if existing:
        i = next(i for i, s in enumerate(skus) if s["code"].strip() in existing)
        raise Conflict(f"SKU 编码 {skus[i]['code']} 已存在", code="sku_code_exists", field=f"skus.{i}.code")
    await _category_or_error(data.get("category_id"))
    images = list(data.get("images") or [])
    fields = {k: data[k] for k in PRODUCT_FIELDS if data.get(k) is not None}
    fields["title"] = title
    fields["images"] = images
    fields.setdefault("main_image", images[0] if images else "")
    try:
        async with in_transaction() as conn:
            product = await Product.create(category_id=data.get("category_id"), using_db=conn, **fields)
            for sku in skus:
                values = {k: sku[k] for k in SKU_FIELDS if sku.get(k) is not None}
                values["code"] = sku["code"].strip()
                await Sku.create(product_id=product.id, using_db=conn, **values)
            # Asked for on sale and not sellable: refused as the same request on an existing
            # product is (it came back off sale, which the operator did not ask for).
            if data.get("on_sale") is True:
                reason = await unsellable_reason(product, conn)
                if reason:
                    raise ValidationFailed(f"商品「{title}」不能上架：{reason}（可先不传 on_sale 建为下架，补全后再上架）",
                                           field="on_sale", code="product_not_sellable")
            # Not asked: no category, no SKU or no price is created off sale (refresh_price_from
            # sees to the last two), to be put on sale once complete.
            if product.category_id is None:
                await Product.filter(id=product.id).using_db(conn).update(on_sale=False)
            await refresh_price_from(product.id, conn)
    except IntegrityError:
        raise Conflict("SKU 编码已存在", code="sku_code_exists", field="skus") from None
    await invalidate(rt, product.id)
    return await get_product(product.id)


async def update_product(rt: Runtime | None, product_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    await _get_product(product_id)
    updates = {k: v for k, v in changes.items() if k in PRODUCT_FIELDS and v is not None}
    if "title" in updates:
        updates["title"] = updates["title"].strip()
        if not updates["title"]:
            raise ValidationFailed("商品标题不能为空", field="title")
    if "category_id" in changes:
        await _category_or_error(changes["category_id"])
        updates["category_id"] = changes["category_id"]
        if changes["category_id"] is None:
            updates["on_sale"] = False  # no category: off sale
    if updates.get("on_sale"):
        product = await _get_product(product_id)
        if "category_id" in updates:
            product.category_id = updates["category_id"]
        reason = await unsellable_reason(product)
        if reason:
            raise ValidationFailed(f"商品 {product.id}「{product.title}」不能上架：{reason}", field="on_sale",
                                   code="product_not_sellable", product_id=product.id)
    if updates:
        async with in_transaction() as conn:
            await Product.filter(id=product_id).using_db(conn).update(**updates)
            if "on_sale" in updates:
                await record_prices(product_id, conn)
    await invalidate(rt, product_id)
    return await get_product(product_id)


async def set_products_on_sale(rt: Runtime | None, ids: list[int], on_sale: bool) -> dict[str, Any]:
    ids = sorted(set(ids))
    found = set(await Product.filter(id__in=ids).values_list("id", flat=True))
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(f"商品 {missing[0]} 不存在", code="product_not_found", field="ids", missing=missing)
    if on_sale:
        await _check_sellable(ids)
    async with in_transaction() as conn:
        updated = await Product.filter(id__in=ids).using_db(conn).update(on_sale=on_sale)
        for pid in ids:
            await record_prices(pid, conn)  # the history knows when it was offered
    for pid in ids:
        await invalidate(rt, pid)
    return {"updated": updated, "ids": ids, "on_sale": on_sale}


async def lock_product(conn, product_id: int) -> None:
    """Take the product's row before its SKUs', as every catalog write does (the import and
    refresh_price_from update the product first): an SKU edit that took its SKU first and then
    the product deadlocked with an import on PostgreSQL, and the cycle's victim could be a
    buyer's order waiting on the SKU (attacker pass, session 8)."""
    await sql.lock_row(conn, "product", product_id)


# --- SKUs ------------------------------------------------------------------------------------

async def create_sku(rt: Runtime | None, product_id: int, data: dict[str, Any]) -> dict[str, Any]:
    await _get_product(product_id)
    _check_prices(data)
    code = data["code"].strip()
    if await Sku.filter(code=code).exists():
        raise Conflict(f"SKU 编码 {code} 已存在", code="sku_code_exists", field="code")
    values = {k: data[k] for k in SKU_FIELDS if data.get(k) is not None}
    values["code"] = code
    try:
        async with in_transaction() as conn:
            await lock_product(conn, product_id)
            sku = await Sku.create(product_id=product_id, using_db=conn, **values)
            await refresh_price_from(product_id, conn)
    except IntegrityError:
        raise Conflict(f"SKU 编码 {code} 已存在", code="sku_code_exists", field="code") from None
    await invalidate(rt, product_id)
    return sku_dict(await Sku.get(id=sku.id))


async def update_sku(rt: Runtime | None, sku_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """Edit SKU fields. Stock is not edited here: it moves only through ``adjust_stock``."""
    sku = await _get_sku(sku_id)
    updates = {k: v for k, v in changes.items() if k in SKU_FIELDS and k != "stock" and v is not None}
    _check_prices(updates)
    if "code" in updates:
        updates["code"] = updates["code"].strip()
        if await Sku.filter(code=updates["code"]).exclude(id=sku_id).exists():
            raise Conflict(f"SKU 编码 {updates['code']} 已存在", code="sku_code_exists", field="code")
    if updates:
        try:
            async with in_transaction() as conn:
                await lock_product(conn, sku.product_id)
                await Sku.filter(id=sku_id).using_db(conn).update(**updates)
                await refresh_price_from(sku.product_id, conn)
        except IntegrityError:
            raise Conflict("SKU 编码已存在", code="sku_code_exists", field="code") from None
    await invalidate(rt, sku.product_id)
    return sku_dict(await Sku.get(id=sku_id))


async def adjust_stock(rt: Runtime | None, sku_id: int, *, set_to: int | None = None,
                       delta: int | None = None, expected_stock: int | None = None) -> dict[str, Any]:
    """Set the stock, or move it by ``delta``. Never a blind write: setting is a compare-and-set
    on ``expected_stock`` (the stock the operator saw; 409 ``stock_changed`` with the current
    stock when orders took units meanwhile), a decrease a guarded update (``stock >= -delta``):
    concurrent orders may be taking units, and stock never goes negative."""
    if (set_to is None) == (delta is None):
        raise ValidationFailed("set 与 delta 必须且只能提供一个", field="delta")
    sku = await _get_sku(sku_id)
    if set_to is not None:
        if not 0 <= set_to <= STOCK_MAX:
            raise ValidationFailed("库存必须在 0 到 10000000 之间", field="set")
        if expected_stock is None:
            raise ValidationFailed("expected_stock: 设置库存时必须提供修改前看到的库存（或改用 delta 增减）",
                                   field="expected_stock")
        changed = await Sku.filter(id=sku_id, stock=expected_stock).update(stock=set_to)
        if not changed:
            current = await Sku.filter(id=sku_id).values_list("stock", flat=True)
            raise Conflict(f"库存已变化：当前库存 {current[0] if current else 0}，请刷新后重试或改用 delta 增减",
                           code="stock_changed", field="expected_stock",
                           current_stock=current[0] if current else 0)
    elif delta > 0:
        changed = await Sku.filter(id=sku_id, stock__lte=STOCK_MAX - delta).update(stock=F("stock") + delta)
        if not changed:
            raise ValidationFailed("调整后库存超过上限 10000000", field="delta")
    elif delta < 0:
        changed = await Sku.filter(id=sku_id, stock__gte=-delta).update(stock=F("stock") + delta)
        if not changed:
            current = await Sku.filter(id=sku_id).values_list("stock", flat=True)
            raise Conflict(f"库存不足：当前库存 {current[0] if current else 0}，无法减少 {-delta}，库存不能为负数",
                           code="stock_negative", field="delta")
    await invalidate(rt, sku.product_id)
    return sku_dict(await Sku.get(id=sku_id))
