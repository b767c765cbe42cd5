"""Referral bindings (推荐关系) and their audit log."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class BindingStatus(StrEnum):
    active = "active"
    expired = "expired"  # validity ran out: no more commission, a later share may rebind


class BindingAction(StrEnum):
    bind = "bind"
    rebind = "rebind"
    expire = "expire"
    manual = "manual"  # an operator changed or removed it


class ReferralBinding(Model):
    """Who referred ``user``: one row per user, changed only with an audit row beside it."""

    id = fields.BigIntField(primary_key=True)
    user_id = fields.BigIntField(unique=True)
    promoter_id = fields.BigIntField(db_index=True)
    status = fields.CharEnumField(BindingStatus, max_length=10, default=BindingStatus.active, db_index=True)
    scene = fields.CharField(128, default="")
    bound_at = fields.DatetimeField()
    expires_at = fields.DatetimeField(null=True, db_index=True)  # null: permanent
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "referral_binding"


class ReferralAudit(Model):
    id = fields.BigIntField(primary_key=True)
    user_id = fields.BigIntField(db_index=True)
    action = fields.CharEnumField(BindingAction, max_length=10)
    old_promoter_id = fields.BigIntField(null=True)
    new_promoter_id = fields.BigIntField(null=True)
    reason = fields.CharField(200, default="")
    scene = fields.CharField(128, default="")
    operator_id = fields.BigIntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "referral_audit"
