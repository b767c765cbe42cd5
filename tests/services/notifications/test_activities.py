"""Activity reminders: group closing soon, group succeeded / failed, bargain progress and
expiring, flash sale starting (for users who asked). Each: the situation, the job, the message
in the sandbox with WeChat-shaped fields, and a second run that sends nothing new."""

from __future__ import annotations

from datetime import timedelta

from huituan.core.clock import china_display, utcnow
from huituan.jobs import notifications as jobs
from huituan.models.bargain import Bargain, BargainActivity
from huituan.models.flash_sale import FlashItem, FlashSession
from huituan.models.group_buy import ActivityStatus, Group, GroupBuyActivity, GroupSeat, GroupStatus, SeatStatus
from huituan.services.notifications.subscriptions import ask_reminder, grant
from tests.factories import make_user
from tests.services.notifications.helpers import sent_with, values


async def _twice(rt, client, job, template_id: str) -> list[dict]:
    await job(rt)
    first = await sent_with(client, template_id)
    await job(rt)
    assert await sent_with(client, template_id) == first, "a second run sent something new"
    return first


async def _activity(**kw) -> GroupBuyActivity:
    now = utcnow()
    values = dict(title="阳光玫瑰青提 2 斤 三人团", product_id=1, sku_prices={}, group_size=3,
                  status=ActivityStatus.active, starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=1))
    values.update(kw)
    return await GroupBuyActivity.create(**values)


async def test_group_closing_soon_tells_members_the_seats_left(rt, client):
    activity = await _activity()
    member = await make_user()
    await grant(member.id, "sandbox-tpl-group-closing-soon")
    expires = utcnow() + timedelta(minutes=50)
    group = await Group.create(activity_id=activity.id, share_code="G1", opener_user_id=member.id, size=3,
                               seats_taken=1, seats_paid=1, expires_at=expires)
    await GroupSeat.create(group_id=group.id, user_id=member.id, order_id=101, status=SeatStatus.paid,
                           is_opener=True, paid_at=utcnow())
    later = await Group.create(activity_id=activity.id, share_code="G2", opener_user_id=member.id, size=3,
                               seats_taken=1, seats_paid=1, expires_at=utcnow() + timedelta(hours=10))
    await GroupSeat.create(group_id=later.id, user_id=member.id, order_id=102, status=SeatStatus.paid,
                           paid_at=utcnow())
    [message] = await _twice(rt, client, jobs.remind_groups_closing, "sandbox-tpl-group-closing-soon")
    assert values(message) == {"thing1": "阳光玫瑰青提 2 斤 三人团", "number2": "2", "time3": china_display(expires),
                               "thing4": "邀请好友参团，成团更快"}
    assert message["page"] == "pages/group/detail?code=G1"


async def test_group_results_reach_every_paid_member_once(rt, client):
    activity = await _activity()
    ok_user, bad_user = await make_user(), await make_user()
    for u in (ok_user, bad_user):
        await grant(u.id, "sandbox-tpl-activity-result")
    for code, user, status in (("S1", ok_user, GroupStatus.succeeded), ("F1", bad_user, GroupStatus.failed)):
        g = await Group.create(activity_id=activity.id, share_code=code, opener_user_id=user.id, size=3,
                               status=status, finished_at=utcnow(), expires_at=utcnow())
        await GroupSeat.create(group_id=g.id, user_id=user.id, order_id=200 + g.id,
                               status=SeatStatus.paid if status == GroupStatus.succeeded else SeatStatus.released,
                               paid_at=utcnow())
    messages = await _twice(rt, client, jobs.remind_group_results, "sandbox-tpl-activity-result")
    by_user = {m["touser"]: (values(m), m["page"]) for m in messages}
    assert by_user == {
        ok_user.openid: ({"thing1": "阳光玫瑰青提 2 斤 三人团", "phrase2": "拼团成功", "thing3": "我们将尽快为您发货"},
                         "pages/group/detail?code=S1"),
        bad_user.openid: ({"thing1": "阳光玫瑰青提 2 斤 三人团", "phrase2": "拼团失败", "thing3": "款项将原路退回"},
                          "pages/group/detail?code=F1"),
    }


async def _bargain(user_id: int, **kw) -> Bargain:
    now = utcnow()
    activity = await BargainActivity.create(
        title="戴森吹风机 HD15 砍价", product_id=1, sku_id=1, start_price_fen=299900, floor_price_fen=9900,
        helpers_needed=8, cut_min_fen=100, cut_max_fen=50000, stock=10, stock_left=10, status=ActivityStatus.active,
        starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=1))
    values = dict(activity_id=activity.id, user_id=user_id, current_price_fen=199900, helps_count=3,
                  expires_at=now + timedelta(hours=20))
    values.update(kw)
    return await Bargain.create(**values)


async def test_bargain_progress_once_a_day(rt, client):
    owner = await make_user()
    await grant(owner.id, "sandbox-tpl-bargain-progress")
    bargain = await _bargain(owner.id)
    [message] = await _twice(rt, client, jobs.remind_bargain_progress, "sandbox-tpl-bargain-progress")
    assert values(message) == {"thing1": "戴森吹风机 HD15 砍价", "amount2": "1000.00元", "amount3": "1999.00元",
                               "number4": "5", "thing5": "继续邀请好友帮砍"}
    assert message["page"] == f"pages/bargain/detail?id={bargain.id}"


async def test_bargain_expiring(rt, client):
    owner = await make_user()
    await grant(owner.id, "sandbox-tpl-bargain-expiring")
    ends = utcnow() + timedelta(minutes=30)
    await _bargain(owner.id, expires_at=ends)
    await _bargain(owner.id, expires_at=utcnow() + timedelta(hours=20))
    [message] = await _twice(rt, client, jobs.remind_bargains_expiring, "sandbox-tpl-bargain-expiring")
    assert values(message) == {"thing1": "戴森吹风机 HD15 砍价", "amount2": "1999.00元", "time3": china_display(ends),
                               "thing4": "砍价即将结束，尽快下单"}


async def test_flash_sale_starting_reaches_who_asked(rt, client):
    asked, other = await make_user(), await make_user()
    for u in (asked, other):
        await grant(u.id, "sandbox-tpl-flash-sale-starting")
    starts = utcnow() + timedelta(minutes=5)
    session = await FlashSession.create(title="周五晚 8 点秒杀专场", starts_at=starts,
                                        ends_at=starts + timedelta(hours=1), status=ActivityStatus.active)
    for price in (1990, 990):
        await FlashItem.create(session_id=session.id, product_id=1, sku_id=1, flash_price_fen=price,
                               stock_total=10, stock_left=10)
    await ask_reminder(asked.id, "flash_sale_starting", session.id)
    [message] = await _twice(rt, client, jobs.remind_flash_sales_starting, "sandbox-tpl-flash-sale-starting")
    assert message["touser"] == asked.openid
    assert values(message) == {"thing1": "周五晚 8 点秒杀专场", "amount2": "9.90元", "time3": china_display(starts),
                               "thing4": "您预约的秒杀即将开始"}
