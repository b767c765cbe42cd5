"""Withdrawals: rules, the transfer through the sandbox, notify and poll, concurrency."""

from __future__ import annotations

import asyncio
from datetime import UTC

import pytest

from huituan.core.errors import NotFound, ValidationFailed
from huituan.models.wallet import Withdrawal, WithdrawalStatus
from huituan.services import outbox, withdrawals
from huituan.services.wallet.ledger import InsufficientBalance, get_balances
from huituan.services.wallet.verify import verify_ledger
from tests.factories import make_user
from tests.services.commission.helpers import fund, refund, set_settings


async def test_small_withdrawal_is_auto_approved_and_returns_package_info(rt, client):
    p = await make_user()
    await fund(rt, p, 5_000)
    w = await withdrawals.request_withdrawal(rt, p.id, 3_000)
    assert w["status"] == "paying" and w["package_info"] and w["transfer_state"] == "WAIT_USER_CONFIRM"
    b = await get_balances(p.id)
    assert (b.available, b.withdrawing) == (2_000, 3_000)
    # when the user confirms in WeChat, the sandbox sends the signed notify
    resp = await client.post(f"/sandbox/pay/transfers/{w['out_bill_no']}/confirm", json={})
    assert resp.status == 200, await resp.text()
    got = await withdrawals.get_withdrawal(p.id, w["id"])
    assert got["status"] == "paid"
    b = await get_balances(p.id)
    assert (b.available, b.withdrawing, b.withdrawn) == (2_000, 0, 3_000)
    assert await verify_ledger() == []


async def test_fee_and_failure_returns_money(rt, client):
    await set_settings(withdraw_fee_bp=100)
    p = await make_user()
    await fund(rt, p, 10_000)
    w = await withdrawals.request_withdrawal(rt, p.id, 10_000)
    assert (w["fee_fen"], w["net_fen"]) == (100, 9_900)
    resp = await client.post(f"/sandbox/pay/transfers/{w['out_bill_no']}/fail", json={})
    assert resp.status == 200
    assert (await withdrawals.get_withdrawal(p.id, w["id"]))["status"] == "failed"
    b = await get_balances(p.id)
    assert (b.available, b.withdrawing, b.withdrawn) == (10_000, 0, 0)
    # and a successful one keeps the fee with the platform
    w = await withdrawals.request_withdrawal(rt, p.id, 10_000)
    await client.post(f"/sandbox/pay/transfers/{w['out_bill_no']}/confirm", json={})
    b = await get_balances(p.id)
    assert (b.available, b.withdrawing, b.withdrawn) == (0, 0, 9_900)
    assert await verify_ledger() == []


async def test_operator_review_above_threshold(rt, client):
    await set_settings(withdraw_auto_approve_fen=1_000)
    p = await make_user()
    await fund(rt, p, 5_000)
    w = await withdrawals.request_withdrawal(rt, p.id, 2_000)
    assert w["status"] == "requested" and w["package_info"] is None
    w2 = await withdrawals.request_withdrawal(rt, p.id, 3_000)
    rejected = await withdrawals.review_withdrawal(rt, w2["id"], False, operator_id=1, note="资料不符")
    assert rejected["status"] == "rejected"
    approved = await withdrawals.review_withdrawal(rt, w["id"], True, operator_id=1)
    assert approved["status"] == "paying" and approved["package_info"]
    with pytest.raises(Exception) as exc:
        await withdrawals.review_withdrawal(rt, w["id"], True, operator_id=1)
    assert exc.value.status == 409
    b = await get_balances(p.id)
    assert (b.available, b.withdrawing) == (3_000, 2_000)


async def test_bad_requests_write_nothing(rt):
    await set_settings(withdraw_min_fen=500, withdraw_daily_count=2, withdraw_real_name_threshold_fen=4_000)
    p = await make_user()
    await fund(rt, p, 10_000)
    before = await get_balances(p.id)
    cases = [(100, "", ValidationFailed, "amount_fen"), (20_000, "张三", InsufficientBalance, "amount_fen"),
             (5_000, "", ValidationFailed, "real_name")]
    for amount, name, err, field in cases:
        with pytest.raises(err) as exc:
            await withdrawals.request_withdrawal(rt, p.id, amount, name)
        assert exc.value.details.get("field") == field
    with pytest.raises(ValidationFailed):
        await withdrawals.request_withdrawal(rt, p.id, "100")  # type: ignore[arg-type]
    assert await Withdrawal.all().count() == 0
    assert await get_balances(p.id) == before
    await withdrawals.request_withdrawal(rt, p.id, 500)
    await withdrawals.request_withdrawal(rt, p.id, 500)
    with pytest.raises(withdrawals.DailyLimitReached):
        await withdrawals.request_withdrawal(rt, p.id, 500)
    other = await make_user()
    w = await Withdrawal.filter(user_id=p.id).first()
    with pytest.raises(NotFound):
        await withdrawals.get_withdrawal(other.id, w.id)


async def test_debt_blocks_withdrawals(rt):
    p = await make_user()
    order = await fund(rt, p, 1_000)
    await set_settings(withdraw_auto_approve_fen=0)
    await withdrawals.request_withdrawal(rt, p.id, 1_000)
    await refund(rt, order)  # clawback after settlement: nothing available -> debt
    await fund(rt, p, 500)  # pays down part of the debt
    b = await get_balances(p.id)
    assert (b.debt, b.available) == (500, 0)
    await fund(rt, p, 800)
    assert (await get_balances(p.id)).debt == 0
    # while debt remains nothing can be withdrawn
    p2 = await make_user()
    o2 = await fund(rt, p2, 1_000)
    await withdrawals.request_withdrawal(rt, p2.id, 1_000)
    await refund(rt, o2)
    await fund(rt, p2, 400)
    assert (await get_balances(p2.id)).debt == 600
    with pytest.raises(withdrawals.WalletInDebt):
        await withdrawals.request_withdrawal(rt, p2.id, 100)
    assert await verify_ledger() == []


async def test_poll_finishes_transfers_when_the_notify_is_lost(rt, client, settings):
    p = await make_user()
    await fund(rt, p, 2_000)
    w = await withdrawals.request_withdrawal(rt, p.id, 2_000)
    # the transfer's outbox copy (kicked by the request) re-sends the bill: let it finish first,
    # or it races the confirm below and finishes the withdrawal itself (then the poll finds 0)
    await outbox.wait_idle()
    # given the user confirms but the notify never reaches us (WeChat side: no notify URL)
    from huituan.core.sandbox import SANDBOX_KEY
    client.server.app[SANDBOX_KEY].transfers[w["out_bill_no"]]["notify_url"] = None
    resp = await client.post(f"/sandbox/pay/transfers/{w['out_bill_no']}/confirm", json={})
    assert resp.status == 200
    assert (await withdrawals.get_withdrawal(p.id, w["id"]))["status"] == "paying"
    assert await withdrawals.poll_transfers(rt) == 1
    assert (await withdrawals.get_withdrawal(p.id, w["id"]))["status"] == "paid"
    assert await withdrawals.poll_transfers(rt) == 0
    assert await verify_ledger() == []


@pytest.mark.parametrize("field,value,stored", [
    ("state", "S" * 25, None), ("state", 7, None), ("transfer_bill_no", "1" * 65, None),
    ("fail_reason", "原因" * 150, "原因" * 100),  # a reason is cut to its column, never holds the result back
])
async def test_a_bill_answer_our_columns_cannot_hold_is_refused_and_changes_nothing(rt, client, field, value,
                                                                                     stored):
    """The poll's answer about a bill is held to our columns like the notify: a state or bill
    number they cannot hold is WeChat's malformed answer (logged, asked again next round), not
    a database error that stops the job; PostgreSQL enforces the lengths."""
    p = await make_user()
    await fund(rt, p, 2_000)
    w = await withdrawals.request_withdrawal(rt, p.id, 2_000)
    await outbox.wait_idle()
    from huituan.core.sandbox import SANDBOX_KEY
    bill = client.server.app[SANDBOX_KEY].transfers[w["out_bill_no"]]
    before = await Withdrawal.get(id=w["id"])
    bill.update(state="FAIL", fail_reason="X") if field == "fail_reason" else None
    bill[field] = value
    done = await withdrawals.poll_transfers(rt)
    after = await Withdrawal.get(id=w["id"])
    if stored is None:
        assert done == 0
        assert (after.status, after.transfer_state, after.transfer_bill_no) == (
            "paying", before.transfer_state, before.transfer_bill_no)
    else:
        assert done == 1 and after.status == "failed" and after.fail_reason == stored
        assert (await get_balances(p.id)).available == 2_000
    assert await verify_ledger() == []


@pytest.mark.postgres
async def test_twenty_concurrent_withdrawals_never_overdraw(rt):
    await set_settings(withdraw_daily_count=100, withdraw_auto_approve_fen=0)
    p = await make_user()
    await fund(rt, p, 10_000)
    results = await asyncio.gather(*[withdrawals.request_withdrawal(rt, p.id, 1_000) for _ in range(20)],
                                   return_exceptions=True)
    ok = [r for r in results if isinstance(r, dict)]
    assert len(ok) == 10
    assert all(isinstance(r, InsufficientBalance) for r in results if not isinstance(r, dict))
    b = await get_balances(p.id)
    assert (b.available, b.withdrawing) == (0, 10_000)
    assert await verify_ledger() == []


@pytest.mark.postgres
async def test_the_same_transfer_notify_fifty_times_pays_once(rt, client):
    p = await make_user()
    await fund(rt, p, 3_000)
    w = await withdrawals.request_withdrawal(rt, p.id, 3_000)
    resp = await client.post(f"/sandbox/pay/transfers/{w['out_bill_no']}/confirm", json={})
    assert resp.status == 200
    results = await asyncio.gather(*[client.post(f"/sandbox/pay/transfers/{w['out_bill_no']}/confirm", json={})
                                     for _ in range(49)])
    assert all(r.status == 200 for r in results)
    b = await get_balances(p.id)
    assert (b.withdrawing, b.withdrawn) == (0, 3_000)
    assert await Withdrawal.filter(status=WithdrawalStatus.paid).count() == 1
    assert await verify_ledger() == []


async def test_a_transfer_wechat_refuses_fails_and_gives_the_money_back(rt, client):
    """No retry can change WeChat's NO_AUTH: the withdrawal ends failed (not stuck in paying)
    and the held money returns to available."""
    p = await make_user(openid="o-refused-payee-1")
    await fund(rt, p, 5_000)
    w = await withdrawals.request_withdrawal(rt, p.id, 3_000)
    assert w["status"] == "failed" and "拒绝" in w["fail_reason"]
    b = await get_balances(p.id)
    assert (b.available, b.withdrawing, b.withdrawn) == (5_000, 0, 0)
    assert await withdrawals.poll_transfers(rt) == 0  # nothing left to retry
    assert await verify_ledger() == []


async def test_real_name_is_required_from_wechats_limit_whatever_the_setting(rt):
    await set_settings(withdraw_real_name_threshold_fen=1_000_000, withdraw_auto_approve_fen=10_000_000,
                       withdraw_daily_amount_fen=10_000_000)
    p = await make_user()
    await fund(rt, p, 250_000)
    with pytest.raises(ValidationFailed) as err:
        await withdrawals.request_withdrawal(rt, p.id, 250_000)
    assert err.value.details["field"] == "real_name"
    assert (await get_balances(p.id)).available == 250_000


async def test_operator_cannot_approve_while_the_wallet_is_in_debt(rt):
    """A clawback after the request leaves debt; paying the held money out would leave the
    platform owed. Approval is refused; rejecting returns the money, which pays the debt."""
    await set_settings(withdraw_auto_approve_fen=1_000)
    p = await make_user()
    order = await fund(rt, p, 10_000)
    w = await withdrawals.request_withdrawal(rt, p.id, 10_000)
    assert w["status"] == "requested"
    await refund(rt, order)  # after settlement: clawback, available 0 -> debt 10,000
    assert (await get_balances(p.id)).debt == 10_000
    with pytest.raises(withdrawals.WalletInDebt):
        await withdrawals.review_withdrawal(rt, w["id"], True, operator_id=1)
    assert (await withdrawals.get_withdrawal(p.id, w["id"]))["status"] == "requested"
    await withdrawals.review_withdrawal(rt, w["id"], False, operator_id=1, note="账户有欠款")
    b = await get_balances(p.id)
    assert (b.available, b.withdrawing, b.debt) == (0, 0, 0)
    assert await verify_ledger() == []


async def test_an_approved_withdrawal_is_returned_when_debt_appears_before_it_starts(rt):
    await set_settings(withdraw_auto_approve_fen=1_000)
    p = await make_user()
    order = await fund(rt, p, 10_000)
    w = await withdrawals.request_withdrawal(rt, p.id, 10_000)
    # approved, but the transfer has not started yet (as when WeChat was unreachable)
    await Withdrawal.filter(id=w["id"]).update(status=WithdrawalStatus.approved)
    await refund(rt, order)
    got = await withdrawals.start_transfer(rt, w["id"])
    assert got["status"] == "failed" and "欠款" in got["fail_reason"]
    b = await get_balances(p.id)
    assert (b.available, b.withdrawing, b.debt) == (0, 0, 0)
    assert await verify_ledger() == []


async def test_a_disabled_user_cannot_withdraw(rt):
    from huituan.core.errors import Forbidden
    from huituan.models.user import User

    p = await make_user()
    await fund(rt, p, 5_000)
    await User.filter(id=p.id).update(is_disabled=True)
    with pytest.raises(Forbidden):
        await withdrawals.request_withdrawal(rt, p.id, 3_000)
    b = await get_balances(p.id)
    assert (b.available, b.withdrawing) == (5_000, 0)
    assert await Withdrawal.filter(user_id=p.id).count() == 0


async def test_daily_count_holds_just_after_midnight_china_time(rt, monkeypatch):
    """The China day starts at 16:00 UTC: a withdrawal at 00:05 Beijing time still counts
    (SQLite compares stored timestamps as text, so the bound must be in UTC)."""
    from datetime import datetime

    await set_settings(withdraw_daily_count=1)
    p = await make_user()
    await fund(rt, p, 5_000)
    just_after_midnight = datetime(2026, 11, 21, 16, 5, tzinfo=UTC)
    monkeypatch.setattr(withdrawals, "_now", lambda: just_after_midnight)
    first = await withdrawals.request_withdrawal(rt, p.id, 1_000)
    await Withdrawal.filter(id=first["id"]).update(created_at=just_after_midnight)
    with pytest.raises(withdrawals.DailyLimitReached):
        await withdrawals.request_withdrawal(rt, p.id, 1_000)


@pytest.mark.postgres
async def test_an_approval_and_a_rejection_at_once_never_deadlock(rt, client):
    """Attacker pass, session 8: approve locked the wallet then the withdrawal, reject the
    withdrawal then the wallet; at once they deadlocked (a 500). One wins, the other is told."""
    import asyncio

    from huituan.core.errors import HuituanError

    await set_settings(withdraw_auto_approve_fen=0)
    outcomes = {"approved": 0, "rejected": 0}
    results_seen: list = []
    for _ in range(6):
        p = await make_user()
        await fund(rt, p, 5_000)
        w = await withdrawals.request_withdrawal(rt, p.id, 1_000)
        reviews = [withdrawals.review_withdrawal(rt, w["id"], True, operator_id=1),
                   withdrawals.review_withdrawal(rt, w["id"], False, operator_id=1, note="不符")]
        if len(results_seen) % 2:
            reviews.reverse()  # each side starts first in half the rounds
        results = await asyncio.gather(*reviews, return_exceptions=True)
        results_seen.append(results)
        wins = [r for r in results if isinstance(r, dict)]
        losses = [r for r in results if not isinstance(r, dict)]
        assert len(wins) == 1 and len(losses) == 1, results
        assert isinstance(losses[0], HuituanError) and losses[0].code == "withdrawal_already_reviewed", losses
        outcomes["approved" if wins[0]["status"] != "rejected" else "rejected"] += 1
    assert await verify_ledger() == []
    # Both sides won some rounds; without the wallet-first order this test deadlocked (checked by
    # reverting it), which is what shows the two reviews' transactions overlap.
    assert outcomes["approved"] and outcomes["rejected"], outcomes
