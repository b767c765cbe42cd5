"""Arrival (到货) and pickup verification (核销).

Arrival: the leader announces that the goods of a point arrived; every paid pickup order of
the point up to that day moves paid -> ready_for_pickup, and each consumer is notified once
(one notification per consumer and point day, with their pickup codes, through the
notification service: consent, preferences and quiet hours apply).

Verification: by the code (or the scanned QR text ``huituan:pickup:<code>``) only by a leader
or staff of the order's point; ready_for_pickup | paid -> completed (the commission clocks
start); the ticket is claimed by a compare-and-set on verified_at, so a second verification
is refused and says when and by whom.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

from tortoise.transactions import in_transaction

from huituan.core import sql
from huituan.core.clock import china_display, utcnow
from huituan.core.errors import InvalidState, NotFound, RateLimited, ValidationFailed
from huituan.models.leader import PickupPoint, PickupTicket, PointDay
from huituan.models.notification import NotificationStatus
from huituan.models.order import ActivityType, Order, OrderItem, OrderStatus
from huituan.services import notifications
from huituan.services.orders import activity, wechat_shipping
from huituan.services.orders.lifecycle import complete_order
from huituan.services.pickup.day import point_for_actor, staff_leader_ids

log = logging.getLogger("huituan.pickup")

QR_PREFIX = "huituan:pickup:"


async def _ensure_point_day(point_id: int, day: str, conn=None) -> None:
    await PointDay.bulk_create([PointDay(pickup_point_id=point_id, day=day)], ignore_conflicts=True, using_db=conn)


async def announce_arrival(user_id: int, day: str, actor_name: str = "", pickup_point_id: int | None = None
                           ) -> dict[str, Any]:
    """paid -> ready_for_pickup for the point's tickets of ``day`` and earlier; returns
    {point, day, orders, consumers, notified}. Safe to repeat: nothing is notified twice."""
    point = await point_for_actor(user_id, pickup_point_id)
    tickets = await PickupTicket.filter(pickup_point_id=point.id, day__lte=day, verified_at=None).order_by("id")
    by_order = {t.order_id: t for t in tickets}
    paid_rows = await Order.filter(id__in=list(by_order) or [0], status=OrderStatus.paid).values(
        "id", "order_no", "activity_type", "activity_ref")
    # Orders their activity holds back (a group not yet succeeded, or failed and being refunded)
    # are not announced: the goods are not theirs to collect yet, or at all.
    order_nos = {r["id"]: r["order_no"] for r in paid_rows
                 if r["activity_type"] == ActivityType.normal or not await activity.fulfilment_held(SimpleNamespace(**r))}
    paid = sorted(order_nos)  # rows locked in id order: two announcements at once wait, never deadlock
    now = utcnow()
    moved_orders: list[int] = []
    per_user: dict[int, list[PickupTicket]] = {}
    notified = 0
    async with in_transaction() as conn:
        for oid in paid:
            n = await Order.filter(id=oid, status=OrderStatus.paid).using_db(conn).update(
                status=OrderStatus.ready_for_pickup, ready_at=now)
            if n:
                # WeChat keeps the payment frozen until the delivery is uploaded (self pickup).
                await wechat_shipping.enqueue_shipping_info(oid, conn)
                moved_orders.append(oid)
                per_user.setdefault(by_order[oid].user_id, []).append(by_order[oid])
        if moved_orders:
            await PickupTicket.filter(order_id__in=moved_orders).using_db(conn).update(notified_at=now)
        titles = await _first_titles([t.order_id for ts in per_user.values() for t in ts], conn)
        for uid, ts in per_user.items():
            codes = "、".join(t.code for t in ts)
            # Once per consumer and point day (the dedupe key), through the notification
            # service: it spends the consumer's consent, honours their preferences and records
            # why a notice was skipped.
            status = await notifications.notify("order_ready_for_pickup", uid, {
                "character_string1": order_nos[ts[0].order_id],
                "thing2": titles.get(ts[0].order_id, "-") + (f" 等{len(ts)}单" if len(ts) > 1 else ""),
                "thing3": point.name,
                "thing4": f"提货码{codes}",
            }, conn=conn, dedupe_key=f"pickup:{point.id}:{ts[0].day}", page_args={"order_id": ts[0].order_id})
            notified += status == NotificationStatus.pending
        await _ensure_point_day(point.id, day, conn)
        await PointDay.filter(pickup_point_id=point.id, day=day, arrived_at=None).using_db(conn).update(
            arrived_at=now, arrived_by=actor_name[:64])
    if moved_orders:
        notifications.kick()
    return {"pickup_point_id": point.id, "point_name": point.name, "day": day, "orders": len(moved_orders),
            "consumers": len(per_user), "notified": notified}


async def _first_titles(order_ids: list[int], conn) -> dict[int, str]:
    out: dict[int, str] = {}
    for oid, title in await OrderItem.filter(order_id__in=order_ids or [0]).using_db(conn).order_by("id").values_list(
            "order_id", "title"):
        out.setdefault(oid, title)
    return out


def normalize_code(text: str) -> str:
    t = (text or "").strip()
    if t.lower().startswith(QR_PREFIX):
        t = t[len(QR_PREFIX):]
    t = t.translate(str.maketrans("０１２３４５６７８９", "0123456789")).replace(" ", "")
    if not (t.isascii() and t.isdigit()) or not 6 <= len(t) <= 12:
        raise ValidationFailed("提货码应为 6 到 12 位数字（一般为 8 位）", field="code")
    return t


# Codes that name no ticket of the actor's points, per actor: past this many in the window the
# actor is refused for the rest of it. A customer's code is what collects the goods, and 8
# digits are only safe against guessing when guesses are few (attacker pass, session 7: 60
# random codes in a row, no limit).
VERIFY_MISSES_MAX = 20
VERIFY_MISSES_WINDOW_SECONDS = 600


async def verify_pickup(user_id: int, code: str, actor_name: str = "", *, redis) -> dict[str, Any]:
    """Verify one pickup code at the actor's points: ticket unverified -> verified, order
    ready_for_pickup | paid -> completed, in one transaction. Wrong codes are counted per actor
    (``redis``): 429 past ``VERIFY_MISSES_MAX`` in ``VERIFY_MISSES_WINDOW_SECONDS``."""
    code = normalize_code(code)
    misses_key = f"pickup:verify_misses:{user_id}"
    if int(await redis.get(misses_key) or 0) >= VERIFY_MISSES_MAX:
        ttl = await redis.ttl(misses_key)
        raise RateLimited(f"提货码输错次数过多，请 {max(1, int(ttl) // 60 + 1)} 分钟后再试",
                          code="pickup_verify_throttled", field="code", retry_after_seconds=max(int(ttl), 1))
    points = await _actor_point_ids(user_id)
    if not points:
        await point_for_actor(user_id)  # raises the right refusal (not a leader, no point)
    ticket = await PickupTicket.filter(pickup_point_id__in=points, code=code).order_by("-id").first()
    if ticket is None:
        async with redis.pipeline(transaction=True) as pipe:
            pipe.incr(misses_key)
            pipe.expire(misses_key, VERIFY_MISSES_WINDOW_SECONDS, nx=True)
            await pipe.execute()
        if await PickupTicket.filter(code=code).exists():
            raise NotFound("该提货码不属于您的自提点，请让顾客到下单时选择的自提点提货", code="pickup_code_other_point",
                           field="code")
        raise NotFound("提货码不存在，请核对后重试", code="pickup_code_not_found", field="code")
    if ticket.verified_at is not None:
        raise _already(ticket)
    if await activity.fulfilment_held(await Order.get(id=ticket.order_id)):
        raise activity.held_error()
    now = utcnow()
    async with in_transaction() as conn:
        # The order's row first, as 到货 takes it (order, then ticket): taken the other way round
        # the two deadlocked on PostgreSQL (attacker pass, session 8).
        await sql.lock_row(conn, "order", ticket.order_id)
        claimed = await PickupTicket.filter(id=ticket.id, verified_at=None).using_db(conn).update(
            verified_at=now, verified_by_user_id=user_id, verified_by_name=actor_name[:64])
        if not claimed:
            raise _already(await PickupTicket.get(id=ticket.id))
        if await Order.filter(id=ticket.order_id, status=OrderStatus.paid).using_db(conn).exists():
            # Picked up before the arrival was announced: upload the delivery first, so that
            # completing it reminds WeChat to release the money.
            await wechat_shipping.enqueue_shipping_info(ticket.order_id, conn)
        if not await complete_order(ticket.order_id, conn,
                                    expected=(OrderStatus.ready_for_pickup, OrderStatus.paid)):
            order = await Order.get(id=ticket.order_id).using_db(conn)
            raise InvalidState(f"订单当前状态（{_STATUS.get(str(order.status), order.status)}）不能核销",
                               code="order_not_verifiable", status=str(order.status))
    notifications.kick()  # WeChat's receipt reminder (wechat_confirm_receive), after commit
    order = await Order.get(id=ticket.order_id)
    items = await OrderItem.filter(order_id=order.id).order_by("id")
    return {"order_id": order.id, "order_no": order.order_no, "code": code, "verified_at": now,
            "items": [{"title": i.title, "sku_name": i.sku_name, "quantity": i.quantity - i.refunded_quantity}
                      for i in items]}


_STATUS = {"unpaid": "待付款", "paid": "已付款", "ready_for_pickup": "待自提", "completed": "已完成",
           "cancelled": "已取消", "refunding": "退款中", "refunded": "已退款", "partly_refunded": "部分退款"}


def _already(ticket: PickupTicket) -> InvalidState:
    who = ticket.verified_by_name or f"用户{ticket.verified_by_user_id}"
    when = china_display(ticket.verified_at, "%m-%d %H:%M") if ticket.verified_at else "-"
    return InvalidState(f"该提货码已于 {when} 由 {who} 核销，不能重复核销", code="pickup_already_verified",
                        verified_at=ticket.verified_at.isoformat() if ticket.verified_at else None,
                        verified_by=who)


async def _actor_point_ids(user_id: int) -> list[int]:
    from huituan.models.leader import Leader, LeaderStatus

    leader_ids = list(await Leader.filter(user_id=user_id, status=LeaderStatus.approved).values_list("id", flat=True))
    # The same staff as point_for_actor (a disabled leader's staff still verified codes here;
    # attacker pass, session 8).
    leader_ids += await staff_leader_ids(user_id)
    return list(await PickupPoint.filter(leader_id__in=leader_ids or [0]).values_list("id", flat=True))


async def consumer_tickets(user_id: int, order_id: int | None = None) -> list[dict[str, Any]]:
    """A consumer's pickup codes (the mini-program shows the code and its QR text)."""
    qs = PickupTicket.filter(user_id=user_id)
    if order_id is not None:
        qs = qs.filter(order_id=order_id)
    tickets = await qs.order_by("-id").limit(50)
    points = dict(await PickupPoint.filter(id__in=[t.pickup_point_id for t in tickets] or [0]).values_list("id", "name"))
    return [{"order_id": t.order_id, "pickup_point_id": t.pickup_point_id, "point_name": points.get(t.pickup_point_id, ""),
             "day": t.day, "code": t.code, "qr_text": QR_PREFIX + t.code, "verified_at": t.verified_at}
            for t in tickets]
