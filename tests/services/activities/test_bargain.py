import uuid
from datetime import timedelta

import pytest

from huituan.core.clock import utcnow
from huituan.core.errors import Conflict, Forbidden, InvalidState, RateLimited
from huituan.models.bargain import Bargain, BargainActivity, BargainHelp, BargainStatus
from huituan.models.group_buy import ActivityStatus
from huituan.services.activities import bargain
from huituan.services.orders.lifecycle import close_expired_orders
from tests.factories import make_address, make_user
from tests.services.activities.helpers import given_bargain_activity


async def test_friends_cut_to_the_floor_in_exactly_n_helps_then_the_owner_buys(rt, settings):
    a = await given_bargain_activity(start=10000, floor=100, helpers=4, cut_min=500, cut_max=5000)
    owner = await make_user()
    b, created = await bargain.start_bargain(owner.id, a["id"])
    assert created and b["helpers_needed"] == 4 and b["helpers_left"] == 4 and b["current_price_fen"] == 10000
    again, created = await bargain.start_bargain(owner.id, a["id"])
    assert not created and again["id"] == b["id"]
    for i in range(4):
        helper = await make_user()
        r = await bargain.help_bargain(rt.redis, settings, helper.id, b["id"], ip=f"10.0.0.{i}")
        assert 500 <= r["cut_fen"] <= 5000
    d = await bargain.get_bargain(b["id"])
    assert d["status"] == "floor_reached" and d["current_price_fen"] == 100 and d["helpers_left"] == 0
    assert sum(h["cut_fen"] for h in d["helps"]) == 9900
    late = await make_user()
    with pytest.raises(Conflict) as floor:
        await bargain.help_bargain(rt.redis, settings, late.id, b["id"])
    assert floor.value.code == "bargain_floor_reached"
    address = await make_address(owner)
    order, _ = await bargain.buy_bargain(settings, owner.id, uuid.uuid4().hex, bargain_id=b["id"], delivery_mode="express",
                                         address_id=address.id)
    assert order["payable_fen"] == 100 and order["activity_type"] == "bargain"
    assert (await Bargain.get(id=b["id"])).status == BargainStatus.bought
    assert (await BargainActivity.get(id=a["id"])).stock_left == a["stock"] - 1
    # Unpaid past the deadline: the bargain is buyable again and the unit returns.
    await close_expired_orders(rt, now=utcnow() + timedelta(seconds=settings.order_pay_timeout_seconds + 1))
    assert (await Bargain.get(id=b["id"])).status == BargainStatus.floor_reached
    assert (await BargainActivity.get(id=a["id"])).stock_left == a["stock"]


async def test_no_self_help_no_second_help_and_limits(rt, settings):
    a = await given_bargain_activity(helpers=5, helps_per_user=1)
    owner, friend = await make_user(), await make_user()
    b, _ = await bargain.start_bargain(owner.id, a["id"])
    with pytest.raises(Forbidden) as own:
        await bargain.help_bargain(rt.redis, settings, owner.id, b["id"])
    assert own.value.code == "bargain_self_help" and "自己" in own.value.message
    await bargain.help_bargain(rt.redis, settings, friend.id, b["id"])
    with pytest.raises(Conflict) as twice:
        await bargain.help_bargain(rt.redis, settings, friend.id, b["id"])
    assert twice.value.code == "bargain_already_helped"
    other_owner = await make_user()
    b2, _ = await bargain.start_bargain(other_owner.id, a["id"])
    with pytest.raises(Conflict) as limit:
        await bargain.help_bargain(rt.redis, settings, friend.id, b2["id"])
    assert limit.value.code == "bargain_help_limit"
    assert await BargainHelp.filter(helper_user_id=friend.id).count() == 1


async def test_rate_limit_per_ip(rt, make_settings):
    from huituan.services.activities import common

    s = make_settings(bargain_help_ip_rate_per_minute=2)
    for _ in range(2):
        await common.rate_limit(rt.redis, "bh:ip:1.2.3.4", s.bargain_help_ip_rate_per_minute)
    with pytest.raises(RateLimited):
        await common.rate_limit(rt.redis, "bh:ip:1.2.3.4", s.bargain_help_ip_rate_per_minute)


async def test_buy_at_current_price_only_when_allowed_and_expiry(rt, settings):
    a = await given_bargain_activity(allow_buy_at_current=False)
    owner = await make_user()
    b, _ = await bargain.start_bargain(owner.id, a["id"])
    address = await make_address(owner)
    with pytest.raises(InvalidState) as early:
        await bargain.buy_bargain(settings, owner.id, "k", bargain_id=b["id"], delivery_mode="express",
                                  address_id=address.id)
    assert early.value.code == "bargain_floor_not_reached"
    assert await bargain.expire_bargains(now=utcnow() + timedelta(hours=25)) == 1
    assert (await Bargain.get(id=b["id"])).status == BargainStatus.expired
    poster = await bargain.bargain_poster_data(b["id"])
    assert poster["helpers_needed"] == a["helpers_needed"] and poster["current_price_fen"] == a["start_price_fen"]
    assert poster["owner_user_id"] == owner.id and not poster["on_sale"]


async def test_the_rules_users_were_shown_cannot_change_under_their_bargains(rt, settings):
    """Attacker pass, session 7: raising the floor above a live bargain's price, or lowering the
    helpers needed below its helps, left it priced under the floor (bought so) or with -1 helps
    to go (a 500 on the next help). Once anyone started a bargain its rules are fixed."""
    a = await given_bargain_activity(start=5490, floor=990, helpers=3, cut_min=100, cut_max=3000)
    # Before anyone started one, the operator may still change them.
    a = await bargain.update_activity(a["id"], {"floor_price_fen": 1090, "cut_max_fen": 4000})
    assert a["floor_price_fen"] == 1090
    owner = await make_user()
    b, _ = await bargain.start_bargain(owner.id, a["id"])
    for i in range(2):
        await bargain.help_bargain(rt.redis, settings, (await make_user()).id, b["id"], ip=f"10.1.0.{i}")
    before = await bargain.get_bargain(b["id"])
    for change in ({"floor_price_fen": before["current_price_fen"] + 100}, {"helpers_needed": 1, "cut_max_fen": 5000},
                   {"start_price_fen": 5000}, {"cut_min_fen": 1}, {"new_user_cut_fen": 200}):
        with pytest.raises(Conflict) as locked:
            await bargain.update_activity(a["id"], change)
        assert locked.value.code == "bargain_rules_locked" and locked.value.details["field"] in change, change
        assert "已有用户发起砍价" in locked.value.message
    # What does not touch the price may still change; the bargain goes on to the floor.
    again = await bargain.update_activity(a["id"], {"title": "改个名字", "stock": 20, "helps_per_user": 5})
    assert again["title"] == "改个名字" and again["floor_price_fen"] == 1090
    last = await bargain.help_bargain(rt.redis, settings, (await make_user()).id, b["id"], ip="10.1.0.9")
    assert last["price_after_fen"] == 1090 and last["bargain"]["status"] == "floor_reached"


async def test_a_stopped_activity_halts_its_live_bargains(rt, settings):
    a = await given_bargain_activity(helpers=3)
    owner = await make_user()
    b, _ = await bargain.start_bargain(owner.id, a["id"])
    await bargain.help_bargain(rt.redis, settings, (await make_user()).id, b["id"], ip="10.2.0.1")
    await bargain.set_activity_status(a["id"], ActivityStatus.stopped)
    with pytest.raises(InvalidState) as helped:
        await bargain.help_bargain(rt.redis, settings, (await make_user()).id, b["id"], ip="10.2.0.2")
    assert helped.value.code == "activity_not_active"
    address = await make_address(owner)
    with pytest.raises(InvalidState) as bought:
        await bargain.buy_bargain(settings, owner.id, uuid.uuid4().hex, bargain_id=b["id"], delivery_mode="express",
                                  address_id=address.id)
    assert bought.value.code == "activity_not_active"
    assert (await Bargain.get(id=b["id"])).status == BargainStatus.active
    assert (await BargainActivity.get(id=a["id"])).stock_left == a["stock"]
    # Started again, the bargain goes on where it was.
    await bargain.set_activity_status(a["id"], ActivityStatus.active)
    r = await bargain.help_bargain(rt.redis, settings, (await make_user()).id, b["id"], ip="10.2.0.3")
    assert r["seq"] == 2
