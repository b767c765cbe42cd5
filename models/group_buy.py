from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class ActivityStatus(StrEnum):
    """Shared by the three activities: draft -> active <-> stopped."""

    draft = "draft"
    active = "active"
    stopped = "stopped"


class GroupStatus(StrEnum):
    open = "open"
    succeeded = "succeeded"
    failed = "failed"


class SeatStatus(StrEnum):
    reserved = "reserved"  # taken when the order is created, unpaid
    paid = "paid"
    released = "released"  # unpaid past the deadline, cancelled, or refunded before success


class GroupBuyActivity(Model):
    """A group-buy offer on one product with group prices per SKU."""

    id = fields.BigIntField(primary_key=True)
    title = fields.CharField(100)
    product_id = fields.BigIntField(db_index=True)
    # {"<sku_id>": group price in fen}
    sku_prices = fields.JSONField(default=dict)
    group_size = fields.IntField()
    duration_hours = fields.IntField(default=24)
    opener_free = fields.BooleanField(default=False, description="the opener pays nothing for the goods")
    per_user_limit = fields.IntField(default=1, description="seats one user may hold in this activity")
    total_limit = fields.IntField(default=0, description="groups that may be opened, 0 for no limit")
    groups_opened = fields.IntField(default=0)
    virtual_fill = fields.BooleanField(default=False)
    virtual_fill_percent = fields.IntField(default=80, description="paid share needed for a virtual fill")
    commission_enabled = fields.BooleanField(default=True)
    status = fields.CharEnumField(ActivityStatus, max_length=10, default=ActivityStatus.draft)
    starts_at = fields.DatetimeField()
    ends_at = fields.DatetimeField()
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "group_buy_activity"


class Group(Model):
    """One group of a group-buy activity: seats are reserved at order creation."""

    id = fields.BigIntField(primary_key=True)
    activity = fields.ForeignKeyField("models.GroupBuyActivity", related_name="groups", on_delete=fields.RESTRICT)
    share_code = fields.CharField(16, unique=True)
    opener_user_id = fields.BigIntField(db_index=True)
    leader_id = fields.BigIntField(null=True, description="a community leader opened it")
    pickup_point_id = fields.BigIntField(null=True)
    status = fields.CharEnumField(GroupStatus, max_length=10, default=GroupStatus.open, db_index=True)
    size = fields.IntField()
    seats_taken = fields.IntField(default=0, description="reserved plus paid seats, never above size")
    seats_paid = fields.IntField(default=0)
    virtual_seats = fields.IntField(default=0, description="seats filled by the system at expiry")
    expires_at = fields.DatetimeField(db_index=True)
    finished_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "group_buy_group"


class GroupSeat(Model):
    """A seat in a group, held by one order."""

    id = fields.BigIntField(primary_key=True)
    group = fields.ForeignKeyField("models.Group", related_name="seats", on_delete=fields.RESTRICT)
    user_id = fields.BigIntField(db_index=True)
    order_id = fields.BigIntField(unique=True)
    status = fields.CharEnumField(SeatStatus, max_length=10, default=SeatStatus.reserved)
    is_opener = fields.BooleanField(default=False)
    # "<group>:<user>" while the seat is held, NULL once released: one live seat per user per group.
    holder_key = fields.CharField(48, null=True, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    paid_at = fields.DatetimeField(null=True)

    class Meta:
        table = "group_buy_seat"
