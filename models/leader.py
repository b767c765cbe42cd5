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
    # Basis points of the order's paid amount; floor to the fen when settled.
    commission_bp = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    approved_at = fields.DatetimeField(null=True)

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
    # Orders placed after this local time (HH:MM) go into the next day's summary (截单).
    cutoff_time = fields.CharField(5, default="22:00")
    is_active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "pickup_point"
