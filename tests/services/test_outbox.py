"""Outbox: dedupe inside the caller's transaction, delivery through the sandbox, backoff, give-up."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from tortoise.transactions import in_transaction

from huituan.models.outbox import OutboxKind, OutboxMessage, OutboxStatus
from huituan.services import outbox


async def _sandbox_outbox(client) -> dict:
    return await (await client.get("/sandbox/outbox")).json()


async def _make_due(dedupe_key: str) -> None:
    # time passes: the backoff is over
    await OutboxMessage.filter(dedupe_key=dedupe_key).update(
        next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))


async def test_duplicate_dedupe_key_is_ignored_and_the_transaction_survives(rt):
    # given a transaction that queues the same message twice
    async with in_transaction() as conn:
        await outbox.enqueue(OutboxKind.robot_push, "daily:2024-01-01", {"content": "第一次"}, conn=conn)
        await outbox.enqueue(OutboxKind.robot_push, "daily:2024-01-01", {"content": "第二次"}, conn=conn)
        # then the transaction is still usable (PostgreSQL aborts it on an IntegrityError)
        assert await OutboxMessage.filter(dedupe_key="daily:2024-01-01").using_db(conn).count() == 1
    # and one row, the first, was committed
    [row] = await OutboxMessage.all()
    assert row.payload == {"content": "第一次"} and row.status == OutboxStatus.pending and row.attempts == 0
    assert row.created_at is not None


async def test_enqueue_rolls_back_with_its_cause(rt):
    try:
        async with in_transaction() as conn:
            await outbox.enqueue(OutboxKind.robot_push, "k1", {"content": "x"}, conn=conn)
            raise RuntimeError("cause failed")
    except RuntimeError:
        pass
    assert await OutboxMessage.all().count() == 0


async def test_deliver_pending_sends_each_kind_through_wechat(rt, client):
    # given one message of each built-in kind
    async with in_transaction() as conn:
        await outbox.enqueue(OutboxKind.subscribe_message, "order:1:paid",
                             {"openid": "o-u1", "template_id": "TPL_PAID", "data": {"thing1": "支付成功"},
                              "page": "pages/order/detail?id=1"}, conn=conn)
        await outbox.enqueue(OutboxKind.wecom_message, "leader:1:summary",
                             {"touser": "leader-1", "content": "**今日汇总**", "markdown": True}, conn=conn)
        await outbox.enqueue(OutboxKind.robot_push, "robot:1", {"content": "新团开啦", "msgtype": "text"}, conn=conn)
    # when the outbox is delivered
    assert await outbox.deliver_pending(rt) == 3
    # then WeChat got them
    sent = await _sandbox_outbox(client)
    assert sent["subscribe_messages"][0]["data"] == {"thing1": {"value": "支付成功"}}
    assert sent["wecom_messages"][0]["msgtype"] == "markdown" and sent["wecom_messages"][0]["touser"] == "leader-1"
    assert sent["robot_pushes"] == [{"msgtype": "text", "content": "新团开啦", "seq": sent["robot_pushes"][0]["seq"],
                                     "key": "sandbox-robot-key"}]  # no key in the payload: the platform robot
    # and they are marked sent, never sent again
    assert {r.status for r in await OutboxMessage.all()} == {OutboxStatus.sent}
    assert all(r.sent_at is not None for r in await OutboxMessage.all())
    assert await outbox.deliver_pending(rt) == 0
    assert len((await _sandbox_outbox(client))["robot_pushes"]) == 1


async def test_failure_backs_off_then_gives_up_after_max_attempts(rt, client):
    # given WeChat busy for every send (a temporary error: 45009)
    await client.post("/sandbox/fail-next", json={"count": 100, "errcode": 45009, "api": "subscribe"})
    async with in_transaction() as conn:
        await outbox.enqueue(OutboxKind.subscribe_message, "refused:1",
                             {"openid": "o-busy-1", "template_id": "TPL", "data": {"thing1": "x"}}, conn=conn)
    # when it is delivered
    before = datetime.now(UTC)
    assert await outbox.deliver_pending(rt) == 0
    # then it waits with a backoff and remembers why
    row = await OutboxMessage.get(dedupe_key="refused:1")
    assert row.status == OutboxStatus.pending and row.attempts == 1 and "45009" in row.last_error
    assert row.next_attempt_at >= before + timedelta(seconds=outbox.backoff_seconds(1) - 1)
    # and it is not retried before the backoff is over
    assert await outbox.deliver_pending(rt) == 0
    assert (await OutboxMessage.get(dedupe_key="refused:1")).attempts == 1
    # when time passes, the backoff doubles
    await _make_due("refused:1")
    await outbox.deliver_pending(rt)
    row = await OutboxMessage.get(dedupe_key="refused:1")
    assert row.attempts == 2
    assert row.next_attempt_at >= datetime.now(UTC) + timedelta(seconds=outbox.backoff_seconds(2) - 2)
    # then after MAX_ATTEMPTS it is parked as failed
    for _ in range(outbox.MAX_ATTEMPTS - 2):
        await _make_due("refused:1")
        await outbox.deliver_pending(rt)
    row = await OutboxMessage.get(dedupe_key="refused:1")
    assert row.status == OutboxStatus.failed and row.attempts == outbox.MAX_ATTEMPTS
    assert "45009" in row.last_error
    await _make_due("refused:1")
    assert await outbox.deliver_pending(rt) == 0
    assert (await OutboxMessage.get(dedupe_key="refused:1")).attempts == outbox.MAX_ATTEMPTS


async def test_permanent_error_fails_at_once_with_the_code(rt, client):
    # given a subscribe message the user refused (WeChat answers 43101: no retry can help)
    async with in_transaction() as conn:
        await outbox.enqueue(OutboxKind.subscribe_message, "refused:2",
                             {"openid": "o-refused-2", "template_id": "TPL", "data": {"thing1": "x"}}, conn=conn)
    assert await outbox.deliver_pending(rt) == 0
    row = await OutboxMessage.get(dedupe_key="refused:2")
    assert row.status == OutboxStatus.failed and row.attempts == 1 and "43101" in row.last_error
    assert row.next_attempt_at is None


async def test_purge_deletes_only_old_delivered_rows(rt, client):
    async with in_transaction() as conn:
        for i in range(3):
            await outbox.enqueue(OutboxKind.robot_push, f"purge:{i}", {"content": f"第{i}条"}, conn=conn)
        await outbox.enqueue(OutboxKind.subscribe_message, "purge:failed",
                             {"openid": "o-refused-3", "template_id": "TPL", "data": {"thing1": "x"}}, conn=conn)
    await outbox.deliver_pending(rt)
    await OutboxMessage.filter(dedupe_key__in=["purge:0", "purge:1"]).update(
        sent_at=datetime.now(UTC) - timedelta(days=8))
    assert await outbox.purge_delivered(datetime.now(UTC) - timedelta(days=7), batch=1) == 2
    assert sorted(await OutboxMessage.all().values_list("dedupe_key", flat=True)) == ["purge:2", "purge:failed"]


def test_backoff_grows_and_is_capped():
    delays = [outbox.backoff_seconds(n) for n in range(1, 20)]
    assert delays[:3] == [10, 20, 40]
    assert delays == sorted(delays) and max(delays) == outbox.BACKOFF_MAX_SECONDS


async def test_concurrent_deliveries_send_each_message_once(rt, client):
    # given ten messages
    async with in_transaction() as conn:
        for i in range(10):
            await outbox.enqueue(OutboxKind.robot_push, f"c:{i}", {"content": f"消息{i}"}, conn=conn)
    # when three workers deliver at once
    counts = await asyncio.gather(*(outbox.deliver_pending(rt) for _ in range(3)))
    # then every message went out exactly once
    assert sum(counts) == 10
    pushes = (await _sandbox_outbox(client))["robot_pushes"]
    assert sorted(p["content"] for p in pushes) == sorted(f"消息{i}" for i in range(10))


async def test_leased_rows_are_not_picked_twice(rt):
    async with in_transaction() as conn:
        await outbox.enqueue(OutboxKind.robot_push, "lease:1", {"content": "x"}, conn=conn)
    row = await OutboxMessage.get(dedupe_key="lease:1")
    # given another process claimed it (and may have crashed)
    assert await outbox._claim(row) == 1
    # then nobody else delivers it during the lease
    assert await outbox.deliver_pending(rt) == 0
    # and after the lease it comes back
    await _make_due("lease:1")
    assert await outbox.deliver_pending(rt) == 1


async def test_kick_delivers_in_the_background(rt, client):
    async with in_transaction() as conn:
        await outbox.enqueue(OutboxKind.robot_push, "kick:1", {"content": "后台发送"}, conn=conn)
    outbox.kick(rt)
    outbox.kick(rt)  # coalesced with the running one
    await outbox.wait_idle()
    assert [p["content"] for p in (await _sandbox_outbox(client))["robot_pushes"]] == ["后台发送"]
    assert (await OutboxMessage.get(dedupe_key="kick:1")).status == OutboxStatus.sent


def test_kick_without_a_loop_never_raises():
    outbox.kick(object())  # no running loop in a sync test: logged, not raised


async def test_concurrent_sends_in_one_sweep_deliver_each_once(rt, client):
    async with in_transaction() as conn:
        for i in range(20):
            await outbox.enqueue(OutboxKind.robot_push, f"conc:{i}", {"content": f"第{i}条"}, conn=conn)
    assert await outbox.deliver_pending(rt, concurrency=5) == 20
    pushes = (await _sandbox_outbox(client))["robot_pushes"]
    assert sorted(p["content"] for p in pushes) == sorted(f"第{i}条" for i in range(20))
    assert await outbox.deliver_pending(rt, concurrency=5) == 0
