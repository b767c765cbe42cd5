"""Money WeChat reports as paid that no paid order keeps goes back automatically, once, and the
operator sees it; signed notifies that are malformed are refused; unknown bills acknowledged."""

from __future__ import annotations

import asyncio

import pytest

from huituan.core.sandbox.notify import build_signed_notify
from huituan.models.order import Order, OrderStatus, Payment, PaymentStatus, Refund, RefundStatus
from huituan.models.wallet import Withdrawal
from huituan.services import outbox
from tests.factories import auth, create_order, make_product, make_user, pay_order, token_for
from tests.miniapp_api.admin.conftest import operator_headers


async def given_unpaid_order(client, price_fen=1200):
    user = await make_user()
    token = token_for(user)
    p = await make_product(skus=[{"price_fen": price_fen, "stock": 10}])
    order = await create_order(client, token, [(p.sku_list[0], 1)])
    return token, order


def resource(order, transaction_id, total=None):
    total = order["payable_fen"] if total is None else total
    return {"out_trade_no": order["order_no"], "transaction_id": transaction_id, "trade_state": "SUCCESS",
            "amount": {"total": total, "payer_total": total, "currency": "CNY"}, "payer": {"openid": "o-x"}}


async def post(client, path, res, event="TRANSACTION.SUCCESS"):
    headers, body = build_signed_notify(res, event)
    resp = await client.post(path, headers=headers, data=body)
    return resp.status, await resp.json()


async def finish_refunds(client) -> list[Refund]:
    """Deliver the queued refund calls to the sandbox, then let WeChat Pay finish them."""
    await outbox.wait_idle()
    refunds = await Refund.filter(automatic=True).order_by("id")
    for r in refunds:
        resp = await client.post(f"/sandbox/pay/refunds/{r.refund_no}/complete", json={})
        assert resp.status == 200, await resp.text()
    return await Refund.filter(automatic=True).order_by("id")


@pytest.mark.parametrize("delta", [-1, +1, +500])
async def test_a_payment_of_another_amount_is_refunded_automatically_once(client, delta):
    """Short or over: WeChat took the money, the order stays unpaid; the whole payment goes
    back by its transaction id, once, however often WeChat repeats the notify."""
    token, order = await given_unpaid_order(client)
    result = await pay_order(client, token, order["id"], amount_fen=order["payable_fen"] + delta)
    assert result["notify_status"] == 200
    for _ in range(3):  # WeChat retries the same notify
        resp = await client.post(f"/sandbox/pay/{(await Order.get(id=order['id'])).prepay_id}/complete", json={})
        assert resp.status == 200
    o = await Order.get(id=order["id"])
    assert o.status == OrderStatus.unpaid and o.paid_fen == 0
    payment = await Payment.get(order_id=o.id)
    assert payment.status == PaymentStatus.amount_mismatch
    [refund] = await finish_refunds(client)
    assert refund.status == RefundStatus.succeeded and refund.amount_fen == order["payable_fen"] + delta
    assert refund.payment_transaction_id == payment.transaction_id == result["transaction_id"]
    state = await (await client.get("/sandbox/pay/state")).json()
    assert state["orders"][order["order_no"]]["refunded_fen"] == order["payable_fen"] + delta
    # The order then times out and is cancelled: nothing more is refunded, nothing is kept.
    assert await Refund.all().count() == 1


async def test_late_and_duplicate_payments_are_refunded_and_listed_for_the_operator(client):
    admin = await operator_headers(client)
    token, paid = await given_unpaid_order(client)
    await pay_order(client, token, paid["id"])
    # A second payment of a paid order (another transaction for the same out_trade_no).
    status, ack = await post(client, "/api/v1/pay/notify", resource(paid, "4200000000000000000000009999"))
    assert (status, ack) == (200, {"code": "SUCCESS"})
    token2, cancelled = await given_unpaid_order(client)
    resp = await client.post(f"/api/v1/orders/{cancelled['id']}/cancel", headers=auth(token2))
    assert resp.status == 200
    status, _ = await post(client, "/api/v1/pay/notify", resource(cancelled, "4200000000000000000000008888"))
    assert status == 200
    assert (await Order.get(id=paid["id"])).status == OrderStatus.paid
    refunds = {r.payment_transaction_id: r for r in await Refund.filter(automatic=True)}
    assert set(refunds) == {"4200000000000000000000009999", "4200000000000000000000008888"}
    assert all(r.status == RefundStatus.processing for r in refunds.values())

    resp = await client.get("/api/admin/v1/refunds?automatic=true", headers=admin)
    listed = await resp.json()
    assert resp.status == 200, listed
    assert listed["total"] == 2
    assert {i["payment_transaction_id"] for i in listed["items"]} == set(refunds)
    assert all(i["automatic"] for i in listed["items"])
    one = listed["items"][0]
    resp = await client.get(f"/api/admin/v1/refunds/{one['id']}", headers=admin)
    detail = await resp.json()
    assert resp.status == 200 and detail["payment_transaction_id"] == one["payment_transaction_id"]
    assert detail["order_no"] in (paid["order_no"], cancelled["order_no"])
    resp = await client.get("/api/admin/v1/refunds?automatic=false", headers=admin)
    assert (await resp.json())["total"] == 0
    await outbox.wait_idle()


async def test_concurrent_copies_of_a_mismatched_payment_refund_once(client):
    _, order = await given_unpaid_order(client)
    res = resource(order, "4200000000000000000000007777", total=order["payable_fen"] * 2)
    headers, body = build_signed_notify(res, "TRANSACTION.SUCCESS")

    async def send():
        resp = await client.post("/api/v1/pay/notify", headers=headers, data=body)
        return resp.status

    assert set(await asyncio.gather(*[send() for _ in range(30)])) == {200}
    assert await Payment.all().count() == 1
    assert await Refund.filter(automatic=True).count() == 1
    await outbox.wait_idle()


@pytest.mark.parametrize("bad_total", ["1200", 12.5, 1200.0, -1, 0, True, None, 2**40, [1200], {"v": 1}])
async def test_a_signed_notify_with_a_malformed_amount_is_refused_and_never_stored(client, bad_total):
    _, order = await given_unpaid_order(client)
    res = resource(order, "4200000000000000000000006666")
    res["amount"]["total"] = bad_total
    status, body = await post(client, "/api/v1/pay/notify", res)
    assert status == 400, body
    assert body["code"] == "FAIL" and body["error"] == "notify_malformed"
    assert body["details"]["field"] == "resource.amount.total"
    assert await Payment.all().count() == 0
    o = await Order.get(id=order["id"])
    assert o.status == OrderStatus.unpaid


@pytest.mark.parametrize("field,value", [("transaction_id", 42), ("out_trade_no", ["x"]), ("amount", "1200"),
                                         ("payer", "o-x")])
async def test_other_malformed_payment_fields_are_refused(client, field, value):
    _, order = await given_unpaid_order(client)
    res = resource(order, "4200000000000000000000005555")
    res[field] = value
    status, body = await post(client, "/api/v1/pay/notify", res)
    assert status == 400 and body["error"] == "notify_malformed", body
    assert await Payment.all().count() == 0


async def test_malformed_refund_and_transfer_notifies_are_refused(client):
    status, body = await post(client, "/api/v1/pay/refund-notify",
                              {"out_refund_no": 12, "refund_status": "SUCCESS"}, "REFUND.SUCCESS")
    assert status == 400 and body["error"] == "notify_malformed"
    status, body = await post(client, "/api/v1/pay/transfer-notify",
                              {"out_bill_no": "WD0000000001", "state": "SUCCESS", "transfer_amount": "100"},
                              "MCHTRANSFER.BILL.FINISHED")
    assert status == 400 and body["error"] == "notify_malformed"


async def test_a_transfer_notify_for_an_unknown_bill_is_acknowledged(client, caplog):
    res = {"out_bill_no": "WD9999999999", "transfer_bill_no": "1330000999", "state": "SUCCESS",
           "transfer_amount": 100, "mch_id": "1900000000"}
    with caplog.at_level("ERROR", logger="huituan.withdrawals"):
        status, body = await post(client, "/api/v1/pay/transfer-notify", res, "MCHTRANSFER.BILL.FINISHED")
    assert (status, body) == (200, {"code": "SUCCESS"})
    assert "unknown bill WD9999999999" in caplog.text
    assert await Withdrawal.all().count() == 0


@pytest.mark.parametrize("field", ["state", "transfer_bill_no", "fail_reason"])
async def test_transfer_notify_fields_of_any_length_are_stored_or_refused_never_a_500(rt, client, field):
    """Every text a notify carries that we store is checked against its column: a value the
    column cannot hold is a 400 naming the field (WeChat's retries change nothing), never a
    database error (a 500 that WeChat would retry forever). PostgreSQL enforces the lengths."""
    from huituan.services import withdrawals
    from tests.factories import make_user
    from tests.services.commission.helpers import fund

    p = await make_user()
    await fund(rt, p, 3_000)
    w = await withdrawals.request_withdrawal(rt, p.id, 3_000)
    for n in (20, 24, 25, 32, 33, 64, 65, 200, 201, 1000):
        before = await Withdrawal.get(id=w["id"])
        assert before.status == "paying"
        res = {"out_bill_no": w["out_bill_no"], "state": "PROCESSING", "transfer_amount": 3_000}
        res[field] = "X" * n
        status, body = await post(client, "/api/v1/pay/transfer-notify", res, "MCHTRANSFER.BILL.FINISHED")
        assert status in (200, 400), (n, status, body)
        now = await Withdrawal.get(id=w["id"])
        assert now.status == "paying"
        if status == 400:
            assert body["error"] == "notify_malformed" and body["details"]["field"] == f"resource.{field}", body
            assert now.transfer_state == before.transfer_state and now.fail_reason == before.fail_reason


async def test_only_a_payment_event_with_its_trade_state_pays(client):
    """Attacker pass, session 7: a signed REFUND.SUCCESS notify with a refund-shaped resource (no
    trade_state, read as SUCCESS) sent to the pay notify URL marked the order paid."""
    _, order = await given_unpaid_order(client)
    refund_shaped = {"out_trade_no": order["order_no"], "transaction_id": "4200000000000000000000007777",
                     "amount": {"total": order["payable_fen"], "refund": order["payable_fen"]},
                     "out_refund_no": "R1", "refund_status": "SUCCESS"}
    for event in ("REFUND.SUCCESS", "MCHTRANSFER.BILL.FINISHED", "TRANSACTION.CLOSED"):
        assert await post(client, "/api/v1/pay/notify", refund_shaped, event) == (200, {"code": "SUCCESS"})
    status, body = await post(client, "/api/v1/pay/notify", refund_shaped, "TRANSACTION.SUCCESS")
    assert status == 400 and body["details"]["field"] == "resource.trade_state", body
    assert (await Order.get(id=order["id"])).status == OrderStatus.unpaid and await Payment.all().count() == 0


async def test_a_transfer_notify_must_be_for_the_withdrawals_amount_and_a_known_state(rt, client):
    """Attacker pass, session 7: a signed SUCCESS for 1 fen paid a 3,000-fen withdrawal, and
    a state "WEIRD" was stored and shown to the user."""
    from huituan.services import withdrawals
    from huituan.services.wallet.ledger import get_balances
    from tests.factories import make_user
    from tests.services.commission.helpers import fund

    p = await make_user()
    await fund(rt, p, 3_000)
    w = await withdrawals.request_withdrawal(rt, p.id, 3_000)
    before = await Withdrawal.get(id=w["id"])
    for res, field in (({"state": "SUCCESS", "transfer_amount": 1}, "resource.transfer_amount"),
                       ({"state": "WEIRD", "transfer_amount": before.net_fen}, "resource.state")):
        status, body = await post(client, "/api/v1/pay/transfer-notify", {"out_bill_no": w["out_bill_no"], **res},
                                  "MCHTRANSFER.BILL.FINISHED")
        assert status == 400 and body["details"]["field"] == field, body
    after = await Withdrawal.get(id=w["id"])
    assert (after.status, after.transfer_state) == (before.status, before.transfer_state)
    balances = await get_balances(p.id)
    assert (balances.withdrawing, balances.withdrawn) == (3_000, 0)
    # The real one pays.
    status, _ = await post(client, "/api/v1/pay/transfer-notify", {"out_bill_no": w["out_bill_no"], "state": "SUCCESS",
                                                                   "transfer_amount": before.net_fen},
                           "MCHTRANSFER.BILL.FINISHED")
    assert status == 200 and (await Withdrawal.get(id=w["id"])).status == "paid"
