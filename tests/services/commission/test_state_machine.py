"""A hypothesis state machine over the whole distribution domain.

Random sequences of bind, pay, partial and full refund, complete, settle, withdraw, payout
success and failure across several users. Orders, payments, completions and refunds go through
the real order services and the WeChat Pay sandbox (tests/services/commission/helpers.py).
After every step: the ledger verifies, no bucket is negative, and every fen consumers paid is
accounted to a promoter, the platform or a refund.

Every rule must really do its work, not just be drawn: each run starts seeded with something
for every rule (``seed``), withdrawals draw their amount from the available balance, the
preconditions skip rules with nothing to work on, and every rule records what it did
(``hypothesis.event``, ``--hypothesis-show-statistics``); the test fails when one never did.

The machine runs in a worker thread (hypothesis' stateful runner is synchronous); each rule
hands its coroutine to the test's event loop, where the app, the database and the sandbox live.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from hypothesis import HealthCheck, event
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from huituan.core.errors import HuituanError
from huituan.core.sandbox import pay as sandbox_pay
from huituan.core.sandbox.state import SANDBOX_KEY
from huituan.models.commission import CommissionRecord, CommissionStatus
from huituan.models.order import ActivityType, Order, OrderItem, OrderStatus
from huituan.models.wallet import Wallet, Withdrawal, WithdrawalStatus
from huituan.services import outbox, withdrawals
from huituan.services.commission.settlement import settle_commissions
from huituan.services.orders.refunds import REFUNDABLE
from huituan.services.referrals import bind_user
from huituan.services.wallet.verify import verify_ledger
from tests.conftest import wipe_state
from tests.factories import make_user
from tests.services.commission.helpers import complete, now, paid_order, refund, set_settings

N_USERS = 4
FIRED: Counter[str] = Counter()  # what the rules really did, over the whole run
MUST_FIRE = ("bind", "pay", "partial refund", "full refund", "complete", "settle: some settled", "withdraw",
             "withdraw: refused past the balance", "payout: confirmed", "payout: failed")


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
        self.seen = {"available": False, "paying": False, "completable": False}
        self.payouts = 0
        self.clock = 0  # days the settlement job has advanced

    async def _setup(self):
        await outbox.wait_idle()  # the previous run's deliveries end before its rows go
        await wipe_state(self.rt)
        # Ids restart with the tables, so bill and refund numbers come again: WeChat (the sandbox)
        # forgets the previous run too, or it refuses "WD0000000001" as a reused number.
        pay = self.client.server.app[SANDBOX_KEY]
        for remembered in (pay.orders, pay.prepay_index, pay.refunds, pay.transfers):
            remembered.clear()
        await set_settings(withdraw_min_fen=1, withdraw_fee_bp=150, withdraw_daily_count=10_000,
                           withdraw_daily_amount_fen=10**12, withdraw_auto_approve_fen=10**12,
                           withdraw_real_name_threshold_fen=10**12, self_purchase_rebate=True,
                           activity_flash_sale=False, freeze_days=7)
        return [(await make_user()).id for _ in range(N_USERS)]

    # -- rules ---------------------------------------------------------------------------

    @rule(u=st.integers(0, N_USERS - 1), p=st.integers(0, N_USERS - 1))
    def bind(self, u, p):
        self.run(bind_user(self.users[u], self.users[p]))
        self.fire("bind")

    @rule(b=st.integers(0, N_USERS - 1),
          lines=st.lists(st.tuples(st.integers(1, 10_000), st.integers(1, 3)), min_size=1, max_size=3),
          activity=st.sampled_from([ActivityType.normal, ActivityType.group_buy, ActivityType.flash_sale]))
    def pay(self, b, lines, activity):
        # lines: (unit price, quantity); the SKU price is the unit price
        order = self.run(paid_order(self.rt, self.users[b], [(p * q, q) for p, q in lines], activity=activity))
        self.orders.append(order.id)
        self.fire("pay")

    @initialize()
    def seed(self):
        """Every run starts with work for every rule, so each of them really runs whenever it is
        drawn: user 0 holds available commission (a completed, settled self-purchase) with one
        withdrawal of part of it under way (payout), a completed order whose commission the
        next settle releases (settle), and a paid order (complete, refunds)."""

        async def go():
            settled = await paid_order(self.rt, self.users[0], [(5_000, 1)])
            await complete(settled.id)
            self.clock = 8
            await settle_commissions(now=now() + timedelta(days=self.clock))
            available = await self._available()
            assert available, "the seed order earned no available commission"
            await withdrawals.request_withdrawal(self.rt, self.users[0], max(available[self.users[0]] // 3, 1))
            frozen = await paid_order(self.rt, self.users[0], [(3_000, 1)])
            await complete(frozen.id)  # settles at real now + 7 days, before the next settle's clock
            paid = await paid_order(self.rt, self.users[1], [(2_000, 2)])
            return [settled.id, frozen.id, paid.id]

        self.orders.extend(self.run(go()))

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
        self.fire("partial refund")

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def full_refund(self, data):
        oid = data.draw(st.sampled_from(self.orders))
        if self.run(self._refundable_items(oid)):
            self.run(refund(self.rt, oid))
            self.fire("full refund")

    @precondition(lambda self: self.seen["completable"])
    @rule(data=st.data())
    def complete(self, data):
        completable = self.run(Order.filter(id__in=self.orders, status__in=(OrderStatus.paid, OrderStatus.shipped))
                               .order_by("id").values_list("id", flat=True))
        if not completable:
            self.fire("complete: nothing to complete")
            return
        self.run(complete(data.draw(st.sampled_from(completable))))
        self.fire("complete")

    @rule(days=st.sampled_from([1, 8]))
    def settle(self, days):
        self.clock += days
        settled = self.run(settle_commissions(now=now() + timedelta(days=self.clock), batch=3))
        self.fire("settle: some settled" if settled else "settle")

    @precondition(lambda self: self.seen["available"])
    @rule(data=st.data())
    def withdraw(self, data):
        """Withdraw an amount drawn from what a user really has available (1..available), so the
        request goes through; now and then one past it, which must be refused (409/422)."""
        wallets = self.run(self._available())
        if not wallets:
            self.fire("withdraw: nothing available")
            return
        user_id, available = data.draw(st.sampled_from(sorted(wallets.items())))
        over = data.draw(st.integers(0, 9)) == 0
        amount = available + data.draw(st.integers(1, 100)) if over else data.draw(st.integers(1, available))

        async def go():
            try:
                await withdrawals.request_withdrawal(self.rt, user_id, amount)
            except HuituanError as err:
                assert over and err.status in (409, 422), (amount, available, err.code)
                return "withdraw: refused past the balance"
            assert not over, (amount, available)
            return "withdraw"

        self.fire(self.run(go()))

    async def _available(self) -> dict[int, int]:
        return dict(await Wallet.filter(user_id__in=self.users, available_fen__gt=0)
                    .values_list("user_id", "available_fen"))

    def _payout(self, data, ok: bool) -> None:
        paying = self.run(Withdrawal.filter(status=WithdrawalStatus.paying).values_list("out_bill_no", flat=True))
        if not paying:
            self.fire("payout: nothing paying")
            return
        no = data.draw(st.sampled_from(sorted(paying)))

        async def go():
            resp = await self.client.post(f"/sandbox/pay/transfers/{no}/{'confirm' if ok else 'fail'}", json={})
            assert resp.status == 200, await resp.text()

        self.run(go())
        self.fire("payout: confirmed" if ok else "payout: failed")

    @precondition(lambda self: self.seen["paying"])
    @rule(data=st.data())
    def payout(self, data):
        # The user confirms the first payout of a run; later ones confirm or fail at random.
        self._payout(data, data.draw(st.booleans()) if self.payouts else True)
        self.payouts += 1

    def fire(self, what: str) -> None:
        """Count what a rule really did (hypothesis statistics and the end-of-run assertion)."""
        event(what)
        FIRED[what] += 1

    # -- invariants ----------------------------------------------------------------------

    @invariant()
    def observe(self):
        """What the rules can work on now (read once per step; the preconditions use it, so
        hypothesis does not spend steps on a withdraw with nothing available)."""
        self.seen = self.run(self._observe())

    async def _observe(self) -> dict[str, bool]:
        await self._at_rest()
        return {
            "available": bool(await self._available()),
            "paying": await Withdrawal.filter(status=WithdrawalStatus.paying).exists(),
            "completable": await Order.filter(id__in=self.orders or [0],
                                              status__in=(OrderStatus.paid, OrderStatus.shipped)).exists(),
        }

    @invariant()
    def books_balance(self):
        self.run(self._check())

    async def _at_rest(self):
        """Let the background work end (outbox deliveries, notifies the sandbox sends after it
        answered): the invariants are about the books at rest, not halfway through a delivery."""
        for _ in range(100):
            await outbox.wait_idle()
            pending = list(sandbox_pay._background)
            if not pending:
                return
            await asyncio.gather(*pending, return_exceptions=True)

    async def _check(self):
        await self._at_rest()
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
    FIRED.clear()
    await asyncio.to_thread(
        run_state_machine_as_test, DistributionMachine,
        settings=hsettings(max_examples=25, stateful_step_count=30, deadline=None, derandomize=True,
                           database=None, suppress_health_check=list(HealthCheck)))
    # Every rule did its thing at least once: withdrawals went through and were paid or failed.
    missing = [what for what in MUST_FIRE if FIRED[what] == 0]
    assert not missing, f"rules that never really ran: {missing} (fired: {dict(FIRED)})"
