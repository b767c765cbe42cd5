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


async def _complete_refund(client, refund_no: str) -> None:
    await outbox.wait_idle()
    resp = await client.post(f"/sandbox/pay/refunds/{refund_no}/complete", json={})
    assert resp.status == 200, await resp.text()


async def test_a_failed_group_refunds_a_member_whose_own_refund_request_was_open(client, rt, settings):
    """Attacker pass, session 8: the member's request was open when the group failed (the
    failure's refund could not start on a refunding order); the operator then rejected it and
    the order was paid again, in a failed group, with its money kept and fulfilment allowed."""
    from huituan.services.orders import refunds
    from huituan.services.orders.shipping import mark_ready, ship_order

    a = await given_group_activity(size=4)
    (u1, ad1), (u2, ad2) = await buyer(), await buyer()
    first, _ = await join(settings, a, u1, ad1, open_new=True)
    second, _ = await join(settings, a, u2, ad2, share_code=first["group"]["share_code"])
    for user, joined in ((u1, first), (u2, second)):
        await pay_order(client, token_for(user), joined["order"]["id"])
    o2 = second["order"]["id"]
    request = await refunds.request_refund(u2.id, o2, "不想要了", None)
    assert await group_buy.expire_groups(now=utcnow() + timedelta(hours=25)) == 1
    assert (await Order.get(id=o2)).status == OrderStatus.refunding  # its own request is still open
    await refunds.reject_refund(rt, request["id"], operator_id=None, note="不符合")
    assert (await Order.get(id=o2)).status == OrderStatus.paid
    # Paid again inside a failed group: never fulfilled, and the next sweep gives the money back.
    with pytest.raises(InvalidState) as held:
        await ship_order(o2, "顺丰", "SF2")
    assert held.value.code == "order_waiting_for_group"
    assert await group_buy.expire_groups(now=utcnow() + timedelta(hours=25)) == 1  # the kept money
    refund = await Refund.filter(order_id=o2, status=RefundStatus.processing).get()
    assert refund.amount_fen == 600
    assert await group_buy.expire_groups(now=utcnow() + timedelta(hours=25)) == 0  # once
    await _complete_refund(client, refund.refund_no)
    order = await Order.get(id=o2)
    assert order.status == OrderStatus.refunded and order.refunded_fen == order.paid_fen
    with pytest.raises(InvalidState):
        await mark_ready(o2)


async def test_a_partial_refund_keeps_the_seat_and_a_failed_group_returns_the_rest(client, rt, settings):
    """Attacker pass, session 8: refunding one of two units released the member's paid seat
    (the group sold it again) and at failure the other unit's money was kept."""
    from huituan.models.order import OrderItem
    from huituan.services.orders import refunds

    a = await given_group_activity(size=3, per_user_limit=2)
    (u1, ad1), (u2, ad2) = await buyer(), await buyer()
    first, _ = await join(settings, a, u1, ad1, open_new=True)
    second = await group_buy.join_group(settings, u2.id, "two-units", activity_id=a["id"],
                                        share_code=first["group"]["share_code"], sku_id=a["sku_id"], quantity=2,
                                        delivery_mode="express", address_id=ad2.id)
    second = second[0]
    for user, joined in ((u1, first), (u2, second)):
        await pay_order(client, token_for(user), joined["order"]["id"])
    o2 = second["order"]["id"]
    line = await OrderItem.get(order_id=o2)
    request = await refunds.request_refund(u2.id, o2, "退一件", [{"item_id": line.id, "quantity": 1}])
    await refunds.approve_refund(rt, request["id"], operator_id=None)
    await _complete_refund(client, request["refund_no"])
    order = await Order.get(id=o2)
    assert order.refunded_fen == 600 and order.paid_fen == 1200
    seat = await GroupSeat.get(order_id=o2)
    group = await Group.get(id=first["group"]["id"])
    assert seat.status == SeatStatus.paid and (group.seats_taken, group.seats_paid) == (2, 2)  # still theirs
    assert await group_buy.expire_groups(now=utcnow() + timedelta(hours=25)) == 1
    refund = await Refund.filter(order_id=o2, status=RefundStatus.processing).get()
    assert refund.amount_fen == 600  # the rest, not the whole order again
    await _complete_refund(client, refund.refund_no)
    order = await Order.get(id=o2)
    assert order.status == OrderStatus.refunded and order.refunded_fen == 1200
    assert (await GroupSeat.get(order_id=o2)).status == SeatStatus.released


async def test_a_pickup_order_of_an_open_or_failed_group_is_neither_announced_nor_collected(client, rt, settings):
    """Fulfilment waits for the group on every path: the leader's 到货 and the pickup code, as
    shipping already did (a pickup ticket exists from payment on)."""
    from huituan.models.leader import Leader, LeaderStatus, PickupPoint, PickupTicket
    from huituan.services.pickup.arrival import announce_arrival, verify_pickup

    a = await given_group_activity(size=2)
    (u1, _), (u2, _), (lu, _) = await buyer(), await buyer(), await buyer()
    leader = await Leader.create(user_id=lu.id, name="团长", phone="13800000000", status=LeaderStatus.approved)
    point = await PickupPoint.create(leader_id=leader.id, name="自提点", province="广东省", city="深圳市",
                                     address="地址 1 号", cutoff_time="23:59")

    async def member(user, **where):
        joined, _ = await group_buy.join_group(settings, user.id, f"pick-{user.id}", activity_id=a["id"],
                                               sku_id=a["sku_id"], delivery_mode="pickup",
                                               pickup_point_id=point.id, **where)
        await pay_order(client, token_for(user), joined["order"]["id"])
        return joined

    first = await member(u1, open_new=True)
    ticket = await PickupTicket.get(order_id=first["order"]["id"])
    arrival = await announce_arrival(lu.id, ticket.day)
    assert arrival["orders"] == 0 and (await Order.get(id=first["order"]["id"])).status == OrderStatus.paid
    with pytest.raises(InvalidState) as held:
        await verify_pickup(lu.id, ticket.code, redis=rt.redis)
    assert held.value.code == "order_waiting_for_group"
    assert (await PickupTicket.get(id=ticket.id)).verified_at is None  # the code still works later
    second = await member(u2, share_code=first["group"]["share_code"])
    assert (await Group.get(id=first["group"]["id"])).status == GroupStatus.succeeded
    assert (await announce_arrival(lu.id, ticket.day))["orders"] == 2
    assert (await verify_pickup(lu.id, ticket.code, redis=rt.redis))["order_id"] == first["order"]["id"]
    assert second["order"]["id"]


async def test_a_failed_group_with_a_free_opener_is_swept_once(client, rt, settings):
    """The kept-money sweep looks only at orders with money in them: a free opener's 0-fen order
    is not picked up again on every run."""
    from huituan.models.leader import Leader, LeaderStatus, PickupPoint

    a = await given_group_activity(size=3, opener_free=True)
    (u1, _), (lu, _) = await buyer(), await buyer()
    leader = await Leader.create(user_id=lu.id, name="团长", phone="13800000000", status=LeaderStatus.approved)
    point = await PickupPoint.create(leader_id=leader.id, name="自提点", province="广东省", city="深圳市",
                                     address="地址 1 号")
    opened, _ = await group_buy.join_group(settings, u1.id, "free-1", activity_id=a["id"], open_new=True,
                                           sku_id=a["sku_id"], delivery_mode="pickup", pickup_point_id=point.id)
    assert opened["order"]["payable_fen"] == 0
    assert await group_buy.expire_groups(now=utcnow() + timedelta(hours=25)) == 1
    assert await group_buy.refund_kept_money() == 0
    assert await group_buy.expire_groups(now=utcnow() + timedelta(hours=25)) == 0
