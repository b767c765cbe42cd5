"""poll_refunds: refunds stuck in ``processing`` are reconciled with WeChat Pay (the sandbox,
over real HTTP) when the notify is lost or the outbox parked the submission."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from tortoise.transactions import in_transaction

from huituan.core.clock import utcnow
from huituan.models.order import Order, OrderStatus, Refund, RefundStatus
from huituan.models.outbox import OutboxMessage, OutboxStatus
from huituan.services import outbox
from huituan.services.orders.payments import enqueue_refund
from huituan.services.orders.refunds import approve_refund, poll_refunds, request_refund
from tests.factories import create_order, login, make_product, pay_order

OPERATOR_ID = 1  # approve_refund only records who reviewed (Refund.reviewed_by, no FK)


def later():
    """A poll time past the default 300 s age limit, instead of sleeping."""
    return utcnow() + timedelta(seconds=600)


async def given_refund_requested(client) -> tuple[dict, dict]:
    """A paid order (through the API and the sandbox) with a whole-order refund requested."""
    token, user = await login(client, f"u-{uuid.uuid4().hex[:8]}")
    product = await make_product(skus=[{"price_fen": 1000, "stock": 10}])
    order = await create_order(client, token, [(product.sku_list[0], 2)])
    await pay_order(client, token, order["id"])
    refund = await request_refund(user["id"], order["id"], "不想要了")
    return order, refund


async def given_refund_submitted(client, rt) -> tuple[dict, dict]:
    """... approved, and the outbox submitted it: WeChat has it PROCESSING."""
    order, refund = await given_refund_requested(client)
    await approve_refund(rt, refund["id"], OPERATOR_ID, "同意")
    await outbox.wait_idle()
    row = await OutboxMessage.get(dedupe_key=f"refund:{refund['refund_no']}")
    assert row.status == OutboxStatus.sent, row.last_error
    assert (await wechat_refund(client, refund["refund_no"]))["status"] == "PROCESSING"
    return order, refund


async def wechat_refund(client, refund_no: str) -> dict | None:
    state = await (await client.get("/sandbox/pay/state")).json()
    return state["refunds"].get(refund_no)


async def settle_at_wechat(client, refund_no: str, status: str, *, notify: bool) -> dict:
    resp = await client.post(f"/sandbox/pay/refunds/{refund_no}/complete", json={"status": status, "notify": notify})
    data = await resp.json()
    assert resp.status == 200, data
    return data


@pytest.mark.parametrize("wechat_status, refund_after, order_after", [
    ("SUCCESS", RefundStatus.succeeded, OrderStatus.refunded),
    ("ABNORMAL", RefundStatus.failed, OrderStatus.paid),
])
async def test_lost_notify_is_reconciled_by_the_poll(client, rt, wechat_status, refund_after, order_after):
    # given a submitted refund that WeChat settled, and its notify lost
    order, refund = await given_refund_submitted(client, rt)
    lost = await settle_at_wechat(client, refund["refund_no"], wechat_status, notify=False)
    assert lost["notify_status"] is None
    assert (await Refund.get(id=refund["id"])).status == RefundStatus.processing
    # when the poll runs
    assert await poll_refunds(rt, now=later()) == 1
    # then the refund is final, the same way the notify would have made it
    done = await Refund.get(id=refund["id"])
    o = await Order.get(id=order["id"])
    assert done.status == refund_after and done.finished_at is not None
    assert done.wechat_refund_id == lost["refund_id"]
    assert o.status == order_after
    assert o.refunded_fen == (o.paid_fen if wechat_status == "SUCCESS" else 0)
    # and a second poll, or the notify arriving after all, changes nothing
    assert await poll_refunds(rt, now=later()) == 0
    late = await settle_at_wechat(client, refund["refund_no"], wechat_status, notify=True)
    assert late["notify_status"] == 200
    again = await Order.get(id=order["id"])
    assert (again.status, again.refunded_fen) == (o.status, o.refunded_fen)
    assert (await Refund.get(id=refund["id"])).status == refund_after


async def test_parked_submission_unknown_to_wechat_is_requeued(client, rt):
    # given an approved refund whose submission the outbox parked as failed: WeChat never got it
    order, refund = await given_refund_requested(client)
    key = f"refund:{refund['refund_no']}"
    async with in_transaction() as conn:  # what approve_refund writes, without the kick
        assert await Refund.filter(id=refund["id"], status=RefundStatus.requested).using_db(conn).update(
            status=RefundStatus.processing, reviewed_by=OPERATOR_ID) == 1
        r = await Refund.get(id=refund["id"]).using_db(conn)
        o = await Order.get(id=order["id"]).using_db(conn)
        await enqueue_refund(r, o, total_fen=o.paid_fen, conn=conn)
    await OutboxMessage.filter(dedupe_key=key).update(
        status=OutboxStatus.failed, attempts=outbox.MAX_ATTEMPTS, last_error="UpstreamError: network_error")
    assert await wechat_refund(client, refund["refund_no"]) is None
    # when the poll runs before the refund is old enough, nothing happens
    assert await poll_refunds(rt) == 0
    assert (await OutboxMessage.get(dedupe_key=key)).status == OutboxStatus.failed
    # when it runs later
    assert await poll_refunds(rt, now=later()) == 1
    await outbox.wait_idle()
    # then the submission is delivered again and WeChat has the refund
    row = await OutboxMessage.get(dedupe_key=key)
    assert row.status == OutboxStatus.sent and row.attempts == 1, row.last_error
    at_wechat = await wechat_refund(client, refund["refund_no"])
    assert at_wechat["status"] == "PROCESSING" and at_wechat["refund"] == o.paid_fen
    assert (await Refund.get(id=refund["id"])).status == RefundStatus.processing
    # and the next poll leaves it to WeChat, whose notify then finishes it
    assert await poll_refunds(rt, now=later()) == 0
    assert (await settle_at_wechat(client, refund["refund_no"], "SUCCESS", notify=True))["notify_status"] == 200
    assert (await Refund.get(id=refund["id"])).status == RefundStatus.succeeded
    assert (await Order.get(id=order["id"])).status == OrderStatus.refunded


async def test_processing_refund_is_left_alone(client, rt):
    # given a refund WeChat is still processing
    order, refund = await given_refund_submitted(client, rt)
    # when the poll runs
    assert await poll_refunds(rt, now=later()) == 0
    await outbox.wait_idle()
    # then nothing moved, here or at WeChat, and the submission was not repeated
    assert (await Refund.get(id=refund["id"])).status == RefundStatus.processing
    assert (await Order.get(id=order["id"])).status == OrderStatus.refunding
    assert (await wechat_refund(client, refund["refund_no"]))["status"] == "PROCESSING"
    row = await OutboxMessage.get(dedupe_key=f"refund:{refund['refund_no']}")
    assert (row.status, row.attempts) == (OutboxStatus.sent, 1)


async def test_submission_still_retrying_is_left_to_the_outbox(client, rt):
    # given a refund whose submission is still being retried by the outbox (WeChat lacks it)
    order, refund = await given_refund_requested(client)
    key = f"refund:{refund['refund_no']}"
    async with in_transaction() as conn:
        await Refund.filter(id=refund["id"]).using_db(conn).update(status=RefundStatus.processing)
        r = await Refund.get(id=refund["id"]).using_db(conn)
        o = await Order.get(id=order["id"]).using_db(conn)
        await enqueue_refund(r, o, total_fen=o.paid_fen, conn=conn)
    await OutboxMessage.filter(dedupe_key=key).update(attempts=3, next_attempt_at=later())
    # when the poll runs: WeChat says unknown, but the pending row is the outbox's to retry
    assert await poll_refunds(rt, now=later()) == 0
    row = await OutboxMessage.get(dedupe_key=key)
    assert (row.status, row.attempts) == (OutboxStatus.pending, 3)
    assert (await Refund.get(id=refund["id"])).status == RefundStatus.processing
