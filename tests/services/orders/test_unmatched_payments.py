"""A payment WeChat Pay confirms for an order we do not have is kept for an operator, once per
transaction id, and resolved by one operator with a note (services/orders/unmatched_payments.py).
Before, it was only an ERROR log line: money taken from a buyer that nobody would see."""

from __future__ import annotations

import asyncio

import pytest

from huituan.core.sandbox.notify import build_signed_notify
from huituan.models.order import Order, Payment, Refund, UnmatchedPayment, UnmatchedPaymentStatus
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
    # Observed, not replaced: how many copies found no row and tried to insert (the race).
    inserts = []
    insert = UnmatchedPayment._create_or_get.__func__

    async def counted(cls, *args, **kwargs):
        inserts.append(1)
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
    from huituan.core.errors import Conflict
    from huituan.services.orders import unmatched_payments

    await handle_pay_notify(rt, pay_resource(UNKNOWN))
    target = (await UnmatchedPayment.get()).id
    answers = await asyncio.gather(*(unmatched_payments.resolve(target, op, f"运营{op}处理") for op in range(1, 9)),
                                   return_exceptions=True)
    won = [a for a in answers if isinstance(a, dict)]
    assert len(won) == 1 and all(isinstance(a, Conflict) for a in answers if not isinstance(a, dict))
    row = await UnmatchedPayment.get(id=target)
    assert (row.resolved_by, row.resolution_note) == (won[0]["resolved_by"], won[0]["resolution_note"])
