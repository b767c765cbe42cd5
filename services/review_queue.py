"""What operators have to decide (待审核) and a leader's team at a glance (团队)."""

from __future__ import annotations

from typing import Any

from huituan.core.inbound import ID_MAX, ascii_int, is_ascii_digits
from huituan.models.leader import ConsumerLeader, Leader, LeaderStaff, LeaderStatus, PickupPoint
from huituan.models.order import Refund, RefundStatus
from huituan.models.wallet import Withdrawal, WithdrawalStatus
from huituan.services.orders import unmatched_payments


async def pending_reviews(limit: int = 10) -> dict[str, Any]:
    leaders = await Leader.filter(status=LeaderStatus.pending).order_by("id").limit(limit)
    points = {p.leader_id: p for p in await PickupPoint.filter(leader_id__in=[x.id for x in leaders] or [0])}
    withdrawals = await Withdrawal.filter(status=WithdrawalStatus.requested).order_by("id").limit(limit)
    refunds = await Refund.filter(status=RefundStatus.requested).order_by("id").limit(limit)
    return {
        "leaders": [{"id": x.id, "name": x.name, "point": points[x.id].name if x.id in points else "",
                     "address": points[x.id].address if x.id in points else ""} for x in leaders],
        "leaders_total": await Leader.filter(status=LeaderStatus.pending).count(),
        "withdrawals": [{"id": w.id, "user_id": w.user_id, "amount_fen": w.amount_fen} for w in withdrawals],
        "withdrawals_total": await Withdrawal.filter(status=WithdrawalStatus.requested).count(),
        "refunds": [{"id": r.id, "refund_no": r.refund_no, "amount_fen": r.amount_fen, "reason": r.reason}
                    for r in refunds],
        "refunds_total": await Refund.filter(status=RefundStatus.requested).count(),
        # paid for no order of ours: handled in the admin API (a refund at the merchant platform)
        "unmatched_payments_total": await unmatched_payments.open_count(),
    }


_REFUND_NO_MAX = Refund._meta.fields_map["refund_no"].max_length


async def refund_id_of(ref: str) -> int | None:
    """A refund named by its id or its number (R...)."""
    ref = (ref or "").strip()
    if is_ascii_digits(ref):
        return ascii_int(ref, low=1, high=ID_MAX)  # beyond BIGINT a number names nothing
    if len(ref) > _REFUND_NO_MAX:
        return None
    ids = await Refund.filter(refund_no=ref.upper()).values_list("id", flat=True)
    return ids[0] if ids else None


async def leader_team(leader_id: int) -> dict[str, Any]:
    staff = await LeaderStaff.filter(leader_id=leader_id).order_by("id")
    customers = await ConsumerLeader.filter(leader_id=leader_id).count()
    points = await PickupPoint.filter(leader_id=leader_id).order_by("id")
    return {"staff": [{"user_id": s.user_id, "name": s.name, "active": s.accepted_at is not None} for s in staff],
            "customers": customers,
            "points": [{"id": p.id, "name": p.name, "cutoff_time": p.cutoff_time, "is_active": p.is_active}
                       for p in points]}


async def platform_leader_numbers() -> dict[str, int]:
    return {"leaders": await Leader.filter(status=LeaderStatus.approved).count(),
            "pending_leaders": await Leader.filter(status=LeaderStatus.pending).count()}
