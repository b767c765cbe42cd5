"""Read side for the mini-program and the admin API: records, wallet summary, ledger."""

from __future__ import annotations

from typing import Any

from huituan.core.errors import NotFound
from huituan.models.commission import CommissionMode, CommissionRecord, CommissionStatus, ProductCommissionRule
from huituan.models.user import User
from huituan.models.wallet import WalletEntry
from huituan.services.wallet.ledger import get_balances
from huituan.services.withdrawals import WalletInDebt  # noqa: F401  (re-exported for edges)


def record_to_dict(r: CommissionRecord) -> dict[str, Any]:
    return {
        "id": r.id, "order_id": r.order_id, "order_item_id": r.order_item_id, "level": r.level,
        "self_purchase": r.self_purchase, "base_fen": r.base_fen, "rate_bp": r.rate_bp,
        "fixed_per_unit_fen": r.fixed_per_unit_fen, "original_amount_fen": r.original_amount_fen,
        "amount_fen": r.amount_fen, "clawed_back_fen": r.clawed_back_fen, "status": str(r.status),
        # Expected settle date: known once the order completes (completion + freeze days).
        "expected_settle_at": r.settle_at.isoformat() if r.settle_at and r.status == CommissionStatus.pending else None,
        "settled_at": r.settled_at.isoformat() if r.settled_at else None,
        "created_at": r.created_at.isoformat() if r.created_at else None,
    }


async def list_records(user_id: int, status: str | None = None, page: int = 1, page_size: int = 20) -> dict[str, Any]:
    q = CommissionRecord.filter(beneficiary_id=user_id)
    if status:
        q = q.filter(status=status)
    total = await q.count()
    rows = await q.order_by("-id").offset((page - 1) * page_size).limit(page_size)
    return {"total": total, "items": [record_to_dict(r) for r in rows]}


async def wallet_summary(user_id: int) -> dict[str, Any]:
    b = await get_balances(user_id)
    return {**b.as_dict(), "can_withdraw": b.debt == 0 and b.available > 0}


async def ledger_entries(user_id: int, page: int = 1, page_size: int = 50) -> dict[str, Any]:
    """A user's ledger, newest first; 404 naming user_id for no such user (an empty 200 read as
    "this user has earned nothing")."""
    q = WalletEntry.filter(user_id=user_id)
    total = await q.count()
    if total == 0 and not await User.filter(id=user_id).exists():
        raise NotFound("用户不存在", code="user_not_found", field="user_id")
    rows = await q.order_by("-id").offset((page - 1) * page_size).limit(page_size)
    return {"total": total, "balances": (await get_balances(user_id)).as_dict(), "items": [
        {"id": e.id, "bucket": e.bucket, "kind": str(e.kind), "amount_fen": e.amount_fen,
         "balance_after_fen": e.balance_after_fen, "ref_type": e.ref_type, "ref_id": e.ref_id,
         "idempotency_key": e.idempotency_key, "created_at": e.created_at.isoformat()} for e in rows]}


async def get_product_rule(product_id: int) -> dict[str, Any]:
    r = await ProductCommissionRule.get_or_none(product_id=product_id)
    if r is None:
        return {"product_id": product_id, "mode": "default", "level1_value": 0, "level2_value": 0}
    return {"product_id": product_id, "mode": str(r.mode), "level1_value": r.level1_value,
            "level2_value": r.level2_value}


async def set_product_rule(product_id: int, mode: str, level1_value: int, level2_value: int) -> dict[str, Any]:
    from huituan.core.errors import NotFound, ValidationFailed
    from huituan.models.catalog import Product

    if not await Product.filter(id=product_id).exists():  # a rule for no product was stored
        raise NotFound("商品不存在", code="product_not_found", field="product_id")
    if mode == CommissionMode.percent and level1_value + level2_value > 10_000:
        raise ValidationFailed("level2_value: 一级与二级比例之和不能超过 100%", field="level2_value")
    await ProductCommissionRule.update_or_create(
        defaults={"mode": mode, "level1_value": level1_value, "level2_value": level2_value}, product_id=product_id)
    return await get_product_rule(product_id)
