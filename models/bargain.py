from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from huituan.models.group_buy import ActivityStatus


class BargainStatus(StrEnum):
    active = "active"  # friends are cutting
    floor_reached = "floor_reached"  # the N-th help reached the floor price
    bought = "bought"  # an order was created at the current or floor price
    expired = "expired"


class BargainActivity(Model):
    """A bargain offer on one SKU: friends cut the price from start to floor in N helps."""

    id = fields.BigIntField(primary_key=True)
    title = fields.CharField(100)
    product_id = fields.BigIntField(db_index=True)
    sku_id = fields.BigIntField()
    start_price_fen = fields.IntField()
    floor_price_fen = fields.IntField()
    helpers_needed = fields.IntField(description="helps that bring the price to the floor, shown to users")
    cut_min_fen = fields.IntField()
    cut_max_fen = fields.IntField()
    new_user_cut_fen = fields.IntField(default=0, description="larger cut for a new-user helper, 0 for off")
    duration_hours = fields.IntField(default=24)
    helps_per_user = fields.IntField(default=3, description="helps one user may give in this activity")
    helps_per_user_day = fields.IntField(default=5, description="helps one user may give per China day")
    allow_buy_at_current = fields.BooleanField(default=True)
    stock = fields.IntField()
    stock_left = fields.IntField()
    status = fields.CharEnumField(ActivityStatus, max_length=10, default=ActivityStatus.draft)
    starts_at = fields.DatetimeField()
    ends_at = fields.DatetimeField()
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "bargain_activity"


class Bargain(Model):
    """The bargain of one user: its price falls with every help, by compare-and-set on version."""

    id = fields.BigIntField(primary_key=True)
    activity = fields.ForeignKeyField("models.BargainActivity", related_name="bargains", on_delete=fields.RESTRICT)
    user_id = fields.BigIntField(db_index=True)
    status = fields.CharEnumField(BargainStatus, max_length=16, default=BargainStatus.active, db_index=True)
    current_price_fen = fields.IntField()
    helps_count = fields.IntField(default=0)
    version = fields.IntField(default=0)
    order_id = fields.BigIntField(null=True)
    expires_at = fields.DatetimeField(db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "bargain"


class BargainHelp(Model):
    """One friend cut one bargain once."""

    id = fields.BigIntField(primary_key=True)
    bargain = fields.ForeignKeyField("models.Bargain", related_name="helps", on_delete=fields.RESTRICT)
    activity_id = fields.BigIntField(db_index=True)
    helper_user_id = fields.BigIntField(db_index=True)
    seq = fields.IntField(description="1 for the first help, N for the one that reaches the floor")
    cut_fen = fields.IntField()
    price_after_fen = fields.IntField()
    new_user = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "bargain_help"
        unique_together = (("bargain", "helper_user_id"), ("bargain", "seq"))
