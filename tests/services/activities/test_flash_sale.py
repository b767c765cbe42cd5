import asyncio
import time
import uuid
from datetime import timedelta

import pytest

from huituan.core.clock import utcnow
from huituan.core.errors import Conflict, InvalidState, NotFound, OutOfStock, ValidationFailed
from huituan.models.flash_sale import ClaimStatus, FlashClaim, FlashItem, StockDrift
from huituan.models.order import Order, OrderStatus, Payment, PaymentStatus, Refund
from huituan.services.activities import flash_claims, flash_lua, flash_sale
from huituan.services.orders.lifecycle import close_expired_orders
from huituan.services.orders.payments import handle_pay_notify
from tests.factories import make_address, make_user, pay_order, token_for
from tests.services.activities.helpers import claim_as, given_flash_session
from tests.services.orders.helpers import pay_resource


async def test_claim_creates_the_order_at_the_flash_price_and_is_idempotent(rt, settings):
    s = await given_flash_session(rt.redis, stock=3, per_user_limit=2)
    user = await make_user()
    address = await make_address(user)
    order, how = await claim_as(rt, settings, s, user, address, key="req-1")
    assert how == flash_claims.CREATED and order["payable_fen"] == 99 and order["activity_type"] == "flash_sale"
    again, how = await claim_as(rt, settings, s, user, address, key="req-1")
    assert how == flash_claims.REPLAYED and again["id"] == order["id"]
    assert (await FlashItem.get(id=s["items"][0]["id"])).stock_left == 2
    live = await flash_sale.get_session(rt.redis, s["id"])
    assert live["items"][0]["stock_left"] == 2


async def test_bad_claims_are_refused(rt, settings):
    s = await given_flash_session(rt.redis, stock=2, per_user_limit=2)
    user = await make_user()
    address = await make_address(user)
    with pytest.raises(ValidationFailed) as big:
        await claim_as(rt, settings, s, user, address, quantity=3)
    assert big.value.status == 422 and "限购" in big.value.message
    await claim_as(rt, settings, s, user, address, quantity=2)
    with pytest.raises(Conflict) as more:
        await claim_as(rt, settings, s, user, address, quantity=1)
    assert more.value.code == "flash_limit_reached"
    other = await make_user()
    with pytest.raises(OutOfStock) as sold_out:
        await claim_as(rt, settings, s, other, await make_address(other))
    assert sold_out.value.code == "flash_sold_out" and "抢光" in sold_out.value.message
    later = await given_flash_session(rt.redis, starts_in=3600)
    with pytest.raises(InvalidState) as early:
        await claim_as(rt, settings, later, user, address)
    assert early.value.code == "flash_not_started" and "尚未开始" in early.value.message
    over = await given_flash_session(rt.redis, starts_in=-7200, lasts=3600)
    with pytest.raises(InvalidState) as ended:
        await claim_as(rt, settings, over, user, address)
    assert ended.value.code == "flash_ended" and "已结束" in ended.value.message
    # An item that is not in the session is a 404 whatever the session's window: not "not
    # started" before it, not "ended" after it (another session's item, and one that never was).
    for session in (later, over):
        for wrong_item in (s["items"][0]["id"], 999_999):
            with pytest.raises(NotFound) as missing:
                await flash_claims.claim(rt.redis, settings, user.id, session["id"], wrong_item, 1, uuid.uuid4().hex,
                                         delivery_mode="express", address_id=address.id)
            assert missing.value.code == "flash_item_not_found" and missing.value.details["field"] == "item_id"


async def test_unpaid_claim_expires_and_a_late_payment_is_refunded_the_unit_sold_once(client, rt, settings):
    s = await given_flash_session(rt.redis, stock=1, per_user_limit=1)
    first, second = await make_user(), await make_user()
    a1, a2 = await make_address(first), await make_address(second)
    order, _ = await claim_as(rt, settings, s, first, a1)
    assert await close_expired_orders(rt, now=utcnow() + timedelta(seconds=901), activity_only=True) == 1
    assert (await FlashClaim.get(order_id=order["id"])).status == ClaimStatus.expired
    assert (await FlashItem.get(id=s["items"][0]["id"])).stock_left == 1
    # The unit is claimed and paid by someone else ...
    resold, _ = await claim_as(rt, settings, s, second, a2)
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
    await claim_as(rt, settings, s, user, address, quantity=3)
    k = flash_lua.keys(s["id"])
    await rt.redis.delete(k["stock"], flash_lua.users_key(s["id"], s["items"][0]["id"]))
    assert await flash_sale.reconcile(rt.redis, settle_seconds=0.01) == 1
    assert int(await rt.redis.hget(k["stock"], str(s["items"][0]["id"]))) == 7
    drift = await StockDrift.get(session_id=s["id"])
    assert drift.redis_stock is None and drift.db_stock == 7
    # The per-user count came back with it: the limit still holds.
    with pytest.raises(Conflict):
        await claim_as(rt, settings, s, user, address, quantity=3)
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
        await claim_as(rt, settings, s, u, a)
    with pytest.raises(OutOfStock):
        await claim_as(rt, settings, s, buyers[3], addresses[3])  # Redis says sold out: remembered
    # All three claims expire unpaid: their units go back to the database and to Redis ...
    assert await close_expired_orders(rt, now=utcnow() + timedelta(seconds=901), activity_only=True) == 3
    k = flash_lua.keys(s["id"])
    assert int(await rt.redis.hget(k["stock"], str(s["items"][0]["id"]))) == 3
    # Releasing here forgets the memory in this process. A worker that did not release (the jobs
    # process expired the claims) still remembers "sold out", and its memory has just run out:
    item_id = s["items"][0]["id"]
    flash_sale.SOLD_OUT[item_id] = time.monotonic() - 0.001
    crowd = await asyncio.gather(*(claim_as(rt, settings, s, u, a) for u, a in zip(buyers[3:13], addresses[3:13])),
                                 return_exceptions=True)
    won = [r for r in crowd if not isinstance(r, BaseException)]
    refused = [r for r in crowd if isinstance(r, OutOfStock)]
    # One claim rechecked Redis and got a unit; the other nine kept the answer (the old code sent
    # all ten to Redis and three would have won).
    assert len(won) == 1 and len(refused) == 9
    assert int(await rt.redis.hget(k["stock"], str(s["items"][0]["id"]))) == 2
    # The recheck found units: the memory is gone and the next buyers get the two left.
    for u, a in zip(buyers[13:15], addresses[13:15]):
        order, how = await claim_as(rt, settings, s, u, a)
        assert how == flash_claims.CREATED
    with pytest.raises(OutOfStock):
        await claim_as(rt, settings, s, buyers[15], addresses[15])
    assert (await FlashItem.get(id=s["items"][0]["id"])).stock_left == 0


async def test_a_burst_that_misses_the_item_cache_reads_the_item_once(rt, settings):
    s = await given_flash_session(rt.redis, stock=5, per_user_limit=1)
    item_id = s["items"][0]["id"]
    flash_sale._ITEM_CACHE.clear()
    before = flash_sale.STATS["item_loads"]
    got = await asyncio.gather(*(flash_sale.item_and_session(s["id"], item_id) for _ in range(50)))
    assert flash_sale.STATS["item_loads"] - before == 1
    assert {item.id for item, _ in got} == {item_id}
    # An item of another session is refused to every waiter alike, and nothing is cached.
    flash_sale._ITEM_CACHE.clear()
    other = await given_flash_session(rt.redis, stock=1)
    refused = await asyncio.gather(*(flash_sale.item_and_session(other["id"], item_id) for _ in range(5)),
                                   return_exceptions=True)
    assert all(getattr(r, "code", "") == "flash_item_not_found" for r in refused)
    assert item_id not in flash_sale._ITEM_CACHE
