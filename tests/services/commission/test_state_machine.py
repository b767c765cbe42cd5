"""A hypothesis state machine over the whole distribution domain.

Random sequences of bind, pay, partial and full refund, complete, settle, withdraw, payout
success and failure across several users. Orders, payments, completions and refunds go through
the real order services and the WeChat Pay sandbox (tests/services/commission/helpers.py).
After every step: the ledger verifies, no bucket is negative, and every fen consumers paid is
accounted to a promoter, the platform or a refund.

The machine runs in a worker thread (hypothesis' stateful runner is synchronous); each rule
hands its coroutine to the test's event loop, where the app, the database and the sandbox live.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from hypothesis import HealthCheck
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from huituan.core.errors import HuituanError
from huituan.models.commission import CommissionRecord, CommissionStatus
from huituan.models.order import ActivityType, Order, OrderItem, OrderStatus
from huituan.models.wallet import Wallet, Withdrawal, WithdrawalStatus
from huituan.services import withdrawals
from huituan.services.commission.settlement import settle_commissions
from huituan.services.orders.refunds import REFUNDABLE
from huituan.services.referrals import bind_user
from huituan.services.wallet.verify import verify_ledger
from tests.conftest import wipe_state
from tests.factories import make_user
from tests.services.commission.helpers import complete, now, paid_order, refund, set_settings

N_USERS = 4


class DistributionMachine(RuleBasedStateMachine):
    loop: asyncio.AbstractEventLoop
    rt = None
    client = None

    def run(self, aw):
        async def wrap():
            return await aw

        return asyncio.run_coroutine_threadsafe(wrap(), self.loop).result(timeout=120)

    def __init__(self):
        super().__init__()
        self.users = self.run(self._setup())
        self.orders: list[int] = []
        self.clock = 0  # days the settlement job has advanced

    async def _setup(self):
        await wipe_state(self.rt)
        await set_settings(withdraw_min_fen=1, withdraw_fee_bp=150, withdraw_daily_count=10_000,
                           withdraw_daily_amount_fen=10**12, withdraw_auto_approve_fen=10**12,
                           withdraw_real_name_threshold_fen=10**12, self_purchase_rebate=True,
                           activity_flash_sale=False, freeze_days=7)
        return [(await make_user()).id for _ in range(N_USERS)]

    # -- rules ---------------------------------------------------------------------------

    @rule(u=st.integers(0, N_USERS - 1), p=st.integers(0, N_USERS - 1))
    def bind(self, u, p):
        self.run(bind_user(self.users[u], self.users[p]))

    @rule(b=st.integers(0, N_USERS - 1),
          lines=st.lists(st.tuples(st.integers(1, 10_000), st.integers(1, 3)), min_size=1, max_size=3),
          activity=st.sampled_from([ActivityType.normal, ActivityType.group_buy, ActivityType.flash_sale]))
    def pay(self, b, lines, activity):
        # lines: (unit price, quantity); the SKU price is the unit price
        order = self.run(paid_order(self.rt, self.users[b], [(p * q, q) for p, q in lines], activity=activity))
        self.orders.append(order.id)

    async def _refundable_items(self, order_id):
        """[(item_id, units still refundable)] of an order that accepts a refund request."""
        if (await Order.get(id=order_id)).status not in REFUNDABLE:
            return []
        return [(i.id, i.quantity - i.refunded_quantity)
                for i in await OrderItem.filter(order_id=order_id).order_by("id") if i.quantity > i.refunded_quantity]

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def partial_refund(self, data):
        oid = data.draw(st.sampled_from(self.orders))
        items = self.run(self._refundable_items(oid))
        if not items:
            return
        item_id, left = data.draw(st.sampled_from(items))
        units = data.draw(st.integers(1, left))
        # the server prorates the line's paid_fen by quantity (the last units take the remainder)
        self.run(refund(self.rt, oid, [(item_id, units)]))

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def full_refund(self, data):
        oid = data.draw(st.sampled_from(self.orders))
        if self.run(self._refundable_items(oid)):
            self.run(refund(self.rt, oid))

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def complete(self, data):
        oid = data.draw(st.sampled_from(self.orders))

        async def go():
            if (await Order.get(id=oid)).status in (OrderStatus.paid, OrderStatus.shipped):
                await complete(oid)

        self.run(go())

    @rule(days=st.sampled_from([1, 8]))
    def settle(self, days):
        self.clock += days
        self.run(settle_commissions(now=now() + timedelta(days=self.clock), batch=3))

    @rule(u=st.integers(0, N_USERS - 1), amount=st.integers(-5, 5_000))
    def withdraw(self, u, amount):
        async def go():
            w = await Wallet.get_or_none(user_id=self.users[u])
            target = amount if w is None or amount % 2 else min(amount, w.available_fen) or amount
            try:
                await withdrawals.request_withdrawal(self.rt, self.users[u], target)
            except HuituanError as err:
                assert err.status in (409, 422), err

        self.run(go())

    @rule(data=st.data(), ok=st.booleans())
    def payout(self, data, ok):
        paying = self.run(Withdrawal.filter(status=WithdrawalStatus.paying).values_list("out_bill_no", flat=True))
        if not paying:
            return
        no = data.draw(st.sampled_from(sorted(paying)))

        async def go():
            resp = await self.client.post(f"/sandbox/pay/transfers/{no}/{'confirm' if ok else 'fail'}", json={})
            assert resp.status == 200, await resp.text()

        self.run(go())

    # -- invariants ----------------------------------------------------------------------

    @invariant()
    def books_balance(self):
        self.run(self._check())

    async def _check(self):
        assert await verify_ledger() == []
        records = await CommissionRecord.all()
        fees = {}
        for w in await Withdrawal.filter(status=WithdrawalStatus.paid):
            fees[w.user_id] = fees.get(w.user_id, 0) + w.fee_fen
        for w in await Wallet.all():
            for b in ("pending", "available", "withdrawing", "withdrawn", "debt"):
                assert getattr(w, f"{b}_fen") >= 0
            mine = [r for r in records if r.beneficiary_id == w.user_id]
            assert w.pending_fen == sum(r.amount_fen for r in mine if r.status == CommissionStatus.pending)
            earned = sum(r.amount_fen for r in mine if r.status != CommissionStatus.cancelled)
            assert (w.pending_fen + w.available_fen + w.withdrawing_fen + w.withdrawn_fen - w.debt_fen
                    + fees.get(w.user_id, 0)) == earned
        for o in await Order.all():
            commission = sum(r.amount_fen for r in records if r.order_id == o.id)
            platform = o.paid_fen - o.refunded_fen - commission
            assert platform >= 0, (o.id, o.paid_fen, o.refunded_fen, commission)
        for r in records:
            if r.status == CommissionStatus.cancelled:
                assert r.amount_fen == 0
            assert 0 <= r.amount_fen <= r.original_amount_fen


async def test_distribution_state_machine(rt, client):
    DistributionMachine.loop = asyncio.get_running_loop()
    DistributionMachine.rt = rt
    DistributionMachine.client = client
    await asyncio.to_thread(
        run_state_machine_as_test, DistributionMachine,
        settings=hsettings(max_examples=25, stateful_step_count=30, deadline=None,
                           suppress_health_check=list(HealthCheck)))
