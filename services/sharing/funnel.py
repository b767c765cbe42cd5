"""What each share code brought in: opens, new users, binds, orders, paid fen and commission,
per code and per channel, with 7- and 30-day summaries.

Orders are attributed through the referral binding: a paid order whose buyer is actively
bound to a promoter through one of that promoter's codes (the binding's scene is the code)
counts for that code. Commission is what the code's sharer earns at level 1 on those orders,
as it stands after refunds. Subscribed by the composition root (huituan.wiring).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from huituan.core.clock import as_utc, utcnow
from huituan.models.commission import CommissionRecord, CommissionStatus
from huituan.models.order import Order, Refund
from huituan.models.referral import ReferralBinding
from huituan.models.sharing import ShareChannel, ShareCode, ShareEvent, ShareEventKind
from huituan.services.referrals.binding import binding_is_active
from huituan.services.sharing.codes import record

METRICS = ("opens", "new_users", "binds", "orders", "refunded_orders", "paid_fen", "commission_fen")


def _q(q, conn):
    return q.using_db(conn) if conn is not None else q


async def on_order_paid(order_id: int, conn=None, **_) -> None:
    order = await _q(Order.get_or_none(id=order_id), conn)
    if order is None:
        return
    b = await _q(ReferralBinding.get_or_none(user_id=order.user_id), conn)
    if b is None or not b.scene or not binding_is_active(b.status, b.expires_at, utcnow()):
        return
    sc = await _q(ShareCode.get_or_none(code=b.scene[:16], sharer_id=b.promoter_id), conn)
    if sc is None:
        return
    await record(sc, ShareEventKind.order, user_id=order.user_id, order_id=order.id, amount_fen=order.paid_fen,
                 dedupe_key=f"order:{order.id}", conn=conn)


async def on_refunded(refund_id: int, order_id: int, conn=None, **_) -> None:
    ordered = await _q(ShareEvent.get_or_none(dedupe_key=f"order:{order_id}"), conn)
    if ordered is None:
        return
    refund = await _q(Refund.get_or_none(id=refund_id), conn)
    sc = await _q(ShareCode.get_or_none(id=ordered.share_code_id), conn)
    if refund is None or sc is None:
        return
    await record(sc, ShareEventKind.refund, user_id=ordered.user_id, order_id=order_id, amount_fen=-refund.amount_fen,
                 dedupe_key=f"refund:{refund_id}", conn=conn)


def _empty() -> dict[str, int]:
    return dict.fromkeys(METRICS, 0)


def _add(acc: dict[str, int], ev: dict[str, Any], commission: dict[int, int], refunded: set) -> None:
    kind = ev["kind"]
    if kind == ShareEventKind.open:
        acc["opens"] += 1
    elif kind == ShareEventKind.new_user:
        acc["new_users"] += 1
    elif kind == ShareEventKind.bind:
        acc["binds"] += 1
    elif kind == ShareEventKind.order:
        acc["orders"] += 1
        acc["paid_fen"] += ev["amount_fen"]
        acc["commission_fen"] += commission.get(ev["order_id"], 0)
    elif kind == ShareEventKind.refund:
        acc["paid_fen"] += ev["amount_fen"]
        key = (id(acc), ev["order_id"])
        if key not in refunded:  # an order refunded in two parts is one refunded order
            refunded.add(key)
            acc["refunded_orders"] += 1


async def promoter_shares(sharer_id: int, now: datetime | None = None) -> dict[str, Any]:
    """The sharer's codes with their funnel, the same per channel, and 7/30-day summaries
    (by when each step happened)."""
    now = now or utcnow()
    codes = await ShareCode.filter(sharer_id=sharer_id).order_by("-id")
    events = await ShareEvent.filter(sharer_id=sharer_id).order_by("id").values(
        "share_code_id", "channel", "kind", "order_id", "amount_fen", "created_at")
    order_ids = [e["order_id"] for e in events if e["kind"] == ShareEventKind.order]
    commission: dict[int, int] = defaultdict(int)
    if order_ids:
        for r in await CommissionRecord.filter(order_id__in=order_ids, beneficiary_id=sharer_id, level=1).exclude(
                status=CommissionStatus.cancelled).values("order_id", "amount_fen"):
            commission[r["order_id"]] += r["amount_fen"]
    per_code: dict[int, dict[str, int]] = {c.id: _empty() for c in codes}
    per_channel: dict[str, dict[str, int]] = {str(ch): _empty() for ch in ShareChannel}
    total, last7, last30 = _empty(), _empty(), _empty()
    seen: set = set()
    for ev in events:
        targets = [per_code.setdefault(ev["share_code_id"], _empty()), per_channel[str(ev["channel"])], total]
        created = as_utc(ev["created_at"])
        if created >= now - timedelta(days=30):
            targets.append(last30)
        if created >= now - timedelta(days=7):
            targets.append(last7)
        for acc in targets:
            _add(acc, ev, commission, seen)
    return {
        "codes": [{"code": c.code, "target": {"kind": str(c.target_kind), "id": c.target_id},
                   "channel": str(c.channel), "created_at": c.created_at.isoformat(), **per_code[c.id]} for c in codes],
        "channels": [{"channel": ch, **m} for ch, m in per_channel.items()],
        "summary": {"total": total, "last_7_days": last7, "last_30_days": last30},
    }
