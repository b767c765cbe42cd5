from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class LeaderStatus(StrEnum):
    """pending -> approved | rejected; approved -> disabled (operators move every edge)."""

    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    disabled = "disabled"


class Leader(Model):
    """A community group leader (团长): runs pickup points and a leader store."""

    id = fields.BigIntField(primary_key=True)
    user = fields.OneToOneField("models.User", related_name="leader", on_delete=fields.RESTRICT)
    name = fields.CharField(32)
    phone = fields.CharField(20)
    status = fields.CharEnumField(LeaderStatus, max_length=16, default=LeaderStatus.pending, db_index=True)
    # Basis points of the line paid amount, floored to the fen. Null means the global rate.
    commission_bp = fields.IntField(null=True)
    reject_reason = fields.CharField(200, default="")
    decided_by = fields.BigIntField(null=True)
    # The WeCom user linked through a one-time bind code (绑定), for the bot.
    wecom_userid = fields.CharField(64, null=True, unique=True)
    # Key of the group robot webhook of the leader customer group (群机器人).
    robot_key = fields.CharField(128, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    approved_at = fields.DatetimeField(null=True)
    rejected_at = fields.DatetimeField(null=True)

    class Meta:
        table = "leader"


class PickupPoint(Model):
    """Where buyers collect pickup orders (自提点). Orders keep ``pickup_point_id``."""

    id = fields.BigIntField(primary_key=True)
    leader = fields.ForeignKeyField("models.Leader", related_name="pickup_points", on_delete=fields.RESTRICT)
    name = fields.CharField(64)
    province = fields.CharField(32)
    city = fields.CharField(32, db_index=True)
    district = fields.CharField(32, default="")
    address = fields.CharField(200)
    latitude = fields.FloatField(null=True)
    longitude = fields.FloatField(null=True)
    contact_phone = fields.CharField(20, default="")
    business_hours = fields.CharField(64, default="")
    # Orders paid after this local time (HH:MM) go into the next day of the point (截单).
    cutoff_time = fields.CharField(5, default="22:00")
    is_active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "pickup_point"
        # Bounding-box prefilter of the nearest points (no geo extension needed).
        indexes = (("latitude", "longitude"),)


class LeaderStaff(Model):
    """A helper of a leader who may verify pickups at the leader points (店员). The leader invites
    (``accepted_at`` empty: no powers yet); the user accepts in the mini-program, or declines
    (the row goes). Nobody acts at a store, and sees its customers, without having agreed to."""

    id = fields.BigIntField(primary_key=True)
    leader = fields.ForeignKeyField("models.Leader", related_name="staff", on_delete=fields.CASCADE)
    user_id = fields.BigIntField(db_index=True)
    name = fields.CharField(32, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    accepted_at = fields.DatetimeField(null=True)

    class Meta:
        table = "leader_staff"
        unique_together = (("leader", "user_id"),)


class LeaderProduct(Model):
    """A platform product switched on or off in one leader store (团长小店). No row means on."""

    id = fields.BigIntField(primary_key=True)
    leader_id = fields.BigIntField()
    product_id = fields.BigIntField()
    enabled = fields.BooleanField(default=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "leader_product"
        unique_together = (("leader_id", "product_id"),)


class LeaderCommissionRule(Model):
    """Leader commission rate of one product in basis points (overrides leader and global rates)."""

    id = fields.BigIntField(primary_key=True)
    product_id = fields.BigIntField(unique=True)
    rate_bp = fields.IntField()
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "leader_commission_rule"


class ConsumerLeader(Model):
    """The default leader and pickup point of a consumer (changeable)."""

    id = fields.BigIntField(primary_key=True)
    user_id = fields.BigIntField(unique=True)
    leader_id = fields.BigIntField()
    pickup_point_id = fields.BigIntField()
    source = fields.CharField(16, default="chosen")  # chosen | share
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "consumer_leader"


class PickupTicket(Model):
    """The pickup code of one paid pickup order and the point day it belongs to."""

    id = fields.BigIntField(primary_key=True)
    order_id = fields.BigIntField(unique=True)
    user_id = fields.BigIntField()
    pickup_point_id = fields.BigIntField()
    day = fields.CharField(10)  # YYYY-MM-DD in China time, after the point cutoff
    code = fields.CharField(16)
    notified_at = fields.DatetimeField(null=True)
    verified_at = fields.DatetimeField(null=True)
    verified_by_user_id = fields.BigIntField(null=True)
    verified_by_name = fields.CharField(64, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "pickup_ticket"
        indexes = (("pickup_point_id", "day"), ("pickup_point_id", "code"))


class PointDay(Model):
    """What happened to one pickup point on one day: cutoff pushed, goods arrived."""

    id = fields.BigIntField(primary_key=True)
    pickup_point_id = fields.BigIntField()
    day = fields.CharField(10)
    cutoff_pushed_at = fields.DatetimeField(null=True)
    arrived_at = fields.DatetimeField(null=True)
    arrived_by = fields.CharField(64, default="")

    class Meta:
        table = "point_day"
        unique_together = (("pickup_point_id", "day"),)


class ShortageKind(StrEnum):
    shortage = "shortage"
    damage = "damage"


class ShortageReport(Model):
    """A shortage or damage report (报损) of a leader, with the refunds it caused."""

    id = fields.BigIntField(primary_key=True)
    leader_id = fields.BigIntField(db_index=True)
    pickup_point_id = fields.BigIntField()
    day = fields.CharField(10)
    product_id = fields.BigIntField()
    sku_id = fields.BigIntField(null=True)
    title = fields.CharField(100, default="")
    kind = fields.CharEnumField(ShortageKind, max_length=10, default=ShortageKind.shortage)
    quantity = fields.IntField()
    refunded_quantity = fields.IntField(default=0)
    refunded_fen = fields.IntField(default=0)
    # [{"order_id", "order_no", "refund_no", "item_id", "quantity", "amount_fen"}]
    refunds = fields.JSONField(default=list)
    note = fields.CharField(200, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "shortage_report"


class WecomBindCode(Model):
    """A one-time code that links the WeCom user who sends it (绑定) to a leader or an operator."""

    id = fields.BigIntField(primary_key=True)
    code = fields.CharField(16, unique=True)
    kind = fields.CharField(16)  # leader | operator
    account_id = fields.BigIntField()
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    used_by = fields.CharField(64, default="")

    class Meta:
        table = "wecom_bind_code"
