import asyncio
import time
import uuid
from datetime import timedelta

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from huituan.core.clock import utcnow
from huituan.core.errors import Conflict, InvalidState, NotFound, OutOfStock, ValidationFailed
from huituan.models.flash_sale import ClaimStatus, FlashClaim, FlashItem, StockDrift
from huituan.models.order import Order, OrderStatus, Payment, PaymentStatus, Refund
from huituan.services.activities import flash_lua, flash_queue, flash_sale
from huituan.services.orders.lifecycle import close_expired_orders
from huituan.services.orders.payments import handle_pay_notify
from tests.factories import make_address, make_user, pay_order, token_for
from tests.services.activities.helpers import given_flash_session
from tests.services.orders.helpers import pay_resource


async def _claim(rt, settings, session, user, address, quantity=1, key=None):
    return await flash_sale.claim(rt.redis, settings, user.id, session["id"], session["items"][0]["id"], quantity,
                                  key or uuid.uuid4().hex, delivery_mode="express", address_id=address.id)


async def test_claim_creates_the_order_at_the_flash_price_and_is_idempotent(rt, settings):
    s = await given_flash_session(rt.redis, stock=3, per_user_limit=2)
    user = await make_user()
    address = await make_address(user)
    order, how = await _claim(rt, settings, s, user, address, key="req-1")
    assert how == flash_sale.CREATED and order["payable_fen"] == 99 and order["activity_type"] == "flash_sale"
    again, how = await _claim(rt, settings, s, user, address, key="req-1")
    assert how == flash_sale.REPLAYED and again["id"] == order["id"]
    assert (await FlashItem.get(id=s["items"][0]["id"])).stock_left == 2
    live = await flash_sale.get_session(rt.redis, s["id"])
    assert live["items"][0]["stock_left"] == 2


async def test_bad_claims_are_refused(rt, settings):
    s = await given_flash_session(rt.redis, stock=2, per_user_limit=2)
    user = await make_user()
    address = await make_address(user)
    with pytest.raises(ValidationFailed) as big:
        await _claim(rt, settings, s, user, address, quantity=3)
    assert big.value.status == 422 and "限购" in big.value.message
    await _claim(rt, settings, s, user, address, quantity=2)
    with pytest.raises(Conflict) as more:
        await _claim(rt, settings, s, user, address, quantity=1)
    assert more.value.code == "flash_limit_reached"
    other = await make_user()
    with pytest.raises(OutOfStock) as sold_out:
        await _claim(rt, settings, s, other, await make_address(other))
    assert sold_out.value.code == "flash_sold_out" and "抢光" in sold_out.value.message
    later = await given_flash_session(rt.redis, starts_in=3600)
    with pytest.raises(InvalidState) as early:
        await _claim(rt, settings, later, user, address)
    assert early.value.code == "flash_not_started" and "尚未开始" in early.value.message
    over = await given_flash_session(rt.redis, starts_in=-7200, lasts=3600)
    with pytest.raises(InvalidState) as ended:
        await _claim(rt, settings, over, user, address)
    assert ended.value.code == "flash_ended" and "已结束" in ended.value.message


async def test_unpaid_claim_expires_and_a_late_payment_is_refunded_the_unit_sold_once(client, rt, settings):
    s = await given_flash_session(rt.redis, stock=1, per_user_limit=1)
    first, second = await make_user(), await make_user()
    a1, a2 = await make_address(first), await make_address(second)
    order, _ = await _claim(rt, settings, s, first, a1)
    assert await close_expired_orders(rt, now=utcnow() + timedelta(seconds=901), activity_only=True) == 1
    assert (await FlashClaim.get(order_id=order["id"])).status == ClaimStatus.expired
    assert (await FlashItem.get(id=s["items"][0]["id"])).stock_left == 1
    # The unit is claimed and paid by someone else ...
    resold, _ = await _claim(rt, settings, s, second, a2)
    await pay_order(client, token_for(second), resold["id"])
    # ... and the first buyer's money arrives late (WeChat's notify): refunded automatically.
    assert await handle_pay_notify(rt, pay_resource(order)) == "late"
    assert (await Order.get(id=order["id"])).status == OrderStatus.cancelled
    assert (await Payment.get(order_id=order["id"])).status == PaymentStatus.late
    assert (await Refund.get(order_id=order["id"])).automatic
    assert await FlashClaim.filter(item_id=s["items"][0]["id"], status=ClaimStatus.paid).count() == 1
    assert (await FlashItem.get(id=s["items"][0]["id"])).stock_left == 0


async def test_reconcile_restores_deleted_redis_stock(rt, settings):
    s = await given_flash_session(rt.redis, stock=10, per_user_limit=5)
    user = await make_user()
    address = await make_address(user)
    await _claim(rt, settings, s, user, address, quantity=3)
    k = flash_lua.keys(s["id"])
    await rt.redis.delete(k["stock"], flash_lua.users_key(s["id"], s["items"][0]["id"]))
    assert await flash_sale.reconcile(rt.redis, settle_seconds=0.01) == 1
    assert int(await rt.redis.hget(k["stock"], str(s["items"][0]["id"]))) == 7
    drift = await StockDrift.get(session_id=s["id"])
    assert drift.redis_stock is None and drift.db_stock == 7
    # The per-user count came back with it: the limit still holds.
    with pytest.raises(Conflict):
        await _claim(rt, settings, s, user, address, quantity=3)
    # A drifted count is repaired too; a consistent one is left alone.
    await rt.redis.hset(k["stock"], str(s["items"][0]["id"]), 50)
    assert await flash_sale.reconcile(rt.redis, settle_seconds=0.01) == 1
    assert await flash_sale.reconcile(rt.redis, settle_seconds=0.01) == 0
    assert int(await rt.redis.hget(k["stock"], str(s["items"][0]["id"]))) == 7


async def test_after_sell_out_the_crowd_is_answered_from_memory_and_one_claim_rechecks(rt, settings):
    """Sold out: the process answers without Redis. When that memory runs out, exactly one claim
    asks Redis again while the others keep the answer (no stampede); units that came back (an
    expired claim) then sell again."""
    s = await given_flash_session(rt.redis, stock=3, per_user_limit=1)
    buyers = [await make_user() for _ in range(16)]
    addresses = [await make_address(u) for u in buyers]
    for u, a in zip(buyers[:3], addresses[:3]):
        await _claim(rt, settings, s, u, a)
    with pytest.raises(OutOfStock):
        await _claim(rt, settings, s, buyers[3], addresses[3])  # Redis says sold out: remembered
    # All three claims expire unpaid: their units go back to the database and to Redis ...
    assert await close_expired_orders(rt, now=utcnow() + timedelta(seconds=901), activity_only=True) == 3
    k = flash_lua.keys(s["id"])
    assert int(await rt.redis.hget(k["stock"], str(s["items"][0]["id"]))) == 3
    # Releasing here forgets the memory in this process. A worker that did not release (the jobs
    # process expired the claims) still remembers "sold out", and its memory has just run out:
    item_id = s["items"][0]["id"]
    flash_sale._SOLD_OUT[item_id] = time.monotonic() - 0.001
    crowd = await asyncio.gather(*(_claim(rt, settings, s, u, a) for u, a in zip(buyers[3:13], addresses[3:13])),
                                 return_exceptions=True)
    won = [r for r in crowd if not isinstance(r, BaseException)]
    refused = [r for r in crowd if isinstance(r, OutOfStock)]
    # One claim rechecked Redis and got a unit; the other nine kept the answer (the old code sent
    # all ten to Redis and three would have won).
    assert len(won) == 1 and len(refused) == 9
    assert int(await rt.redis.hget(k["stock"], str(s["items"][0]["id"]))) == 2
    # The recheck found units: the memory is gone and the next buyers get the two left.
    for u, a in zip(buyers[13:15], addresses[13:15]):
        order, how = await _claim(rt, settings, s, u, a)
        assert how == flash_sale.CREATED
    with pytest.raises(OutOfStock):
        await _claim(rt, settings, s, buyers[15], addresses[15])
    assert (await FlashItem.get(id=s["items"][0]["id"])).stock_left == 0


async def test_a_burst_that_misses_the_item_cache_reads_the_item_once(rt, settings):
    s = await given_flash_session(rt.redis, stock=5, per_user_limit=1)
    item_id = s["items"][0]["id"]
    flash_sale._ITEM_CACHE.clear()
    before = flash_sale.STATS["item_loads"]
    got = await asyncio.gather(*(flash_sale._item_and_session(s["id"], item_id) for _ in range(50)))
    assert flash_sale.STATS["item_loads"] - before == 1
    assert {item.id for item, _ in got} == {item_id}
    # An item of another session is refused to every waiter alike, and nothing is cached.
    flash_sale._ITEM_CACHE.clear()
    other = await given_flash_session(rt.redis, stock=1)
    refused = await asyncio.gather(*(flash_sale._item_and_session(other["id"], item_id) for _ in range(5)),
                                   return_exceptions=True)
    assert all(getattr(r, "code", "") == "flash_item_not_found" for r in refused)
    assert item_id not in flash_sale._ITEM_CACHE


async def test_a_burst_is_answered_queued_and_the_poll_then_finds_the_order(rt, settings):
    """A long line (here: any line) answers the winner at once; its order is made behind the
    answer, and the poll and a replay of the same key both find it."""
    burst = settings.model_copy(update={"flash_answer_backlog": 0})
    s = await given_flash_session(rt.redis, stock=5, per_user_limit=2)
    user = await make_user()
    address = await make_address(user)
    before = dict(flash_queue.STATS)
    state, how = await _claim(rt, burst, s, user, address, key="burst-1")
    assert how == flash_sale.QUEUED and state["status"] == "queued" and state["order"] is None
    assert flash_queue.STATS["queued"] == before["queued"] + 1
    await flash_queue.drain()
    polled = await flash_sale.claim_state(rt.redis, user.id, s["id"], "burst-1")
    assert polled["status"] == "ordered" and polled["order"]["payable_fen"] == 99 and polled["quantity"] == 1
    assert polled["item_id"] == s["items"][0]["id"]
    again, how = await _claim(rt, burst, s, user, address, key="burst-1")
    assert how == flash_sale.REPLAYED and again["id"] == polled["order"]["id"]
    assert not await rt.redis.hgetall(flash_lua.keys(s["id"])["pending"])  # nothing left pending
    # An order slower than the wait is answered "queued" too (the wait's branch).
    impatient = settings.model_copy(update={"flash_answer_wait_seconds": 1e-6})
    state, how = await _claim(rt, impatient, s, user, address, key="burst-2")
    assert how == flash_sale.QUEUED
    await flash_queue.drain()
    assert (await flash_sale.claim_state(rt.redis, user.id, s["id"], "burst-2"))["status"] == "ordered"
    assert (await FlashItem.get(id=s["items"][0]["id"])).stock_left == 3
    with pytest.raises(NotFound) as unknown:
        await flash_sale.claim_state(rt.redis, user.id, s["id"], "never-claimed")
    assert unknown.value.code == "flash_claim_not_found"


async def test_a_queued_claim_that_cannot_get_its_order_is_given_back_and_says_why(rt, settings):
    burst = settings.model_copy(update={"flash_answer_backlog": 0})
    s = await given_flash_session(rt.redis, stock=2, per_user_limit=1)
    item_id = s["items"][0]["id"]
    user, stranger = await make_user(), await make_user()
    theirs = await make_address(stranger)  # not the buyer's address: the order cannot be made
    k = flash_lua.keys(s["id"])
    state, how = await _claim(rt, burst, s, user, theirs, key="bad-address")
    assert how == flash_sale.QUEUED
    await flash_queue.drain()
    polled = await flash_sale.claim_state(rt.redis, user.id, s["id"], "bad-address")
    assert polled["status"] == "failed" and polled["error"] == "address_not_found" and "地址" in polled["message"]
    # The unit, the buyer's count and the key are all given back; nothing is pending.
    assert int(await rt.redis.hget(k["stock"], str(item_id))) == 2
    assert await rt.redis.hget(flash_lua.users_key(s["id"], item_id), str(user.id)) is None
    assert not await rt.redis.hgetall(k["pending"])
    assert await Order.filter(user_id=user.id).count() == 0
    # The same key claims again with a good address, and the poll follows it.
    order, how = await _claim(rt, settings, s, user, await make_address(user), key="bad-address")
    assert how == flash_sale.CREATED
    assert (await flash_sale.claim_state(rt.redis, user.id, s["id"], "bad-address"))["status"] == "ordered"


async def test_a_claim_left_pending_by_a_dead_process_is_recovered_and_is_not_drift(rt, settings):
    """The script ran (unit taken in Redis, claim pending) and the process died before the
    order: reconcile does not call that drift, and recover_pending makes the order."""
    s = await given_flash_session(rt.redis, stock=4, per_user_limit=2)
    item_id = s["items"][0]["id"]
    user = await make_user()
    address = await make_address(user)
    await _claim(rt, settings, s, user, address, key="warm")  # loads the session into Redis
    job = flash_sale.ClaimJob(s["id"], item_id, user.id, 1, "orphan", "express", address.id, None, "备注",
                              time.time())
    k = flash_lua.keys(s["id"])
    res = await flash_sale._script(rt.redis, "CLAIM")(
        keys=[k["meta"], k["stock"], k["limit"], flash_lua.users_key(s["id"], item_id),
              flash_lua.request_key(s["id"], user.id, "orphan"), k["pending"]],
        args=[item_id, user.id, 1, int(job.claimed_at), 3600, flash_lua.pending_field(user.id, "orphan"),
              job.payload()])
    assert int(res[0]) == 1
    assert (await flash_sale.claim_state(rt.redis, user.id, s["id"], "orphan"))["status"] == "queued"
    assert await flash_sale.reconcile(rt.redis, settle_seconds=0.01) == 0  # pending, not drift
    assert await flash_sale.recover_pending(rt.redis, settings) == 0  # too young: its process may be alive
    assert await flash_sale.recover_pending(rt.redis, settings, now=time.time() + 120) == 1
    polled = await flash_sale.claim_state(rt.redis, user.id, s["id"], "orphan")
    assert polled["status"] == "ordered" and polled["order"]["remark"] == "备注"
    assert not await rt.redis.hgetall(k["pending"])
    assert (await FlashItem.get(id=item_id)).stock_left == 2
    assert int(await rt.redis.hget(k["stock"], str(item_id))) == 2
    assert await flash_sale.reconcile(rt.redis, settle_seconds=0.01) == 0
    # Run twice (two jobs processes, a rerun): still one order.
    await rt.redis.hset(k["pending"], flash_lua.pending_field(user.id, "orphan"), job.payload())
    assert await flash_sale.recover_pending(rt.redis, settings, now=time.time() + 120) == 1
    assert await Order.filter(user_id=user.id, idempotency_key="orphan").count() == 1
    assert not await rt.redis.hgetall(k["pending"])


async def test_claims_go_on_after_redis_forgot_the_script(rt, settings):
    """Redis restarted or flushed its scripts: the claims' pipeline loads the script again and
    runs the claims it refused, once."""
    s = await given_flash_session(rt.redis, stock=3, per_user_limit=1)
    buyers = [await make_user() for _ in range(3)]
    addresses = [await make_address(u) for u in buyers]
    await _claim(rt, settings, s, buyers[0], addresses[0])
    await rt.redis.script_flush()
    loads = flash_sale.STATS["script_loads"]
    answers = await asyncio.gather(*(_claim(rt, settings, s, u, a) for u, a in zip(buyers[1:], addresses[1:])))
    assert [how for _, how in answers] == [flash_sale.CREATED] * 2
    assert flash_sale.STATS["script_loads"] == loads + 1
    assert (await FlashItem.get(id=s["items"][0]["id"])).stock_left == 0


@given(item=st.integers(1, 2**62), qty=st.integers(1, 999), mode=st.sampled_from(["express", "pickup"]),
       address=st.none() | st.integers(1, 2**62), point=st.none() | st.integers(1, 2**62),
       remark=st.text(st.sampled_from("|:,\"") | st.characters(), max_size=200),
       at=st.floats(0, 4e9, allow_nan=False), user=st.integers(1, 2**62),
       key=st.text(st.sampled_from("|:-_aZ9中"), min_size=1, max_size=64))
def test_a_pending_claim_reads_back_as_it_was_written(item, qty, mode, address, point, remark, at, user, key):
    """The pending hash holds each won claim as a joined string; any remark and key (the
    separators included) come back unchanged."""
    job = flash_sale.ClaimJob(7, item, user, qty, key, mode, address, point, remark, round(at, 3))
    event(f"remark with separator: {'|' in remark}")
    event(f"key with separators: {':' in key or '|' in key}")
    back = flash_sale.ClaimJob.from_pending(7, flash_lua.pending_field(user, key), job.payload())
    assert back == job
