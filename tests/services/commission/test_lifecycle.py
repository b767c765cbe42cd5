"""Commission from payment to settlement, refunds before and after, debt."""

from __future__ import annotations

from datetime import timedelta

from huituan.models.commission import CommissionMode, CommissionRecord, CommissionStatus, ProductCommissionRule
from huituan.models.order import ActivityType, OrderItem, Payment, PaymentStatus, Refund
from huituan.models.promoter import Promoter, PromoterLevel, PromoterStatus
from huituan.models.wallet import WalletEntry
from huituan.services import outbox
from huituan.services.commission.settlement import settle_commissions
from huituan.services.orders.payments import handle_pay_notify
from huituan.services.wallet.ledger import get_balances
from huituan.services.wallet.verify import verify_ledger
from tests.factories import make_product, make_user
from tests.services.commission.helpers import chain, complete, now, paid_order, refund, set_settings


async def records(order_id):
    return await CommissionRecord.filter(order_id=order_id).order_by("level", "id")


async def test_payment_writes_two_levels_floored_and_pending(rt):
    # given grandparent <- parent <- buyer at the default 10 % / 5 %
    gp, parent, buyer = await chain(3)
    # when the buyer pays 99.99 yuan for one line
    order = await paid_order(rt, buyer, [(9_999, 1)])
    # then level 1 gets floor(999.9) and level 2 floor(499.95), both pending
    recs = await records(order.id)
    assert [(r.beneficiary_id, r.level, r.amount_fen, r.status) for r in recs] == [
        (parent.id, 1, 999, CommissionStatus.pending), (gp.id, 2, 499, CommissionStatus.pending)]
    assert (await get_balances(parent.id)).pending == 999
    assert (await get_balances(gp.id)).pending == 499
    assert await verify_ledger() == []


async def test_never_more_than_two_levels_and_no_commission_without_referrer(rt):
    users = await chain(4)
    order = await paid_order(rt, users[3])
    assert {r.beneficiary_id for r in await records(order.id)} == {users[2].id, users[1].id}
    lonely = await make_user()
    assert await records((await paid_order(rt, lonely)).id) == []


async def test_product_rules_fixed_percent_none_and_activity_switch(rt):
    gp, parent, buyer = await chain(3)
    p7, p8, p9 = [await make_product(skus=[]) for _ in range(3)]
    await ProductCommissionRule.create(product_id=p7.id, mode=CommissionMode.fixed, level1_value=150, level2_value=20)
    await ProductCommissionRule.create(product_id=p8.id, mode=CommissionMode.percent, level1_value=2000,
                                       level2_value=0)
    await ProductCommissionRule.create(product_id=p9.id, mode=CommissionMode.none)
    o7 = await paid_order(rt, buyer, [(2400, 3)], product_id=p7.id)
    assert [r.amount_fen for r in await records(o7.id)] == [450, 60]  # 510 fen: under the 30 % cap (720)
    o8 = await paid_order(rt, buyer, [(1001, 1)], product_id=p8.id)
    assert [r.amount_fen for r in await records(o8.id)] == [200]  # level 2 at 0 bp writes nothing
    o9 = await paid_order(rt, buyer, [(1000, 1)], product_id=p9.id)
    assert await records(o9.id) == []
    await set_settings(activity_flash_sale=False)
    of = await paid_order(rt, buyer, activity=ActivityType.flash_sale)
    assert await records(of.id) == []


async def test_the_order_cap_applies_after_product_rules_floored_to_the_fen(rt):
    """Both levels together never earn more than commission_cap_bp (default 30 %) of what was
    paid for the goods: a rule of 150 + 20 fen per unit on a 1,200 fen line (510 fen, 42.5 %)
    is cut to 360 fen in proportion, each part floored (the fen of rounding stay with the
    platform); the same rules under the cap are untouched."""
    gp, parent, buyer = await chain(3)
    assert (await set_settings()).commission_cap_bp == 3000
    p7 = await make_product(skus=[])
    await ProductCommissionRule.create(product_id=p7.id, mode=CommissionMode.fixed, level1_value=150, level2_value=20)
    o = await paid_order(rt, buyer, [(1200, 3)], product_id=p7.id)
    assert [r.amount_fen for r in await records(o.id)] == [450 * 360 // 510, 60 * 360 // 510]  # 317, 42
    assert sum(r.original_amount_fen for r in await records(o.id)) <= 360
    p8 = await make_product(skus=[])
    await ProductCommissionRule.create(product_id=p8.id, mode=CommissionMode.percent, level1_value=9000,
                                       level2_value=1000)
    o8 = await paid_order(rt, buyer, [(1001, 1), (333, 1)], product_id=p8.id)
    recs = await records(o8.id)
    assert sum(r.amount_fen for r in recs) <= 1334 * 3000 // 10_000 == 400
    await set_settings(commission_cap_bp=10_000)
    o9 = await paid_order(rt, buyer, [(1200, 3)], product_id=p7.id)
    assert [r.amount_fen for r in await records(o9.id)] == [450, 60]
    await set_settings(commission_cap_bp=0)
    assert await records((await paid_order(rt, buyer, [(1200, 3)], product_id=p7.id)).id) == []
    assert await verify_ledger() == []


async def test_level_rates_override_and_self_purchase(rt):
    gp, parent, buyer = await chain(3)
    lvl = await PromoterLevel.create(name="金牌", rank=1, level1_bp=2000, level2_bp=1000)
    await Promoter.create(user_id=parent.id, status=PromoterStatus.approved, level_id=lvl.id)
    await set_settings(self_purchase_rebate=True)
    # self purchase: parent buys for themselves at their level-1 rate; gp is level 2
    order = await paid_order(rt, parent, [(10_000, 1)])
    recs = await records(order.id)
    assert [(r.beneficiary_id, r.amount_fen, r.self_purchase) for r in recs] == [
        (parent.id, 2000, True), (gp.id, 500, False)]


async def test_settle_after_completion_plus_freeze_days_only(rt):
    parent, buyer = (await chain(2))
    order = await paid_order(rt, buyer)
    assert await settle_commissions(now=now() + timedelta(days=30)) == 0  # not completed yet
    await complete(order)
    assert await settle_commissions(now=now() + timedelta(days=6)) == 0
    assert await settle_commissions(now=now() + timedelta(days=7, seconds=1)) == 1
    assert await settle_commissions(now=now() + timedelta(days=8)) == 0  # rerun is a no-op
    b = await get_balances(parent.id)
    assert (b.pending, b.available) == (0, 1000)
    assert await verify_ledger() == []


async def test_partial_refund_before_settlement_reduces_proportionally(rt):
    parent, buyer = await chain(2)
    order = await paid_order(rt, buyer, [(10_000, 4)])
    item = await OrderItem.get(order_id=order.id)
    await refund(rt, order, [(item.id, 1, 2_500)])
    rec = (await records(order.id))[0]
    assert (rec.amount_fen, rec.status) == (750, CommissionStatus.pending)
    await refund(rt, order, [(item.id, 3, 7_500)])
    rec = (await records(order.id))[0]
    assert (rec.amount_fen, rec.status) == (0, CommissionStatus.cancelled)
    assert (await get_balances(parent.id)).pending == 0
    assert await verify_ledger() == []


async def test_full_refund_before_settlement_cancels(rt):
    gp, parent, buyer = await chain(3)
    order = await paid_order(rt, buyer)
    await complete(order)
    await refund(rt, order)
    assert {r.status for r in await records(order.id)} == {CommissionStatus.cancelled}
    assert await settle_commissions(now=now() + timedelta(days=30)) == 0
    assert (await get_balances(parent.id)).pending == 0


async def test_clawback_after_settlement_becomes_debt_and_later_income_pays_it(rt):
    parent, buyer = await chain(2)
    o1 = await paid_order(rt, buyer, [(10_000, 1)])
    await complete(o1)
    await settle_commissions(now=now() + timedelta(days=8))
    # the promoter withdraws most of it (held in withdrawing), then the buyer is refunded in full
    from huituan.services.withdrawals import request_withdrawal
    await set_settings(withdraw_auto_approve_fen=0)
    await request_withdrawal(rt, parent.id, 800)
    await refund(rt, o1)
    b = await get_balances(parent.id)
    assert (b.available, b.debt, b.withdrawing) == (0, 800, 800)
    kinds = await WalletEntry.filter(user_id=parent.id, kind__in=["clawback", "clawback_debt"]).values_list(
        "bucket", "amount_fen")
    assert sorted(kinds) == [("available", -200), ("debt", 800)]
    # later income first pays down the debt
    o2 = await paid_order(rt, buyer, [(20_000, 1)])
    await complete(o2)
    await settle_commissions(now=now() + timedelta(days=8))
    b = await get_balances(parent.id)
    assert (b.available, b.debt) == (1200, 0)
    assert await verify_ledger() == []


async def test_level_upgrade_on_completion_changes_later_rates(rt):
    parent, buyer = await chain(2)
    lvl = await PromoterLevel.create(name="银牌", rank=1, level1_bp=1500, level2_bp=800, min_direct_invites=1,
                                     min_team_spend_fen=10_000)
    o1 = await paid_order(rt, buyer, [(10_000, 1)])
    assert (await records(o1.id))[0].amount_fen == 1000  # global 10 %
    await complete(o1)
    assert (await Promoter.get(user_id=parent.id)).level_id == lvl.id
    o2 = await paid_order(rt, buyer, [(10_000, 1)])
    assert (await records(o2.id))[0].amount_fen == 1500


async def test_refund_of_a_duplicate_payment_leaves_the_commission_alone(rt):
    parent, buyer = await chain(2)
    order = await paid_order(rt, buyer, [(10_000, 1)])
    # when WeChat reports a second, different payment of the same order (a verified notify)
    notify = {"event_type": "TRANSACTION.SUCCESS", "resource": {
        "out_trade_no": order.order_no, "transaction_id": "4200000000000000000000000099",
        "trade_state": "SUCCESS", "amount": {"total": order.payable_fen, "payer_total": order.payable_fen},
        "payer": {"openid": "o-second"}}}
    assert await handle_pay_notify(rt, notify) == "late"
    late = await Refund.get(order_id=order.id, automatic=True)
    await outbox.wait_idle()  # the automatic refund reached the sandbox
    async with rt.http.post(f"{rt.settings.base_url()}/sandbox/pay/refunds/{late.refund_no}/complete",
                            json={}) as resp:
        assert resp.status == 200 and (await resp.json())["notify_status"] == 200
    # then the extra money went back, the order is still paid, and so is its commission
    assert (await Refund.get(id=late.id)).status == "succeeded"
    assert await Payment.filter(order_id=order.id, status=PaymentStatus.late).count() == 1
    assert (await OrderItem.get(order_id=order.id)).refunded_fen == 0
    rec = (await records(order.id))[0]
    assert (rec.amount_fen, rec.status) == (1000, CommissionStatus.pending)
    assert (await get_balances(parent.id)).pending == 1000
