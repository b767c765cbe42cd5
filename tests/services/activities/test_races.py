"""Acceptance races on PostgreSQL + Redis: real parallel connections (the pool), bounded.
Each test also shows that the attempts really overlapped (peak of requests in flight)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import pytest

from huituan.core.errors import HuituanError
from huituan.models.bargain import Bargain, BargainHelp
from huituan.models.flash_sale import ClaimStatus, FlashClaim, FlashItem
from huituan.models.group_buy import Group, GroupSeat, SeatStatus
from huituan.models.order import ActivityType, Order
from huituan.models.user import Address, User
from huituan.services.activities import bargain, flash_claims, flash_lua, flash_orders, flash_queue, flash_sale, group_buy
from huituan.services.orders import context as order_context
from tests.services.activities.helpers import buyer, given_bargain_activity, given_flash_session, given_group_activity

pytestmark = pytest.mark.postgres


class Flight:
    """Counts requests in flight: the peak proves they overlapped."""

    def __init__(self) -> None:
        self.now = self.peak = 0

    async def run(self, coro):
        self.now += 1
        self.peak = max(self.peak, self.now)
        try:
            return await coro
        except HuituanError as exc:
            return exc
        finally:
            self.now -= 1


async def _buyers(n: int) -> list[tuple[int, int]]:
    tag = uuid.uuid4().hex[:8]
    await User.bulk_create([User(openid=f"race-{tag}-{i}", nickname=f"买家{i}") for i in range(n)])
    users = await User.filter(openid__startswith=f"race-{tag}-").order_by("id")
    await Address.bulk_create([Address(user_id=u.id, receiver="张三", phone="13800000000", province="广东省",
                                       city="深圳市", detail="1 号") for u in users])
    addresses = {a.user_id: a.id for a in await Address.filter(user_id__in=[u.id for u in users])}
    return [(u.id, addresses[u.id]) for u in users]


async def test_100_concurrent_joiners_for_5_free_seats(rt, settings):
    a = await given_group_activity(size=6)
    opener, address = await buyer()
    first, _ = await group_buy.join_group(settings, opener.id, "open", activity_id=a["id"], open_new=True,
                                          sku_id=a["sku_id"], delivery_mode="express", address_id=address.id)
    code = first["group"]["share_code"]
    people = await _buyers(100)
    flight = Flight()
    results = await asyncio.gather(*(flight.run(group_buy.join_group(
        settings, uid, uuid.uuid4().hex, share_code=code, sku_id=a["sku_id"], delivery_mode="express",
        address_id=aid)) for uid, aid in people))
    won = [r for r in results if isinstance(r, tuple)]
    lost = Counter(getattr(r, "code", type(r).__name__) for r in results if not isinstance(r, tuple))
    assert len(won) == 5, lost
    assert lost == {"group_full": 95}
    g = await Group.get(share_code=code)
    assert g.seats_taken == 6
    assert await GroupSeat.filter(group_id=g.id, status=SeatStatus.reserved).count() == 6
    assert await Order.filter(activity_type=ActivityType.group_buy, activity_ref=str(g.id)).count() == 6
    assert flight.peak > 10, flight.peak


async def test_one_users_concurrent_opens_and_joins_respect_the_per_user_limit(rt, settings):
    """Attacker pass, session 8: the limit was counted outside the order's transaction; 12 opens
    at once by one user made 10 seats (with a free opener, 10 free units), and joins into 8
    groups at once made 8. Now exactly per_user_limit seats, the rest group_limit_reached."""
    for opener_free in (True, False):
        a = await given_group_activity(size=3, per_user_limit=1, opener_free=opener_free)
        user, address = await buyer()
        flight = Flight()
        results = await asyncio.gather(*(flight.run(group_buy.join_group(
            settings, user.id, uuid.uuid4().hex, activity_id=a["id"], open_new=True, sku_id=a["sku_id"],
            delivery_mode="express", address_id=address.id)) for _ in range(12)))
        won = [r for r in results if isinstance(r, tuple)]
        lost = Counter(getattr(r, "code", type(r).__name__) for r in results if not isinstance(r, tuple))
        assert len(won) == 1 and lost == {"group_limit_reached": 11}, lost
        assert await GroupSeat.filter(user_id=user.id).count() == 1
        assert flight.peak > 5, flight.peak
    # Joining eight different groups at once.
    a = await given_group_activity(size=3, per_user_limit=2)
    codes = []
    for uid, aid in await _buyers(8):
        opened, _ = await group_buy.join_group(settings, uid, uuid.uuid4().hex, activity_id=a["id"], open_new=True,
                                               sku_id=a["sku_id"], delivery_mode="express", address_id=aid)
        codes.append(opened["group"]["share_code"])
    joiner, address = await buyer()
    flight = Flight()
    results = await asyncio.gather(*(flight.run(group_buy.join_group(
        settings, joiner.id, uuid.uuid4().hex, share_code=code, sku_id=a["sku_id"], delivery_mode="express",
        address_id=address.id)) for code in codes))
    lost = Counter(getattr(r, "code", type(r).__name__) for r in results if not isinstance(r, tuple))
    assert sum(isinstance(r, tuple) for r in results) == 2 and lost == {"group_limit_reached": 6}, lost
    assert await GroupSeat.filter(user_id=joiner.id).count() == 2
    assert flight.peak > 5, flight.peak


async def test_50_concurrent_helpers_on_one_bargain(rt, settings):
    a = await given_bargain_activity(start=30000, floor=1000, helpers=30, cut_min=100, cut_max=2000,
                                     helps_per_user=5)
    owner, _ = await buyer()
    b, _ = await bargain.start_bargain(owner.id, a["id"])
    helpers = [uid for uid, _ in await _buyers(40)]
    requests = helpers + helpers[:10]  # ten of them try twice
    flight = Flight()
    before = bargain.STATS["cas_lost"]
    results = await asyncio.gather(*(flight.run(bargain.help_bargain(rt.redis, settings, uid, b["id"], ip=f"10.1.0.{i % 200}"))
                                     for i, uid in enumerate(requests)))
    ok = [r for r in results if isinstance(r, dict)]
    refused = Counter(getattr(r, "code", type(r).__name__) for r in results if not isinstance(r, dict))
    helps = await BargainHelp.filter(bargain_id=b["id"]).order_by("seq")
    assert len(ok) == len(helps) == 30, refused
    assert set(refused) <= {"bargain_floor_reached", "bargain_already_helped"}
    assert sum(h.cut_fen for h in helps) == 30000 - 1000
    assert all(100 <= h.cut_fen <= 2000 for h in helps)
    assert [h.seq for h in helps] == list(range(1, 31))
    assert len({h.helper_user_id for h in helps}) == 30  # nobody twice
    final = await Bargain.get(id=b["id"])
    assert final.current_price_fen == 1000 and final.helps_count == 30
    assert flight.peak > 10, flight.peak
    print(f"bargain race: peak in flight {flight.peak}, CAS lost {bargain.STATS['cas_lost'] - before}, refused {refused}")


async def test_a_users_concurrent_starts_make_one_bargain(rt, settings):
    """Ten taps of 发起砍价 at once: one bargain, the others get it back (created False). The
    first start holds the activity row; the rest wait and then find its bargain."""
    a = await given_bargain_activity()
    owner, _ = await buyer()
    flight = Flight()
    results = await asyncio.gather(*(flight.run(bargain.start_bargain(owner.id, a["id"])) for _ in range(10)))
    assert all(isinstance(r, tuple) for r in results), results
    assert sorted(created for _, created in results) == [False] * 9 + [True]
    assert len({b["id"] for b, _ in results}) == 1
    assert await Bargain.filter(activity_id=a["id"], user_id=owner.id).count() == 1
    assert flight.peak > 1, flight.peak


async def test_2000_concurrent_claims_for_100_units(rt, settings):
    s = await given_flash_session(rt.redis, stock=100, per_user_limit=2)
    item_id = s["items"][0]["id"]
    people = await _buyers(500)
    flight = Flight()
    batched_before, sets_before = flash_orders.STATS["orders"], flash_orders.STATS["set_statements"]
    lone_before, reads_before = flash_orders.STATS["lone_statements"], order_context.STATS["items"]
    calls = [flight.run(flash_claims.claim(rt.redis, settings, uid, s["id"], item_id, 1, uuid.uuid4().hex,
                                         delivery_mode="express", address_id=aid))
             for _ in range(4) for uid, aid in people]
    queued_before, waited_before = flash_queue.STATS["queued"], flash_queue.STATS["waited"]
    results = await asyncio.gather(*calls)
    won = [r for r in results if isinstance(r, tuple)]
    refused = Counter(getattr(r, "code", type(r).__name__) for r in results if not isinstance(r, tuple))
    assert len(won) == 100, refused
    # The first winners waited for their orders; the line grew and the rest were answered at once.
    answers = Counter(how for _, how in won)
    assert answers[flash_claims.QUEUED] > 0 and answers[flash_claims.CREATED] > 0, answers
    assert flash_queue.STATS["queued"] > queued_before and flash_queue.STATS["waited"] > waited_before
    await flash_queue.drain()
    assert set(refused) <= {"flash_sold_out", "flash_limit_reached"}
    claims = await FlashClaim.filter(item_id=item_id, status=ClaimStatus.claimed)
    assert sum(c.quantity for c in claims) == 100
    per_user = Counter(c.user_id for c in claims)
    assert max(per_user.values()) <= 2
    assert (await FlashItem.get(id=item_id)).stock_left == 0
    assert int(await rt.redis.hget(flash_lua.keys(s["id"])["stock"], str(item_id))) == 0
    assert await Order.filter(activity_type=ActivityType.flash_sale).count() == 100
    assert flight.peak > 100, flight.peak
    # The winners' orders went through the batches (several orders per commit).
    assert flash_orders.STATS["orders"] - batched_before == 100 and flash_orders.STATS["largest"] > 1
    assert flash_orders.STATS["set_statements"] > sets_before  # groups written by the one set-based statement
    # ... with no transaction around a lone group; the claims of a loop turn went to Redis as one
    # pipeline and the orders' reads shared queries.
    assert flash_orders.STATS["lone_statements"] > lone_before
    assert flash_claims._claims.stats["largest"] > 1
    assert order_context.STATS["largest"] > 1 and order_context.STATS["items"] - reads_before >= 100


async def test_a_database_short_of_redis_sells_exactly_its_own_stock(rt, settings):
    """Redis says 100, the database has 10 (drift): the set-based statement refuses a group it
    cannot fill, its rows are written one by one, and exactly 10 orders exist."""
    s = await given_flash_session(rt.redis, stock=100, per_user_limit=1)
    item_id = s["items"][0]["id"]
    await FlashItem.filter(id=item_id).update(stock_left=10)
    people = await _buyers(60)
    refused_before = flash_orders.STATS["set_refused"]
    patient = settings.model_copy(update={"flash_answer_backlog": 10_000})  # every winner waits for its answer
    results = await asyncio.gather(*(flash_claims.claim(rt.redis, patient, uid, s["id"], item_id, 1, uuid.uuid4().hex,
                                                      delivery_mode="express", address_id=aid)
                                     for uid, aid in people), return_exceptions=True)
    won = [r for r in results if isinstance(r, tuple)]
    refused = Counter(getattr(r, "code", type(r).__name__) for r in results if not isinstance(r, tuple))
    assert len(won) == 10, refused
    assert set(refused) == {"flash_db_short"}
    assert await Order.filter(activity_type=ActivityType.flash_sale).count() == 10
    assert (await FlashItem.get(id=item_id)).stock_left == 0
    assert sum(c.quantity for c in await FlashClaim.filter(item_id=item_id)) == 10
    assert flash_orders.STATS["set_refused"] > refused_before  # the refusing branch ran


async def test_redis_stock_deleted_mid_session_never_oversells_and_reconcile_restores(rt, settings):
    s = await given_flash_session(rt.redis, stock=100, per_user_limit=1)
    item_id = s["items"][0]["id"]
    k = flash_lua.keys(s["id"])
    people = await _buyers(300)

    async def wipe_midway():
        await asyncio.sleep(0.05)
        await rt.redis.delete(k["stock"])

    flight = Flight()
    results = await asyncio.gather(wipe_midway(), *(flight.run(flash_claims.claim(
        rt.redis, settings, uid, s["id"], item_id, 1, uuid.uuid4().hex, delivery_mode="express", address_id=aid))
        for uid, aid in people))
    await flash_queue.drain()
    won = [r for r in results[1:] if isinstance(r, tuple)]
    assert len(won) <= 100
    held = await FlashClaim.filter(item_id=item_id, status=ClaimStatus.claimed).count()
    assert held == len(won)
    assert (await FlashItem.get(id=item_id)).stock_left == 100 - held
    await rt.redis.delete(k["stock"])  # and gone again, with no claim to reload it
    assert await flash_sale.reconcile(rt.redis, settle_seconds=0.05) == 1
    assert int(await rt.redis.hget(k["stock"], str(item_id))) == 100 - held
