"""Settlement racing refunds on PostgreSQL: a refunded item is never settled (it is cancelled,
or settled first and then clawed back in full), and the ledger always verifies.

The refunds are submitted to WeChat Pay beforehand; only their notifies race the settlement
batches, so both paths (cancelled while pending, clawed back after settling) really happen."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import pytest

from huituan.models.commission import CommissionAdjustment, CommissionRecord, CommissionStatus
from huituan.models.wallet import Wallet
from huituan.services.commission.settlement import settle_commissions
from huituan.services.wallet.verify import verify_ledger
from tests.factories import make_user
from tests.services.commission.helpers import bind, complete, finish_refund, now, paid_order, submit_refund


@pytest.mark.postgres
async def test_settlement_while_refunds_arrive_never_settles_a_refunded_item(rt):
    promoters = [await make_user() for _ in range(5)]
    orders = []
    for i in range(120):
        buyer = await make_user()
        await bind(buyer, promoters[i % 5])
        o = await paid_order(rt, buyer, [(1_000 + i, 1), (2_000, 2)])
        await complete(o)
        orders.append(o)
    doomed = random.Random(7).sample(orders, 60)
    submitted = [await submit_refund(rt, o) for o in doomed]
    due = now() + timedelta(days=30)  # past every completion + freeze days

    settling = {"loops": 0}
    during: list[int] = []  # refunds that finished while a settlement loop was still running

    async def settle_loop():
        settling["loops"] += 1
        total = 0
        try:
            for _ in range(40):
                total += await settle_commissions(now=due, batch=3)
                await asyncio.sleep(0.005)
        finally:
            settling["loops"] -= 1
        return total

    async def refund_one(r, delay):
        await asyncio.sleep(delay)
        await finish_refund(rt, r)
        if settling["loops"]:
            during.append(r)

    # A few refunds arrive before settlement (cancelled while pending), most race the two
    # settlement loops (each record goes either way), and the last half arrive after
    # everything is settled (the claw-back path). Which way a racing record goes depends on
    # timing: the race itself is shown by refunds finishing while the loops ran.
    rng = random.Random(11)
    early, racing, late = submitted[:5], submitted[5:30], submitted[30:]
    for r in early:
        await finish_refund(rt, r)
    await asyncio.gather(settle_loop(), settle_loop(),
                         *[refund_one(r, rng.random() * 0.02) for r in racing])
    assert len(during) >= 5, len(during)  # the refunds really raced the settlement
    await settle_commissions(now=due)
    for r in late:
        await finish_refund(rt, r)
    doomed_ids = {o.id for o in doomed}
    for rec in await CommissionRecord.all():
        if rec.order_id in doomed_ids:
            assert rec.amount_fen == 0
            if rec.status == CommissionStatus.settled:
                # settled before the refund reached it: the whole amount was clawed back after
                adj = await CommissionAdjustment.get(record_id=rec.id)
                assert adj.after_settlement and rec.clawed_back_fen == rec.original_amount_fen
            else:
                assert rec.status == CommissionStatus.cancelled and rec.settled_at is None
        else:
            assert rec.status == CommissionStatus.settled and rec.amount_fen == rec.original_amount_fen
    for w in await Wallet.all():
        earned = sum(r.amount_fen for r in await CommissionRecord.filter(beneficiary_id=w.user_id))
        assert w.pending_fen == 0
        assert w.available_fen - w.debt_fen == earned
    assert await verify_ledger() == []
    doomed_records = [r for r in await CommissionRecord.all() if r.order_id in doomed_ids]
    cancelled = sum(r.status == CommissionStatus.cancelled for r in doomed_records)
    # Both ends happened: refunds reached pending records (cancelled) and settled ones (clawed back).
    assert 0 < cancelled < len(doomed_records), (cancelled, len(doomed_records))
