"""Flash-sale claims: the line behind a burst's answers, the poll, recovery, the claim scripts."""

import asyncio
import time

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from huituan.core.errors import NotFound, ValidationFailed
from huituan.models.flash_sale import FlashItem
from huituan.models.order import Order
from huituan.services.activities import flash_claims, flash_lua, flash_queue, flash_sale
from huituan.services.orders.lifecycle import cancel_order
from tests.factories import make_address, make_user
from tests.services.activities.helpers import claim_as, given_flash_session


async def test_a_burst_is_answered_queued_and_the_poll_then_finds_the_order(rt, settings):
    """A long line (here: any line) answers the winner at once; its order is made behind the
    answer, and the poll and a replay of the same key both find it."""
    burst = settings.model_copy(update={"flash_answer_backlog": 0})
    s = await given_flash_session(rt.redis, stock=5, per_user_limit=2)
    user = await make_user()
    address = await make_address(user)
    before = dict(flash_queue.STATS)
    state, how = await claim_as(rt, burst, s, user, address, key="burst-1")
    assert how == flash_claims.QUEUED and state["status"] == "queued" and state["order"] is None
    assert flash_queue.STATS["queued"] == before["queued"] + 1
    await flash_queue.drain()
    polled = await flash_claims.claim_state(rt.redis, user.id, s["id"], "burst-1")
    assert polled["status"] == "ordered" and polled["order"]["payable_fen"] == 99 and polled["quantity"] == 1
    assert polled["item_id"] == s["items"][0]["id"]
    again, how = await claim_as(rt, burst, s, user, address, key="burst-1")
    assert how == flash_claims.REPLAYED and again["id"] == polled["order"]["id"]
    assert not await rt.redis.hgetall(flash_lua.keys(s["id"])["pending"])  # nothing left pending
    # An order slower than the wait is answered "queued" too (the wait's branch).
    impatient = settings.model_copy(update={"flash_answer_wait_seconds": 1e-6})
    state, how = await claim_as(rt, impatient, s, user, address, key="burst-2")
    assert how == flash_claims.QUEUED
    await flash_queue.drain()
    assert (await flash_claims.claim_state(rt.redis, user.id, s["id"], "burst-2"))["status"] == "ordered"
    assert (await FlashItem.get(id=s["items"][0]["id"])).stock_left == 3
    with pytest.raises(NotFound) as unknown:
        await flash_claims.claim_state(rt.redis, user.id, s["id"], "never-claimed")
    assert unknown.value.code == "flash_claim_not_found"


async def test_a_queued_claim_that_cannot_get_its_order_is_given_back_and_says_why(rt, settings):
    burst = settings.model_copy(update={"flash_answer_backlog": 0})
    s = await given_flash_session(rt.redis, stock=2, per_user_limit=1)
    item_id = s["items"][0]["id"]
    user, stranger = await make_user(), await make_user()
    theirs = await make_address(stranger)  # not the buyer's address: the order cannot be made
    k = flash_lua.keys(s["id"])
    state, how = await claim_as(rt, burst, s, user, theirs, key="bad-address")
    assert how == flash_claims.QUEUED
    await flash_queue.drain()
    polled = await flash_claims.claim_state(rt.redis, user.id, s["id"], "bad-address")
    assert polled["status"] == "failed" and polled["error"] == "address_not_found" and "地址" in polled["message"]
    assert (polled["item_id"], polled["quantity"]) == (item_id, 1)  # what was claimed, as the other states say
    flash_queue.forget_all()  # the same answer from Redis, as another process polls it
    assert await flash_claims.claim_state(rt.redis, user.id, s["id"], "bad-address") == polled
    # The unit, the buyer's count and the key are all given back; nothing is pending.
    assert int(await rt.redis.hget(k["stock"], str(item_id))) == 2
    assert await rt.redis.hget(flash_lua.users_key(s["id"], item_id), str(user.id)) is None
    assert not await rt.redis.hgetall(k["pending"])
    assert await Order.filter(user_id=user.id).count() == 0
    # The same key claims again with a good address, and the poll follows it.
    order, how = await claim_as(rt, settings, s, user, await make_address(user), key="bad-address")
    assert how == flash_claims.CREATED
    assert (await flash_claims.claim_state(rt.redis, user.id, s["id"], "bad-address"))["status"] == "ordered"


async def _won_without_order(rt, job):
    """The claim script has run for ``job`` and won; its process died before the order."""
    script_keys, args = flash_lua.claim_call(job)
    assert int((await flash_sale.script(rt.redis, "CLAIM")(keys=script_keys, args=args))[0]) == 1


async def test_a_claim_left_pending_by_a_dead_process_is_recovered_and_is_not_drift(rt, settings):
    """The script ran (unit taken in Redis, claim pending) and the process died before the
    order: reconcile does not call that drift, and recover_pending makes the order."""
    s = await given_flash_session(rt.redis, stock=4, per_user_limit=2)
    item_id = s["items"][0]["id"]
    user = await make_user()
    address = await make_address(user)
    await claim_as(rt, settings, s, user, address, key="warm")  # loads the session into Redis
    job = flash_lua.PendingClaim(s["id"], item_id, user.id, 1, "orphan", "express", address.id, None, "备注",
                                 time.time())
    k = flash_lua.keys(s["id"])
    await _won_without_order(rt, job)
    assert (await flash_claims.claim_state(rt.redis, user.id, s["id"], "orphan"))["status"] == "queued"
    assert await flash_sale.reconcile(rt.redis, settle_seconds=0.01) == 0  # pending, not drift
    assert await flash_claims.recover_pending(rt.redis, settings) == 0  # too young: its process may be alive
    assert await flash_claims.recover_pending(rt.redis, settings, now=time.time() + 120) == 1
    polled = await flash_claims.claim_state(rt.redis, user.id, s["id"], "orphan")
    assert polled["status"] == "ordered" and polled["order"]["remark"] == "备注"
    assert not await rt.redis.hgetall(k["pending"])
    assert (await FlashItem.get(id=item_id)).stock_left == 2
    assert int(await rt.redis.hget(k["stock"], str(item_id))) == 2
    assert await flash_sale.reconcile(rt.redis, settle_seconds=0.01) == 0
    # Run twice (two jobs processes, a rerun): still one order.
    await rt.redis.hset(k["pending"], flash_lua.pending_field(user.id, "orphan"), job.payload())
    assert await flash_claims.recover_pending(rt.redis, settings, now=time.time() + 120) == 1
    assert await Order.filter(user_id=user.id, idempotency_key="orphan").count() == 1
    assert not await rt.redis.hgetall(k["pending"])


async def test_claims_go_on_after_redis_forgot_the_script(rt, settings):
    """Redis restarted or flushed its scripts: the claims' pipeline loads the script again and
    runs the claims it refused, once."""
    s = await given_flash_session(rt.redis, stock=3, per_user_limit=1)
    buyers = [await make_user() for _ in range(3)]
    addresses = [await make_address(u) for u in buyers]
    await claim_as(rt, settings, s, buyers[0], addresses[0])
    await rt.redis.script_flush()
    loads = flash_claims.STATS["script_loads"]
    answers = await asyncio.gather(*(claim_as(rt, settings, s, u, a) for u, a in zip(buyers[1:], addresses[1:])))
    assert [how for _, how in answers] == [flash_claims.CREATED] * 2
    assert flash_claims.STATS["script_loads"] == loads + 1
    assert (await FlashItem.get(id=s["items"][0]["id"])).stock_left == 0


@given(item=st.integers(1, 2**62), qty=st.integers(1, 999), mode=st.sampled_from(["express", "pickup"]),
       address=st.none() | st.integers(1, 2**62), point=st.none() | st.integers(1, 2**62),
       remark=st.text(st.sampled_from("|:,\"") | st.characters(), max_size=200),
       at=st.floats(0, 4e9, allow_nan=False), user=st.integers(1, 2**62),
       key=st.text(st.sampled_from("|:-_aZ9中"), min_size=1, max_size=64))
def test_a_pending_claim_reads_back_as_it_was_written(item, qty, mode, address, point, remark, at, user, key):
    """The pending hash holds each won claim as a joined string; any remark and key (the
    separators included) come back unchanged."""
    job = flash_lua.PendingClaim(7, item, user, qty, key, mode, address, point, remark, round(at, 3))
    event(f"remark with separator: {'|' in remark}")
    event(f"key with separators: {':' in key or '|' in key}")
    back = flash_lua.PendingClaim.from_pending(7, flash_lua.pending_field(user, key), job.payload())
    assert back == job


async def test_a_poll_another_process_answers_comes_from_redis_then_the_database(rt, settings):
    """The poll may land on a process whose line did not hold the claim: the order's snapshot
    in Redis answers it, and once that is gone, the database."""
    burst = settings.model_copy(update={"flash_answer_backlog": 0})
    s = await given_flash_session(rt.redis, stock=2, per_user_limit=1)
    user = await make_user()
    address = await make_address(user)
    _, how = await claim_as(rt, burst, s, user, address, key="elsewhere")
    assert how == flash_claims.QUEUED
    await flash_queue.drain()
    local = await flash_claims.claim_state(rt.redis, user.id, s["id"], "elsewhere")
    flash_queue.forget_all()  # as if another process answered
    from_redis = await flash_claims.claim_state(rt.redis, user.id, s["id"], "elsewhere")
    await rt.redis.delete(flash_lua.ordered_key(s["id"], user.id, "elsewhere"))
    from_db = await flash_claims.claim_state(rt.redis, user.id, s["id"], "elsewhere")
    assert local["status"] == from_redis["status"] == from_db["status"] == "ordered"
    assert local["order"]["id"] == from_redis["order"]["id"] == from_db["order"]["id"]
    assert local["item_id"] == from_redis["item_id"] == from_db["item_id"] == s["items"][0]["id"]


async def test_a_reload_counts_the_claims_still_in_the_line(rt, settings):
    """Redis lost the session's stock and per-user counts while claims waited for their orders:
    the reload takes those claims' units off the stock and counts them for their users."""
    s = await given_flash_session(rt.redis, stock=5, per_user_limit=1)
    item_id = s["items"][0]["id"]
    user = await make_user()
    address = await make_address(user)
    other = await make_user()
    await claim_as(rt, settings, s, other, await make_address(other), key="warm")
    k = flash_lua.keys(s["id"])
    job = flash_lua.PendingClaim(s["id"], item_id, user.id, 1, "in-line", "express", address.id, None, "", time.time())
    await _won_without_order(rt, job)
    await rt.redis.delete(k["stock"], flash_lua.users_key(s["id"], item_id))
    await flash_sale.load_session(rt.redis, s["id"])
    # The database still has 4 (the warm-up order took one); one unit is in the line.
    assert int(await rt.redis.hget(k["stock"], str(item_id))) == 3
    assert int(await rt.redis.hget(flash_lua.users_key(s["id"], item_id), str(user.id))) == 1
    # ... so the same buyer is over the limit in Redis already.
    again = await asyncio.gather(claim_as(rt, settings, s, user, address, key="again"), return_exceptions=True)
    assert getattr(again[0], "code", "") == "flash_limit_reached"


async def _claim(rt, settings, session, user, address, key, **change):
    args = dict(quantity=1, delivery_mode="express", address_id=address.id, remark="")
    args.update(change)
    return await flash_claims.claim(rt.redis, settings, user.id, session["id"], session["items"][0]["id"],
                                    args.pop("quantity"), key, **args)


@pytest.mark.parametrize("line", ["short", "long"])
async def test_a_key_already_used_for_another_order_fails_the_claim_and_gives_everything_back(rt, settings, line):
    """The same Idempotency-Key in another session (or for a normal order) is another request:
    422 idempotency_key_reused (or, queued, a failed poll), and the unit, the buyer's count and
    the key go back; the buyer claims again with a new key."""
    s = settings if line == "short" else settings.model_copy(update={"flash_answer_backlog": 0})
    a = await given_flash_session(rt.redis, stock=3, per_user_limit=1)
    b = await given_flash_session(rt.redis, stock=3, per_user_limit=1)
    user = await make_user()
    address = await make_address(user)
    first, _ = await _claim(rt, settings, a, user, address, "K")
    if line == "short":
        with pytest.raises(ValidationFailed) as reused:
            await _claim(rt, s, b, user, address, "K")
        assert reused.value.code == "idempotency_key_reused"
    else:
        _, how = await _claim(rt, s, b, user, address, "K")
        assert how == flash_claims.QUEUED
        await flash_queue.drain()
        polled = await flash_claims.claim_state(rt.redis, user.id, b["id"], "K")
        assert polled["status"] == "failed" and polled["error"] == "idempotency_key_reused"
    b_item = b["items"][0]["id"]
    k = flash_lua.keys(b["id"])
    assert int(await rt.redis.hget(k["stock"], str(b_item))) == 3
    assert await rt.redis.hget(flash_lua.users_key(b["id"], b_item), str(user.id)) is None
    assert (await FlashItem.get(id=b_item)).stock_left == 3
    order, how = await _claim(rt, settings, b, user, address, "K2")
    assert how == flash_claims.CREATED and order["id"] != first["id"]


async def test_a_poll_names_its_session(rt, settings):
    """A key ordered in one session is unknown in another, from memory, Redis or the database."""
    s = await given_flash_session(rt.redis, stock=2, per_user_limit=1)
    user = await make_user()
    await _claim(rt, settings, s, user, await make_address(user), "mine")
    for forget in (False, True):
        if forget:
            flash_queue.forget_all()
            await rt.redis.delete(flash_lua.ordered_key(s["id"], user.id, "mine"))
        assert (await flash_claims.claim_state(rt.redis, user.id, s["id"], "mine"))["status"] == "ordered"
        with pytest.raises(NotFound):
            await flash_claims.claim_state(rt.redis, user.id, s["id"] + 999, "mine")


@pytest.mark.parametrize("change", [{"quantity": 2}, {"remark": "另一个"}, {"delivery_mode": "pickup"}])
async def test_the_same_key_asking_for_something_else_is_refused(rt, settings, change):
    s = await given_flash_session(rt.redis, stock=5, per_user_limit=2)
    user = await make_user()
    address = await make_address(user)
    for backlog in (16, 0):  # once ordered, once still queued
        key = f"k{backlog}"
        current = settings.model_copy(update={"flash_answer_backlog": backlog,
                                              "flash_order_concurrency": 1 if backlog == 0 else 128})
        if backlog == 0:  # keep the first claim in the line while the second arrives
            blocker = asyncio.Event()
            flash_queue.submit(blocker.wait, 1)
        await _claim(rt, current, s, user, address, key)
        extra = {"pickup_point_id": 1} if change.get("delivery_mode") == "pickup" else {}
        with pytest.raises(ValidationFailed) as reused:
            await _claim(rt, current, s, user, address, key, **change, **extra)
        assert reused.value.code == "idempotency_key_reused"
        again, how = await _claim(rt, current, s, user, address, key)  # the same request: the same answer
        assert how in (flash_claims.REPLAYED, flash_claims.QUEUED)
        if backlog == 0:
            blocker.set()
            await flash_queue.drain()


async def test_a_resent_claim_that_failed_says_why_and_a_cancelled_order_is_not_shown_unpaid(rt, settings):
    s = await given_flash_session(rt.redis, stock=2, per_user_limit=1)
    user, stranger = await make_user(), await make_user()
    theirs = await make_address(stranger)
    burst = settings.model_copy(update={"flash_answer_backlog": 0})
    await _claim(rt, burst, s, user, theirs, "bad")
    # The resend arrives while the claim's key is still held (the give-back not yet done):
    await flash_queue.drain()
    await rt.redis.set(flash_lua.request_key(s["id"], user.id, "bad"), "1")
    with pytest.raises(Exception) as failed:
        await _claim(rt, burst, s, user, theirs, "bad")
    assert getattr(failed.value, "code", "") == "address_not_found"
    await rt.redis.delete(flash_lua.request_key(s["id"], user.id, "bad"))
    # A good claim, then its order cancelled: the poll shows the cancelled order, not a copy.
    mine = await make_address(user)
    order, _ = await _claim(rt, settings, s, user, mine, "good")
    assert (await flash_claims.claim_state(rt.redis, user.id, s["id"], "good"))["order"]["status"] == "unpaid"
    await cancel_order(user.id, order["id"], rt)
    polled = await flash_claims.claim_state(rt.redis, user.id, s["id"], "good")
    assert polled["order"]["status"] == "cancelled"


async def test_a_claim_without_where_to_deliver_is_refused_before_it_takes_a_unit(rt, settings):
    s = await given_flash_session(rt.redis, stock=1, per_user_limit=1)
    user = await make_user()
    for mode, field in (("express", "address_id"), ("pickup", "pickup_point_id")):
        with pytest.raises(ValidationFailed) as missing:
            await flash_claims.claim(rt.redis, settings, user.id, s["id"], s["items"][0]["id"], 1, f"none-{mode}",
                                     delivery_mode=mode)
        assert missing.value.details.get("field") == field or missing.value.field == field
    detail = await flash_sale.get_session(rt.redis, s["id"])
    assert detail["items"][0]["stock_left"] == 1
