from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Category(Model):
    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(32, unique=True)
    sort = fields.IntField(default=0)
    is_active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "category"


class Product(Model):
    id = fields.BigIntField(primary_key=True)
    category = fields.ForeignKeyField("models.Category", related_name="products", null=True, on_delete=fields.SET_NULL)
    title = fields.CharField(100)
    subtitle = fields.CharField(200, default="")
    description = fields.TextField(default="")
    main_image = fields.CharField(512, default="")
    images = fields.JSONField(default=list)
    on_sale = fields.BooleanField(default=True, db_index=True)
    # Lowest on-sale SKU price, kept in step by the catalog service for list sorting.
    price_from_fen = fields.IntField(default=0)
    sales = fields.IntField(default=0)
    sort = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "product"


class ProductSalesChange(Model):
    """Units of a product paid (positive) or refunded (negative), not yet added to Product.sales.

    Written in the payment or refund transaction: an insert locks no product row, so payments
    of one popular product do not reach the disk one at a time. The fold_product_sales job adds
    them to Product.sales and deletes them in one transaction."""

    id = fields.BigIntField(primary_key=True)
    product_id = fields.BigIntField(db_index=True)
    units = fields.IntField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "product_sales_change"


class Sku(Model):
    id = fields.BigIntField(primary_key=True)
    product = fields.ForeignKeyField("models.Product", related_name="skus", on_delete=fields.CASCADE)
    code = fields.CharField(64, unique=True)
    name = fields.CharField(100, default="")
    specs = fields.JSONField(default=dict)
    price_fen = fields.IntField()
    original_price_fen = fields.IntField(default=0)
    # Never negative: only changed by guarded updates (stock >= n).
    stock = fields.IntField(default=0)
    on_sale = fields.BooleanField(default=True)
    image = fields.CharField(512, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "sku"


class SkuPriceHistory(Model):
    """Each price a SKU was offered at, from when (kept by the catalog on every price change)."""

    id = fields.BigIntField(primary_key=True)
    sku_id = fields.BigIntField(db_index=True)
    price_fen = fields.IntField()
    on_sale = fields.BooleanField(default=True)
    started_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "sku_price_history"
