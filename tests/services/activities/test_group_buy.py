from datetime import timedelta

import pytest

from huituan.core.clock import utcnow
from huituan.core.errors import Conflict, InvalidState, ValidationFailed
from huituan.jobs.notifications import remind_group_results
from huituan.models.group_buy import Group, GroupSeat, GroupStatus, SeatStatus
from huituan.models.notification import Notification, NotificationStatus
from huituan.models.order import Order, OrderStatus, Refund, RefundStatus
from huituan.services import outbox
from huituan.services.activities import group_buy
from huituan.services.notifications.subscriptions import grant
from huituan.services.orders.lifecycle import close_expired_orders
from tests.factories import pay_order, token_for
from tests.services.activities.helpers import buyer, given_group_activity, join


async def test_open_join_pay_succeeds_and_notifies_members(client, rt, settings):
    a = await given_group_activity(size=2)
    (u1, ad1), (u2, ad2) = await buyer(), await buyer()
    first, created = await join(settings, a, u1, ad1, open_new=True)
    assert created and first["order"]["payable_fen"] == 600 and first["order"]["discount_fen"] == 400
    assert first["order"]["activity_type"] == "group_buy"
    code = first["group"]["share_code"]
    second, _ = await join(settings, a, u2, ad2, share_code=code)
    assert second["group"]["seats_taken"] == 2 and second["group"]["seats_left"] == 0

    await grant(u1.id, "sandbox-tpl-activity-result")  # u1 accepted the template; u2 did not
    await pay_order(client, token_for(u1), first["order"]["id"])
    mine = await group_buy.my_groups(u1.id)
    assert mine["items"][0]["waiting"] and "等待成团" in mine["items"][0]["waiting_text"]
    await pay_order(client, token_for(u2), second["order"]["id"])
    g = await Group.get(share_code=code)
    assert g.status == GroupStatus.succeeded and g.seats_paid == 2
    await outbox.wait_idle()  # the paid notify kicks the outbox: the notices go at once
    notices = {n.user_id: n for n in await Notification.filter(event="group_succeeded")}
    assert notices[u1.id].status == NotificationStatus.sent
    assert (notices[u2.id].status, notices[u2.id].reason) == (NotificationStatus.skipped, "no_quota")
    [message] = (await (await client.get("/sandbox/outbox")).json())["subscribe_messages"]
    assert message["data"]["phrase2"] == {"value": "拼团成功"} and message["page"] == f"pages/group/detail?code={code}"
    # the reminder job's sweep knows it was sent: nothing new
    await remind_group_results(rt)
    await outbox.wait_idle()
    assert len((await (await client.get("/sandbox/outbox")).json())["subscribe_messages"]) == 1


async def test_bad_joins_are_refused_with_chinese_messages(rt, settings):
    a = await given_group_activity(size=2, per_user_limit=5)
    (u1, ad1), (u2, ad2), (u3, ad3) = await buyer(), await buyer(), await buyer()
    first, _ = await join(settings, a, u1, ad1, open_new=True)
    code = first["group"]["share_code"]
    with pytest.raises(Conflict) as own:
        await join(settings, a, u1, ad1, share_code=code)
    assert own.value.code == "group_already_joined" and own.value.status == 409
    await join(settings, a, u2, ad2, share_code=code)
    with pytest.raises(Conflict) as full:
        await join(settings, a, u3, ad3, share_code=code)
    assert full.value.code == "group_full" and "满员" in full.value.message
    # An expired group
    other, _ = await join(settings, a, u3, ad3, open_new=True)
    await Group.filter(id=other["group"]["id"]).update(expires_at=utcnow() - timedelta(seconds=1))
    (u4, ad4) = await buyer()
    with pytest.raises(InvalidState) as expired:
        await join(settings, a, u4, ad4, share_code=other["group"]["share_code"])
    assert expired.value.code == "group_expired" and "结束" in expired.value.message


async def test_unpaid_seat_is_released_at_the_payment_deadline(rt, settings):
    a = await given_group_activity(size=3)
    (u1, ad1), (u2, ad2) = await buyer(), await buyer()
    first, _ = await join(settings, a, u1, ad1, open_new=True)
    second, _ = await join(settings, a, u2, ad2, share_code=first["group"]["share_code"])
    assert (await Group.get(id=first["group"]["id"])).seats_taken == 2
    assert await close_expired_orders(rt, now=utcnow() + timedelta(seconds=settings.order_pay_timeout_seconds + 1),
                                      activity_only=True) == 2
    g = await Group.get(id=first["group"]["id"])
    assert g.seats_taken == 0 and g.status == GroupStatus.open
    assert await GroupSeat.filter(group_id=g.id, status=SeatStatus.released).count() == 2


async def test_expiry_refunds_paid_members_and_cancels_unpaid(client, rt, settings):
    a = await given_group_activity(size=3)
    (u1, ad1), (u2, ad2) = await buyer(), await buyer()
    first, _ = await join(settings, a, u1, ad1, open_new=True)
    second, _ = await join(settings, a, u2, ad2, share_code=first["group"]["share_code"])
    await pay_order(client, token_for(u1), first["order"]["id"])
    assert await group_buy.expire_groups(now=utcnow() + timedelta(hours=25)) == 1
    g = await Group.get(id=first["group"]["id"])
    assert g.status == GroupStatus.failed
    refund = await Refund.get(order_id=first["order"]["id"])
    assert refund.status == RefundStatus.processing and refund.amount_fen == 600
    assert (await Order.get(id=second["order"]["id"])).status == OrderStatus.cancelled
    assert await group_buy.expire_groups(now=utcnow() + timedelta(hours=25)) == 0  # rerun: nothing
    await outbox.wait_idle()
    # The sandbox completes the refund through its notify: the order ends refunded.
    state = await (await client.get("/sandbox/pay/state")).json()
    resp = await client.post(f"/sandbox/pay/refunds/{refund.refund_no}/complete", json={})
    assert resp.status == 200, (await resp.text(), state)
    assert (await Order.get(id=first["order"]["id"])).status == OrderStatus.refunded


async def test_virtual_fill_shows_system_filled_not_invented_members(client, rt, settings):
    a = await given_group_activity(size=4, virtual_fill=True, virtual_fill_percent=50)
    (u1, ad1), (u2, ad2) = await buyer(), await buyer()
    first, _ = await join(settings, a, u1, ad1, open_new=True)
    second, _ = await join(settings, a, u2, ad2, share_code=first["group"]["share_code"])
    await pay_order(client, token_for(u1), first["order"]["id"])
    await pay_order(client, token_for(u2), second["order"]["id"])
    await group_buy.expire_groups(now=utcnow() + timedelta(hours=25))
    d = await group_buy.get_group(group_id=first["group"]["id"])
    assert d["status"] == "succeeded" and d["virtual_seats"] == 2 and d["label"] == "系统成团"
    assert len(d["members"]) == 2  # only real members
    assert not await Refund.filter(order_id__in=[first["order"]["id"], second["order"]["id"]]).exists()


async def test_leader_opens_a_group_for_the_community_and_open_groups_nearest_full_first(rt, settings):
    a = await given_group_activity(size=3)
    (leader_user, _), (u1, ad1), (u2, ad2) = await buyer(), await buyer(), await buyer()
    community = await group_buy.open_group(a["id"], leader_user.id, leader_id=7, pickup_point_id=None)
    assert community["seats_taken"] == 0 and community["leader_id"] == 7
    other, _ = await join(settings, a, u1, ad1, open_new=True)
    detail = await group_buy.activity_detail(a["id"])
    assert [g["id"] for g in detail["open_groups"]] == [other["group"]["id"], community["id"]]
    joined, _ = await join(settings, a, u2, ad2, share_code=community["share_code"])
    assert joined["group"]["members"][0]["user_id"] == u2.id
    poster = await group_buy.group_poster_data(community["id"])
    assert poster["seats_left"] == 2 and poster["group_size"] == 3 and poster["on_sale"]
    assert poster["member_avatar_urls"] == () and poster["group_price_fen"] == 600


async def test_free_for_opener_with_pickup_is_paid_at_once(rt, settings):
    from huituan.models.leader import Leader, LeaderStatus, PickupPoint

    a = await given_group_activity(size=2, opener_free=True)
    (u1, _), (lu, _) = await buyer(), await buyer()
    leader = await Leader.create(user_id=lu.id, name="团长", phone="13800000000", status=LeaderStatus.approved)
    point = await PickupPoint.create(leader_id=leader.id, name="自提点", province="广东省", city="深圳市",
                                     address="地址 1 号")
    # The free unit is one unit (attacker pass: 150 units opened one free seat); nothing is written.
    with pytest.raises(ValidationFailed) as many:
        await group_buy.join_group(settings, u1.id, "k0", activity_id=a["id"], open_new=True, sku_id=a["sku_id"],
                                   quantity=150, delivery_mode="pickup", pickup_point_id=point.id)
    assert many.value.details["field"] == "quantity" and "仅限 1 件" in many.value.message
    assert await Order.all().count() == 0 and await Group.all().count() == 0
    order, _ = await group_buy.join_group(settings, u1.id, "k1", activity_id=a["id"], open_new=True,
                                          sku_id=a["sku_id"], delivery_mode="pickup", pickup_point_id=point.id)
    assert order["order"]["payable_fen"] == 0 and order["order"]["status"] == "paid"
    assert order["group"]["seats_paid"] == 1


async def test_a_paid_member_waits_for_the_group_before_shipping(client, rt, settings):
    from huituan.services.orders.shipping import ship_order

    a = await given_group_activity(size=2)
    (u1, ad1), (u2, ad2) = await buyer(), await buyer()
    first, _ = await join(settings, a, u1, ad1, open_new=True)
    await pay_order(client, token_for(u1), first["order"]["id"])
    with pytest.raises(InvalidState) as held:
        await ship_order(first["order"]["id"], "顺丰", "SF1")
    assert held.value.code == "order_waiting_for_group"
    second, _ = await join(settings, a, u2, ad2, share_code=first["group"]["share_code"])
    await pay_order(client, token_for(u2), second["order"]["id"])
    shipped = await ship_order(first["order"]["id"], "顺丰", "SF1")
    assert shipped["status"] == "shipped"
