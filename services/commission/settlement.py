"""The settlement job: pending records whose settle_at has passed -> settled, in batches.

One transaction per batch, set-based:
1. ``UPDATE commission_record SET status='settled' WHERE status='pending' AND settle_at <= now
   AND id IN (... LIMIT batch FOR UPDATE SKIP LOCKED) RETURNING id, beneficiary_id, amount_fen``
   (PostgreSQL). The status guard is the compare-and-set: a record a concurrent refund holds
   is skipped (SKIP LOCKED) and picked up later; a refund that waits for this batch then
   sees ``settled`` and claws back instead of cancelling.
2. Aggregate per wallet, lock the wallets in user-id order, one guarded UPDATE for all of them
   and one bulk INSERT of the ledger entries (keys ``commission:{id}:settle``).
Income first pays down debt (services.wallet.ledger.credit_income).
Safe to rerun: settled records no longer match; a duplicate key would roll the batch back.
"""

from __future__ import annotations

import logging
from datetime import datetime

from tortoise.transactions import in_transaction

from huituan.core.clock import utcnow
from huituan.core.sql import is_pg
from huituan.models.commission import CommissionRecord, CommissionStatus
from huituan.models.wallet import EntryKind
from huituan.services.wallet import ledger

log = logging.getLogger("huituan.commission.settle")


async def _claim_batch(conn, now: datetime, batch: int) -> list[tuple[int, int, int]]:
    if is_pg(conn):
        rows = await conn.execute_query_dict(
            "UPDATE commission_record SET status = 'settled', settled_at = $1 WHERE id IN ("
            " SELECT id FROM commission_record WHERE status = 'pending' AND settle_at <= $1"
            " LIMIT $2 FOR UPDATE SKIP LOCKED) AND status = 'pending'"
            " RETURNING id, beneficiary_id, amount_fen",
            [now, batch],
        )
        return [(r["id"], r["beneficiary_id"], r["amount_fen"]) for r in rows]
    # SQLite: a write transaction excludes every other writer, so read-then-CAS is exact.
    rows = await CommissionRecord.filter(status=CommissionStatus.pending, settle_at__lte=now).using_db(conn) \
        .order_by("settle_at", "id").limit(batch).values_list("id", "beneficiary_id", "amount_fen")
    if not rows:
        return []
    n = await CommissionRecord.filter(id__in=[r[0] for r in rows], status=CommissionStatus.pending).using_db(
        conn).update(status=CommissionStatus.settled, settled_at=now)
    if n != len(rows):
        raise ledger.LedgerConflict()
    return [tuple(r) for r in rows]


async def settle_batch(now: datetime, batch: int = 1000) -> int:
    async with in_transaction() as conn:
        claimed = await _claim_batch(conn, now, batch)
        if not claimed:
            return 0
        by_user: dict[int, list[tuple[int, int]]] = {}
        for rid, uid, amount in claimed:
            by_user.setdefault(uid, []).append((rid, amount))

        def plan(wallets):
            out = []
            for uid, recs in by_user.items():
                bal = wallets[uid]
                for rid, amount in recs:
                    if amount <= 0:
                        continue
                    out += ledger.credit_income(
                        bal, amount, kind=EntryKind.commission_settle, key=f"commission:{rid}:settle",
                        ref_type="commission", ref_id=rid, source_bucket="pending",
                        source_kind=EntryKind.commission_unfreeze, source_key=f"commission:{rid}:unfreeze")
            return out

        await ledger.apply(conn, list(by_user), plan, now=now)
        return len(claimed)


async def settle_commissions(now: datetime | None = None, batch: int = 1000) -> int:
    """Job: settle every due pending record; returns how many were settled."""
    now = now or utcnow()
    total = 0
    while True:
        n = await settle_batch(now, batch)
        total += n
        if n < batch:
            break
    if total:
        log.info("settled %s commission records", total)
    return total
