"""The commission wallet: cached balances, the append-only ledger, withdrawals."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

BUCKETS = ("pending", "available", "withdrawing", "withdrawn", "debt")


class Wallet(Model):
    """Cached balances per bucket, each changed only together with its WalletEntry, by a
    guarded update (services.wallet.ledger). ``version`` is bumped by every change."""

    id = fields.BigIntField(primary_key=True)
    user_id = fields.BigIntField(unique=True)
    pending_fen = fields.BigIntField(default=0)
    available_fen = fields.BigIntField(default=0)
    withdrawing_fen = fields.BigIntField(default=0)
    withdrawn_fen = fields.BigIntField(default=0)
    debt_fen = fields.BigIntField(default=0)
    version = fields.BigIntField(default=0)
    updated_at = fields.DatetimeField(null=True)

    class Meta:
        table = "wallet"


class EntryKind(StrEnum):
    commission_pending = "commission_pending"  # + pending at payment
    commission_reduce = "commission_reduce"  # - pending, partial refund before settlement
    commission_cancel = "commission_cancel"  # - pending, full refund before settlement
    commission_unfreeze = "commission_unfreeze"  # - pending at settlement
    commission_settle = "commission_settle"  # + available at settlement
    debt_repay = "debt_repay"  # - debt, income that paid it down
    clawback = "clawback"  # - available, refund after settlement
    clawback_debt = "clawback_debt"  # + debt, the part available could not cover
    withdraw_hold = "withdraw_hold"  # - available / + withdrawing
    withdraw_paid = "withdraw_paid"  # - withdrawing / + withdrawn (net)
    withdraw_fee = "withdraw_fee"  # - withdrawing, the fee kept by the platform
    withdraw_return = "withdraw_return"  # - withdrawing / + available, rejected or failed


class WalletEntry(Model):
    """Append-only. One row per bucket change, ``balance_after_fen`` is the balance of that bucket after it."""

    id = fields.BigIntField(primary_key=True)
    wallet_id = fields.BigIntField(db_index=True)
    user_id = fields.BigIntField(db_index=True)
    bucket = fields.CharField(12)
    kind = fields.CharEnumField(EntryKind, max_length=24)
    amount_fen = fields.BigIntField()  # signed
    balance_after_fen = fields.BigIntField()
    ref_type = fields.CharField(16)  # commission | withdrawal
    ref_id = fields.BigIntField()
    idempotency_key = fields.CharField(96, unique=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "wallet_entry"


class WithdrawalStatus(StrEnum):
    requested = "requested"
    approved = "approved"
    paying = "paying"
    paid = "paid"
    rejected = "rejected"
    failed = "failed"


class Withdrawal(Model):
    id = fields.BigIntField(primary_key=True)
    user_id = fields.BigIntField(db_index=True)
    amount_fen = fields.BigIntField()
    fee_fen = fields.BigIntField(default=0)
    net_fen = fields.BigIntField()
    status = fields.CharEnumField(WithdrawalStatus, max_length=10, default=WithdrawalStatus.requested, db_index=True)
    real_name = fields.CharField(32, default="")
    # Same (user, key) returns the same withdrawal, the same key with another request is refused.
    idempotency_key = fields.CharField(64, null=True)
    request_hash = fields.CharField(64, default="")
    out_bill_no = fields.CharField(32, null=True, unique=True)
    transfer_bill_no = fields.CharField(64, null=True)
    transfer_state = fields.CharField(24, default="")
    package_info = fields.TextField(default="")
    fail_reason = fields.CharField(200, default="")
    reviewed_by = fields.BigIntField(null=True)
    review_note = fields.CharField(200, default="")
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    approved_at = fields.DatetimeField(null=True)
    paying_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "withdrawal"
        unique_together = (("user_id", "idempotency_key"),)
