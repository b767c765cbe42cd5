"""Commission records, per-product rules, order attribution and the distribution settings."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class BindMode(StrEnum):
    first = "first"
    new_users_only = "new_users_only"
    override = "override"


class PromoteMode(StrEnum):
    everyone = "everyone"
    approved = "approved"
    spend_threshold = "spend_threshold"


class DistributionSettings(Model):
    """Single row (id=1) edited through the admin API, with product defaults."""

    id = fields.IntField(primary_key=True)
    enabled = fields.BooleanField(default=True)
    bind_mode = fields.CharEnumField(BindMode, max_length=16, default=BindMode.first)
    new_user_window_seconds = fields.IntField(default=86400)
    binding_valid_days = fields.IntField(default=0)  # 0 = permanent
    promote_mode = fields.CharEnumField(PromoteMode, max_length=16, default=PromoteMode.everyone)
    promote_spend_threshold_fen = fields.BigIntField(default=0)
    level1_bp = fields.IntField(default=1000)
    level2_bp = fields.IntField(default=500)
    activity_normal = fields.BooleanField(default=True)
    activity_group_buy = fields.BooleanField(default=True)
    activity_bargain = fields.BooleanField(default=False)
    activity_flash_sale = fields.BooleanField(default=False)
    self_purchase_rebate = fields.BooleanField(default=False)
    freeze_days = fields.IntField(default=7)
    withdraw_min_fen = fields.IntField(default=100)
    withdraw_fee_bp = fields.IntField(default=0)
    withdraw_daily_count = fields.IntField(default=3)
    withdraw_daily_amount_fen = fields.BigIntField(default=2_000_000)
    withdraw_real_name_threshold_fen = fields.BigIntField(default=200_000)
    withdraw_auto_approve_fen = fields.BigIntField(default=20_000)
    # Both levels of one order together never earn more than this share of what was paid for
    # its goods (basis points, platform rule, default 30 %)
    commission_cap_bp = fields.IntField(default=3000)
    # Global leader commission in basis points (per leader and per product rates override it).
    leader_commission_bp = fields.IntField(default=500)
    updated_by = fields.BigIntField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "distribution_settings"


class CommissionMode(StrEnum):
    default = "default"  # the promoter level or the global rates
    percent = "percent"  # level1_value / level2_value in basis points
    fixed = "fixed"  # level1_value / level2_value in fen per unit
    none = "none"  # no commission on this product


class ProductCommissionRule(Model):
    id = fields.BigIntField(primary_key=True)
    product_id = fields.BigIntField(unique=True)
    mode = fields.CharEnumField(CommissionMode, max_length=10, default=CommissionMode.default)
    level1_value = fields.IntField(default=0)
    level2_value = fields.IntField(default=0)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "product_commission_rule"


class OrderAttribution(Model):
    """Level-1 and level-2 promoters of an order, snapshotted at payment (once)."""

    id = fields.BigIntField(primary_key=True)
    order_id = fields.BigIntField(unique=True)
    buyer_id = fields.BigIntField()
    level1_id = fields.BigIntField(null=True)
    level2_id = fields.BigIntField(null=True)
    self_purchase = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "order_attribution"


class CommissionStatus(StrEnum):
    pending = "pending"  # frozen from payment
    settled = "settled"  # moved to available after completion + freeze days
    cancelled = "cancelled"  # fully refunded before settlement


class CommissionRecord(Model):
    """One per order item per beneficiary. ``amount_fen`` is the current commission after
    partial refunds; ``clawed_back_fen`` what was taken back after settlement."""

    id = fields.BigIntField(primary_key=True)
    order_id = fields.BigIntField(db_index=True)
    order_item_id = fields.BigIntField()
    product_id = fields.BigIntField()
    buyer_id = fields.BigIntField()
    beneficiary_id = fields.BigIntField(db_index=True)
    level = fields.SmallIntField()  # 1 or 2 for promoters, 0 for the leader of the pickup point
    self_purchase = fields.BooleanField(default=False)
    base_fen = fields.IntField()  # what the buyer paid for the line, no shipping
    rate_bp = fields.IntField(null=True)
    fixed_per_unit_fen = fields.IntField(null=True)
    original_amount_fen = fields.IntField()
    amount_fen = fields.IntField()
    refunded_base_fen = fields.IntField(default=0)
    clawed_back_fen = fields.IntField(default=0)
    status = fields.CharEnumField(CommissionStatus, max_length=10, default=CommissionStatus.pending)
    settle_at = fields.DatetimeField(null=True)
    settled_at = fields.DatetimeField(null=True)
    cancelled_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "commission_record"
        unique_together = (("order_item_id", "beneficiary_id"),)
        indexes = (("status", "settle_at"),)


class CommissionAdjustment(Model):
    """A refund applied to a record (once per refund): reduction while pending, clawback after."""

    id = fields.BigIntField(primary_key=True)
    record_id = fields.BigIntField(db_index=True)
    refund_id = fields.BigIntField()
    base_fen = fields.IntField()
    amount_fen = fields.IntField()  # commission taken off (>= 0)
    after_settlement = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "commission_adjustment"
        unique_together = (("record_id", "refund_id"),)
