"""A payment WeChat Pay confirms for an order we do not have is kept for an operator, once per
transaction id, and resolved by one operator with a note (services/orders/unmatched_payments.py).
Before, it was only an ERROR log line: money taken from a buyer that nobody would see."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from huituan.core.clock import utcnow
from huituan.core.errors import Conflict
from huituan.core.sandbox import SANDBOX_KEY
from huituan.core.sandbox.notify import build_signed_notify
from huituan.models.order import Order, Payment, Refund, UnmatchedPayment, UnmatchedPaymentStatus
from huituan.models.outbox import OutboxKind, OutboxMessage, OutboxStatus
from huituan.services import outbox
from huituan.services.orders import unmatched_payments
from huituan.services.orders.payments import handle_pay_notify
from tests.miniapp_api.admin.conftest import operator_headers
from tests.services.orders.helpers import pay_resource

UNKNOWN = {"order_no": "202612020000009999999999", "payable_fen": 4990}


async def _signed(client, notify: dict) -> tuple[int, dict]:
    headers, body = build_signed_notify(notify["resource"], notify["event_type"])
    resp = await client.post("/api/v1/pay/notify", headers=headers, data=body)
    return resp.status, await resp.json()


async def test_a_payment_for_no_order_of_ours_is_kept_once_for_an_operator(client, caplog):
    notify = pay_resource(UNKNOWN)
    with caplog.at_level("ERROR", logger="huituan.orders.unmatched_payments"):
        # Signed and encrypted by the sandbox's WeChat Pay: the real verification path.
        assert await _signed(client, notify) == (200, {"code": "SUCCESS"})
    assert "unknown order 202612020000009999999999" in caplog.text
    kept = await UnmatchedPayment.get()
    assert (kept.out_trade_no, kept.transaction_id, kept.amount_fen, kept.payer_openid, kept.status) == (
        UNKNOWN["order_no"], notify["resource"]["transaction_id"], 4990, "o-test", UnmatchedPaymentStatus.open)
    assert kept.notify_payload["amount"]["total"] == 4990
    # WeChat retries until acknowledged: the same transaction is kept once.
    assert await _signed(client, notify) == (200, {"code": "SUCCESS"})
    assert await UnmatchedPayment.all().count() == 1
    # Another payment naming the same unknown order is another row; nothing else was written.
    assert await _signed(client, pay_resource(UNKNOWN, total=1)) == (200, {"code": "SUCCESS"})
    assert await UnmatchedPayment.all().count() == 2
    assert await Order.all().count() == 0 and await Payment.all().count() == 0 and await Refund.all().count() == 0


@pytest.mark.postgres
async def test_concurrent_copies_of_one_unmatched_payment_keep_one_row(rt, monkeypatch):
    notify = pay_resource(UNKNOWN)
    # Observed, not replaced: how many copies found no row and tried to insert (the race). The
    # first to get here waits (up to 2 s) for a second: it has not inserted yet, so the others
    # find no row either, and the UNIQUE key, not the timing of the loop, decides.
    inserts = []
    insert = UnmatchedPayment._create_or_get.__func__
    two_here = asyncio.Event()

    async def counted(cls, *args, **kwargs):
        inserts.append(1)
        if len(inserts) >= 2:
            two_here.set()
        try:
            await asyncio.wait_for(two_here.wait(), 2)
        except TimeoutError:
            pass
        return await insert(cls, *args, **kwargs)

    monkeypatch.setattr(UnmatchedPayment, "_create_or_get", classmethod(counted))
    results = await asyncio.gather(*(handle_pay_notify(rt, notify) for _ in range(8)))
    assert len(inserts) >= 2, inserts  # at least two copies raced to insert: the UNIQUE key decided
    assert sorted(results) == ["duplicate"] * 7 + ["unmatched"]
    assert await UnmatchedPayment.filter(transaction_id=notify["resource"]["transaction_id"]).count() == 1


async def test_an_operator_lists_and_resolves_it_once(client, rt):
    await handle_pay_notify(rt, pay_resource(UNKNOWN))
    await handle_pay_notify(rt, pay_resource(UNKNOWN, total=2))
    admin = await operator_headers(client)
    listed = await (await client.get("/api/admin/v1/unmatched-payments?status=open", headers=admin)).json()
    assert listed["total"] == 2 and [p["amount_fen"] for p in listed["items"]] == [2, 4990]  # newest first
    target = listed["items"][1]["id"]
    url = f"/api/admin/v1/unmatched-payments/{target}/resolve"
    # A note is required: what was done with the money.
    for blank in ("", "   "):
        resp = await client.post(url, json={"note": blank}, headers=admin)
        assert resp.status == 422 and (await resp.json())["details"]["field"] == "note"
    assert (await UnmatchedPayment.get(id=target)).status == UnmatchedPaymentStatus.open
    resp = await client.post(url, json={"note": " 已在商户平台原路退款 "}, headers=admin)
    done = await resp.json()
    assert resp.status == 200, done
    assert done["status"] == "resolved" and done["resolution_note"] == "已在商户平台原路退款"
    assert done["resolved_by"] is not None and done["resolved_at"] is not None
    # Once: a second resolve is 409 and the first note stays.
    again = await client.post(url, json={"note": "再来一次"}, headers=admin)
    assert again.status == 409 and (await again.json())["error"] == "unmatched_payment_resolved"
    assert (await UnmatchedPayment.get(id=target)).resolution_note == "已在商户平台原路退款"
    missing = await client.post("/api/admin/v1/unmatched-payments/999999/resolve", json={"note": "x"}, headers=admin)
    assert missing.status == 404 and (await missing.json())["details"]["field"] == "payment_id"
    still_open = await (await client.get("/api/admin/v1/unmatched-payments?status=open", headers=admin)).json()
    assert [p["amount_fen"] for p in still_open["items"]] == [2]
    # Operators only.
    assert (await client.get("/api/admin/v1/unmatched-payments")).status == 401



async def test_hostile_requests_to_the_unmatched_payment_routes_get_a_4xx_naming_the_field(client, rt):
    await handle_pay_notify(rt, pay_resource(UNKNOWN))
    target = (await UnmatchedPayment.get()).id
    admin = await operator_headers(client)
    for path_id in (str(2**70), "１", "-1", "0", "1e3", "%00"):
        resp = await client.post(f"/api/admin/v1/unmatched-payments/{path_id}/resolve", json={"note": "x"}, headers=admin)
        assert resp.status in (400, 404, 422), (path_id, resp.status)  # 400: NUL in the path, refused at the edge
    url = f"/api/admin/v1/unmatched-payments/{target}/resolve"
    for body, field in (('{"note": "a\\u0000b"}', "note"), ('{"note": "\\ud800"}', "note"),
                        ('{"note": "' + "长" * 201 + '"}', "note"), ('{"note": 1}', "note"),
                        ('{"note": "x", "extra": 1}', "extra"), ("[" * 10_000 + "]" * 10_000, "body"),
                        ('{"note": "x"', "body")):
        resp = await client.post(url, data=body, headers={**admin, "Content-Type": "application/json"})
        answer = await resp.json()
        assert resp.status == 422 and answer["details"]["field"] == field, (body[:40], answer)
    for query, field in (("page=" + "9" * 30, "page"), ("status=bogus", "status"), ("page_size=1000", "page_size"),
                         ("status=open&status=open", "status")):
        resp = await client.get(f"/api/admin/v1/unmatched-payments?{query}", headers=admin)
        assert resp.status == 422 and (await resp.json())["details"]["field"] == field, query
    assert (await UnmatchedPayment.get(id=target)).status == UnmatchedPaymentStatus.open  # nothing half-written


@pytest.mark.postgres
async def test_operators_resolving_at_once_one_wins(rt):
    await handle_pay_notify(rt, pay_resource(UNKNOWN))
    target = (await UnmatchedPayment.get()).id
    answers = await asyncio.gather(*(unmatched_payments.resolve(target, op, f"运营{op}处理") for op in range(1, 9)),
                                   return_exceptions=True)
    won = [a for a in answers if isinstance(a, dict)]
    assert len(won) == 1 and all(isinstance(a, Conflict) for a in answers if not isinstance(a, dict))
    row = await UnmatchedPayment.get(id=target)
    assert (row.resolved_by, row.resolution_note) == (won[0]["resolved_by"], won[0]["resolution_note"])


# -- sent back by its transaction id ---------------------------------------------------------

async def _paid_outside(client, rt, amount_fen: int = 3_300) -> UnmatchedPayment:
    """A bill opened at WeChat Pay under our merchant but not by this service (or whose order was
    lost): the buyer pays it in the sandbox, and its signed notify reaches us for no order."""
    out_trade_no = f"EXT{uuid.uuid4().int % 10**20:020d}"
    prepay_id = await rt.wechat.pay.jsapi_prepay(
        out_trade_no=out_trade_no, description="外部账单", amount_fen=amount_fen, payer_openid="o-outside-payer",
        notify_url=rt.settings.base_url() + "/api/v1/pay/notify", time_expire=utcnow() + timedelta(minutes=30))
    resp = await client.post(f"/sandbox/pay/{prepay_id}/complete", json={})
    assert resp.status == 200 and (await resp.json())["notify_status"] == 200
    return await UnmatchedPayment.get(out_trade_no=out_trade_no)


async def test_an_operator_sends_an_unmatched_payment_back_by_its_transaction_id_once(client, rt):
    kept = await _paid_outside(client, rt)
    admin = await operator_headers(client)
    url = f"/api/admin/v1/unmatched-payments/{kept.id}/refund"
    resp = await client.post(url, json={"note": "核实为重复扣款"}, headers=admin)
    answer = await resp.json()
    assert resp.status == 200, answer
    assert answer["status"] == "refunding" and answer["refund_no"] == f"UP{kept.id:012d}R1"
    assert answer["resolution_note"] == "核实为重复扣款" and answer["refund_attempts"] == 1
    # Asked once: again, or resolving it by hand meanwhile, is 409 and queues nothing more.
    for path, body in (("refund", {}), ("resolve", {"note": "手工处理"})):
        again = await client.post(f"/api/admin/v1/unmatched-payments/{kept.id}/{path}", json=body, headers=admin)
        assert again.status == 409 and (await again.json())["details"]["status"] == "refunding"
    await outbox.wait_idle()
    sandbox = client.server.app[SANDBOX_KEY]
    wechat_refund = sandbox.refunds[answer["refund_no"]]
    assert (wechat_refund["transaction_id"], wechat_refund["refund"], wechat_refund["total"]) == (
        kept.transaction_id, 3_300, 3_300)
    assert await OutboxMessage.filter(kind=OutboxKind.unmatched_refund).count() == 1
    # WeChat Pay returns the money and says so, in a signed refund notify (twice: it retries).
    for _ in range(2):
        done = await client.post(f"/sandbox/pay/refunds/{answer['refund_no']}/complete", json={})
        assert done.status == 200 and (await done.json())["notify_status"] == 200
    row = await UnmatchedPayment.get(id=kept.id)
    assert row.status == UnmatchedPaymentStatus.refunded and row.wechat_refund_id == wechat_refund["refund_id"]
    assert row.resolved_at is not None and row.refund_failure == ""
    assert await Refund.all().count() == 0 and await Order.all().count() == 0  # no order was invented for it
    assert await unmatched_payments.open_count() == 0
    listed = await (await client.get("/api/admin/v1/unmatched-payments?status=refunded", headers=admin)).json()
    assert [p["id"] for p in listed["items"]] == [kept.id]


async def test_a_refund_wechat_closes_leaves_it_open_with_why_and_a_new_attempt_returns_it(client, rt):
    kept = await _paid_outside(client, rt)
    admin = await operator_headers(client)
    url = f"/api/admin/v1/unmatched-payments/{kept.id}/refund"
    first = await (await client.post(url, json={}, headers=admin)).json()
    await outbox.wait_idle()
    resp = await client.post(f"/sandbox/pay/refunds/{first['refund_no']}/complete", json={"status": "CLOSED"})
    assert resp.status == 200
    row = await UnmatchedPayment.get(id=kept.id)
    assert row.status == UnmatchedPaymentStatus.open and row.refund_failure == "退款已关闭"
    assert await unmatched_payments.open_count() == 1  # back in the operators' queue
    second = await (await client.post(url, json={}, headers=admin)).json()
    assert second["status"] == "refunding" and second["refund_no"] == f"UP{kept.id:012d}R2"
    assert second["refund_failure"] == ""
    await outbox.wait_idle()
    # Its notify is lost: the poll asks WeChat Pay and finishes it.
    resp = await client.post(f"/sandbox/pay/refunds/{second['refund_no']}/complete", json={"notify": False})
    assert resp.status == 200
    assert (await UnmatchedPayment.get(id=kept.id)).status == UnmatchedPaymentStatus.refunding
    assert await unmatched_payments.poll_refunds(rt, older_than_seconds=0) == 1
    row = await UnmatchedPayment.get(id=kept.id)
    assert row.status == UnmatchedPaymentStatus.refunded and row.refund_no == second["refund_no"]
    assert await unmatched_payments.poll_refunds(rt, older_than_seconds=0) == 0
    # The first attempt's late notify changes nothing: the money went back once.
    assert await unmatched_payments.apply_refund_result(first["refund_no"], "CLOSED", None) == "duplicate"
    assert (await UnmatchedPayment.get(id=kept.id)).status == UnmatchedPaymentStatus.refunded


async def test_a_refund_wechat_refuses_ends_the_attempt_with_its_reason(client, rt):
    """A transaction WeChat Pay does not know (here: a notify signed by the sandbox for a payment
    it never made) cannot be refunded: the outbox does not retry it forever, and the payment is
    open again for an operator, with WeChat's reason."""
    await _signed(client, pay_resource(UNKNOWN))
    kept = await UnmatchedPayment.get()
    admin = await operator_headers(client)
    resp = await client.post(f"/api/admin/v1/unmatched-payments/{kept.id}/refund", json={}, headers=admin)
    assert resp.status == 200
    await outbox.wait_idle()
    row = await UnmatchedPayment.get(id=kept.id)
    assert row.status == UnmatchedPaymentStatus.open and row.refund_failure.startswith("微信支付拒绝退款"), row.refund_failure
    message = await OutboxMessage.get(kind=OutboxKind.unmatched_refund)
    assert message.status == OutboxStatus.failed and message.attempts == 1


async def test_hostile_refund_requests_get_a_4xx_naming_the_field(client, rt):
    await handle_pay_notify(rt, pay_resource(UNKNOWN))
    target = (await UnmatchedPayment.get()).id
    admin = await operator_headers(client)
    for path_id in (str(2**70), "１", "-1", "0", "1e3", "%00", "999999"):
        resp = await client.post(f"/api/admin/v1/unmatched-payments/{path_id}/refund", json={}, headers=admin)
        assert resp.status in (400, 404, 422), (path_id, resp.status)
    url = f"/api/admin/v1/unmatched-payments/{target}/refund"
    for body, field in (('{"note": "a\\u0000b"}', "note"), ('{"note": "' + "长" * 201 + '"}', "note"),
                        ('{"note": 1}', "note"), ('{"extra": 1}', "extra"), ('{"note": "x"', "body")):
        resp = await client.post(url, data=body, headers={**admin, "Content-Type": "application/json"})
        answer = await resp.json()
        assert resp.status == 422 and answer["details"]["field"] == field, (body[:40], answer)
    assert (await client.post(url, json={})).status == 401  # operators only
    row = await UnmatchedPayment.get(id=target)
    assert (row.status, row.refund_attempts) == (UnmatchedPaymentStatus.open, 0)  # nothing half-written
    assert await OutboxMessage.all().count() == 0


@pytest.mark.postgres
async def test_operators_refunding_at_once_queue_one_refund(client, rt, monkeypatch):
    target = (await _paid_outside(client, rt)).id  # WeChat Pay has it: the refund it gets is accepted
    # Observed, not replaced: how many requests read the payment as open (they raced to the CAS).
    # The winner holds its transaction (after its CAS, before queueing) until a second request
    # has read the row as open, so the compare-and-set, not the loop's timing, decides.
    numbered = []
    real = unmatched_payments.refund_no_for
    monkeypatch.setattr(unmatched_payments, "refund_no_for", lambda *a: numbered.append(a) or real(*a))
    enqueue = outbox.enqueue

    async def held_enqueue(*args, **kwargs):
        for _ in range(200):
            if len(numbered) >= 2:
                break
            await asyncio.sleep(0.01)
        return await enqueue(*args, **kwargs)

    monkeypatch.setattr(outbox, "enqueue", held_enqueue)
    answers = await asyncio.gather(*(unmatched_payments.request_refund(rt, target, op) for op in range(1, 9)),
                                   return_exceptions=True)
    won = [a for a in answers if isinstance(a, dict)]
    assert len(numbered) >= 2, numbered
    assert len(won) == 1 and all(isinstance(a, Conflict) for a in answers if not isinstance(a, dict)), answers
    assert await OutboxMessage.filter(kind=OutboxKind.unmatched_refund).count() == 1
    row = await UnmatchedPayment.get(id=target)
    assert (row.status, row.refund_attempts, row.resolved_by) == (
        UnmatchedPaymentStatus.refunding, 1, won[0]["resolved_by"])
