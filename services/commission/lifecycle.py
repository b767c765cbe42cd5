"""ORDER_COMPLETED starts the freeze; REFUND_SUCCEEDED reduces, cancels or claws back.

Locking order everywhere: commission records, then wallets (by user id).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from huituan.core.clock import utcnow
from huituan.core.money import prorate
from huituan.core.sql import is_pg
from huituan.models.commission import CommissionAdjustment, CommissionRecord, CommissionStatus
from huituan.models.order import Order, OrderItem, Refund
from huituan.models.wallet import EntryKind
from huituan.services.distribution_settings import get_settings
from huituan.services.wallet import ledger


async def on_order_completed(order_id: int, conn, now: datetime | None = None) -> int:
    """pending records of the order get settle_at = completed_at + freeze days (once)."""
    order = await Order.get(id=order_id).using_db(conn)
    settings = await get_settings(conn)
    done_at = order.completed_at or now or utcnow()
    return await CommissionRecord.filter(order_id=order_id, status=CommissionStatus.pending,
                                         settle_at__isnull=True).using_db(conn).update(
        settle_at=done_at + timedelta(days=settings.freeze_days))


async def _lock_records(conn, item_ids: list[int]) -> list[CommissionRecord]:
    q = CommissionRecord.filter(order_item_id__in=item_ids).using_db(conn).order_by("id")
    if is_pg(conn):
        q = q.select_for_update()
    return list(await q)


async def _refunded_bases(refund: Refund, conn) -> dict[int, int]:
    """item id -> line money refunded by this refund (capped at what was paid for the line)."""
    items = {i.id: i for i in await OrderItem.filter(order_id=refund.order_id).using_db(conn)}
    if refund.whole_order or not refund.items:
        return {iid: i.paid_fen for iid, i in items.items()}
    out: dict[int, int] = {}
    for entry in refund.items:
        iid = int(entry.get("item_id", 0))
        if iid in items:
            out[iid] = out.get(iid, 0) + max(0, int(entry.get("amount_fen", 0)))
    return out


async def on_refund_succeeded(refund_id: int, order_id: int, conn, now: datetime | None = None) -> None:
    """Apply a refund to the order's commission records, once per (record, refund).

    The record is reduced proportionally to the line money refunded:
    new amount = floor(original x (paid - refunded so far) / paid) (core.money.prorate floors;
    the fen of rounding stay with the platform). Before settlement the pending bucket shrinks
    (all of it: pending -> cancelled); after settlement the difference is clawed back from
    available, the rest becoming debt.
    """
    now = now or utcnow()
    refund = await Refund.get(id=refund_id).using_db(conn)
    bases = await _refunded_bases(refund, conn)
    if not bases:
        return
    records = await _lock_records(conn, list(bases))
    todo: list[tuple[CommissionRecord, int, int]] = []  # record, refunded base now, reduction
    for rec in records:
        if rec.status == CommissionStatus.cancelled:
            continue
        if await CommissionAdjustment.filter(record_id=rec.id, refund_id=refund_id).using_db(conn).exists():
            continue  # already applied
        refunded = min(rec.base_fen, rec.refunded_base_fen + bases[rec.order_item_id])
        left = prorate(rec.original_amount_fen, rec.base_fen - refunded, rec.base_fen) if rec.base_fen else 0
        cut = max(0, rec.amount_fen - left)
        todo.append((rec, refunded, cut))
    if not todo:
        return
    postings_by_user: dict[int, list] = {}
    for rec, refunded, cut in todo:
        after = rec.status == CommissionStatus.settled
        await CommissionAdjustment.create(record_id=rec.id, refund_id=refund_id, base_fen=bases[rec.order_item_id],
                                          amount_fen=cut, after_settlement=after, using_db=conn)
        values = {"refunded_base_fen": refunded, "amount_fen": rec.amount_fen - cut}
        if after:
            values["clawed_back_fen"] = rec.clawed_back_fen + cut
        elif rec.amount_fen - cut == 0:
            values["status"] = CommissionStatus.cancelled
            values["cancelled_at"] = now
        # Compare-and-set on the state read under the lock (no-op lock on SQLite).
        n = await CommissionRecord.filter(id=rec.id, status=rec.status, amount_fen=rec.amount_fen).using_db(
            conn).update(**values)
        if not n:
            raise ledger.LedgerConflict("佣金状态已变化，请重试")
        if cut:
            postings_by_user.setdefault(rec.beneficiary_id, []).append((rec, cut, after))

    def plan(wallets):
        out = []
        for uid, items in postings_by_user.items():
            bal = wallets[uid]
            for rec, cut, after in items:
                key = f"commission:{rec.id}:refund:{refund_id}"
                if after:
                    out += ledger.charge_clawback(bal, cut, key=key, ref_type="commission", ref_id=rec.id)
                else:
                    kind = EntryKind.commission_cancel if rec.amount_fen == cut else EntryKind.commission_reduce
                    out.append(ledger.Posting(uid, "pending", -cut, kind, key, "commission", rec.id))
                    bal.pending -= cut
        return out

    if postings_by_user:
        await ledger.apply(conn, list(postings_by_user), plan, now=now)
