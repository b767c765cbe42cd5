"""One WeChat transfer call per withdrawal start (the after-commit start and the outbox are one
delivery), and a transfer the user has not confirmed is cancelled at WeChat when the wallet
goes into debt first."""

from __future__ import annotations

import asyncio

from huituan.core.sandbox.state import SANDBOX_KEY
from huituan.models.outbox import OutboxMessage, OutboxStatus
from huituan.models.wallet import Withdrawal, WithdrawalStatus
from huituan.services import outbox, withdrawals
from huituan.services.wallet.ledger import get_balances
from huituan.services.wallet.verify import verify_ledger
from tests.factories import make_user
from tests.services.commission.helpers import fund, refund, set_settings

TRANSFER_PATH = "/v3/fund-app/mch-transfer/transfer-bills"


def transfer_calls(client, out_bill_no: str | None = None) -> int:
    requests = client.server.app[SANDBOX_KEY].pay_requests
    return sum(1 for r in requests if r["method"] == "POST" and r["path"] == TRANSFER_PATH
               and (out_bill_no is None or r["body"].get("out_bill_no") == out_bill_no))


async def test_an_auto_approved_withdrawal_calls_wechat_once(rt, client):
    p = await make_user()
    await fund(rt, p, 5_000)
    before = transfer_calls(client)
    w = await withdrawals.request_withdrawal(rt, p.id, 3_000)
    assert w["status"] == "paying" and w["package_info"]  # started at once, answer included
    # Everything that could start it again runs: the outbox (kicked and swept) and the poll job.
    outbox.kick(rt)
    await outbox.wait_idle()
    await outbox.deliver_pending(rt)
    await withdrawals.poll_transfers(rt)
    assert transfer_calls(client, w["out_bill_no"]) == 1
    assert transfer_calls(client) - before == 1
    msg = await OutboxMessage.get(dedupe_key=withdrawals.transfer_key(w["id"]))
    assert msg.status == OutboxStatus.sent and msg.attempts == 1


async def test_an_operator_approval_calls_wechat_once_even_with_sweeps_running(rt, client):
    await set_settings(withdraw_auto_approve_fen=0)
    p = await make_user()
    await fund(rt, p, 5_000)
    ws = [await withdrawals.request_withdrawal(rt, p.id, 1_000) for _ in range(3)]
    await asyncio.gather(*[withdrawals.review_withdrawal(rt, w["id"], True, operator_id=1) for w in ws],
                         outbox.deliver_pending(rt), withdrawals.poll_transfers(rt), outbox.deliver_pending(rt))
    await outbox.wait_idle()
    for w in ws:
        assert transfer_calls(client, w["out_bill_no"]) == 1
        assert (await Withdrawal.get(id=w["id"])).status == WithdrawalStatus.paying


async def test_a_transfer_not_yet_confirmed_is_cancelled_when_the_wallet_goes_into_debt(rt, client):
    p = await make_user()
    order = await fund(rt, p, 5_000)
    w = await withdrawals.request_withdrawal(rt, p.id, 5_000)
    assert w["transfer_state"] == "WAIT_USER_CONFIRM"
    # The order that earned the commission is refunded: the clawback finds nothing available.
    await refund(rt, order)
    await outbox.wait_idle()
    for _ in range(100):  # WeChat's CANCELLED notify arrives
        if (await Withdrawal.get(id=w["id"])).status != WithdrawalStatus.paying:
            break
        await asyncio.sleep(0.02)
    got = await Withdrawal.get(id=w["id"])
    assert got.status == WithdrawalStatus.failed and got.transfer_state == "CANCELLED"
    assert "欠款" in got.fail_reason
    state = await (await client.get("/sandbox/pay/state")).json()
    assert state["transfers"][w["out_bill_no"]]["state"] == "CANCELLED"
    resp = await client.post(f"/sandbox/pay/transfers/{w['out_bill_no']}/confirm", json={})
    assert resp.status == 409  # too late for the user to take it
    b = await get_balances(p.id)
    # the 5,000 came back and paid the 5,000 of debt
    assert (b.available, b.withdrawing, b.withdrawn, b.debt) == (0, 0, 0, 0)
    assert await verify_ledger() == []


async def test_a_transfer_the_user_confirmed_first_stays_paid(rt, client):
    p = await make_user()
    order = await fund(rt, p, 5_000)
    w = await withdrawals.request_withdrawal(rt, p.id, 5_000)
    await client.post(f"/sandbox/pay/transfers/{w['out_bill_no']}/confirm", json={})
    await refund(rt, order)
    await outbox.wait_idle()
    got = await Withdrawal.get(id=w["id"])
    assert got.status == WithdrawalStatus.paid
    b = await get_balances(p.id)
    assert (b.withdrawn, b.debt) == (5_000, 5_000)  # the debt stays, netted against later income
    assert not await OutboxMessage.filter(kind="transfer_cancel").exists()
    assert await verify_ledger() == []
