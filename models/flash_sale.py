from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from huituan.models.group_buy import ActivityStatus


class ClaimStatus(StrEnum):
    claimed = "claimed"  # units held, order unpaid
    paid = "paid"
    expired = "expired"  # unpaid past the deadline or cancelled: units back to the session
    refunded = "refunded"  # refunded after payment: units stay sold


class FlashSession(Model):
    """A flash-sale time slot with its SKUs."""

    id = fields.BigIntField(primary_key=True)
    title = fields.CharField(100)
    starts_at = fields.DatetimeField(db_index=True)
    ends_at = fields.DatetimeField()
    claim_ttl_seconds = fields.IntField(default=900, description="an unpaid claim expires after this")
    status = fields.CharEnumField(ActivityStatus, max_length=10, default=ActivityStatus.draft)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "flash_session"


class FlashItem(Model):
    """One SKU in a session: its flash price, its own stock (taken from the SKU) and limit."""

    id = fields.BigIntField(primary_key=True)
    session = fields.ForeignKeyField("models.FlashSession", related_name="items", on_delete=fields.RESTRICT)
    product_id = fields.BigIntField()
    sku_id = fields.BigIntField()
    flash_price_fen = fields.IntField()
    stock_total = fields.IntField()
    stock_left = fields.IntField(description="the truth, Redis mirrors it")
    per_user_limit = fields.IntField(default=1)

    class Meta:
        table = "flash_item"


class FlashClaim(Model):
    """Units one user claimed in one request, held by one order."""

    id = fields.BigIntField(primary_key=True)
    session_id = fields.BigIntField(db_index=True)
    item_id = fields.BigIntField(db_index=True)
    user_id = fields.BigIntField(db_index=True)
    quantity = fields.IntField()
    request_id = fields.CharField(64)
    order_id = fields.BigIntField(null=True, unique=True)
    status = fields.CharEnumField(ClaimStatus, max_length=10, default=ClaimStatus.claimed, db_index=True)
    expires_at = fields.DatetimeField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "flash_claim"
        unique_together = (("session_id", "user_id", "request_id"),)


class StockDrift(Model):
    """A difference between Redis and the database found by reconciliation, and its repair."""

    id = fields.BigIntField(primary_key=True)
    session_id = fields.BigIntField(db_index=True)
    item_id = fields.BigIntField()
    redis_stock = fields.IntField(null=True, description="null when the Redis key was missing")
    db_stock = fields.IntField()
    repaired = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "flash_stock_drift"
