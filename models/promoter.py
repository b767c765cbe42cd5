"""Promoters (推手), their levels, and the single-row distribution settings."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class PromoterStatus(StrEnum):
    applied = "applied"  # waiting for an operator (promote mode `approved`)
    approved = "approved"
    rejected = "rejected"
    disabled = "disabled"  # cannot bind new users, earns nothing new


class PromoterLevel(Model):
    """A level overrides the global commission rates once its upgrade conditions are met."""

    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(32, unique=True)  # promoters see it: two levels of one name confuse them
    rank = fields.IntField(unique=True)  # higher rank = better level
    level1_bp = fields.IntField()
    level2_bp = fields.IntField()
    min_direct_invites = fields.IntField(default=0)
    min_team_spend_fen = fields.BigIntField(default=0)
    min_own_spend_fen = fields.BigIntField(default=0)
    is_active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "promoter_level"


class Promoter(Model):
    """Promoter record of a user. Mode `everyone` needs none until something is recorded."""

    id = fields.BigIntField(primary_key=True)
    user_id = fields.BigIntField(unique=True)
    status = fields.CharEnumField(PromoterStatus, max_length=10, db_index=True)
    level_id = fields.BigIntField(null=True)
    real_name = fields.CharField(32, default="")
    phone = fields.CharField(20, default="")
    apply_note = fields.CharField(200, default="")
    review_note = fields.CharField(200, default="")
    reviewed_by = fields.BigIntField(null=True)
    applied_at = fields.DatetimeField(null=True)
    reviewed_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "promoter"
