"""Buyers hear about their order by subscribe message: shipped, ready for pickup, refund
finished (queued with the status change), plus the sweeps that remind them: unpaid before it
closes, not yet picked up (daily from day 2). Keywords: see registry.py."""

from __future__ import annotations

from datetime import timedelta

from huituan.core.clock import as_utc, china_date, utcnow
from huituan.models.leader import PickupPoint
from huituan.models.notification import Notification, NotificationStatus
from huituan.models.order import DeliveryMode, Order, OrderItem, OrderStatus
from huituan.services.notifications.service import already_notified, notify


async def _first_title(order_id: int, conn) -> str:
    items = await OrderItem.filter(order_id=order_id).using_db(conn).order_by("id").values_list("title", flat=True)
    if not items:
        return "-"
    return items[0] if len(items) == 1 else f"{items[0]} 等{len(items)}件"


async def _point_name(point_id: int | None, conn) -> str:
    names = await PickupPoint.filter(id=point_id or 0).using_db(conn).values_list("name", flat=True)
    return names[0] if names else "自提点"


async def order_shipped(order_id: int, conn) -> bool:
    order = await Order.get(id=order_id).using_db(conn)
    status = await notify("order_shipped", order.user_id, {
        "character_string1": order.order_no,
        "thing2": await _first_title(order.id, conn),
        "thing3": order.express_company or "-",
        "character_string4": order.express_no or "-",
    }, conn=conn, dedupe_key=f"order:{order.id}", page_args={"order_id": order.id})
    return status == NotificationStatus.pending


async def order_ready_for_pickup(order_id: int, conn) -> bool:
    order = await Order.get(id=order_id).using_db(conn)
    status = await notify("order_ready_for_pickup", order.user_id, {
        "character_string1": order.order_no,
        "thing2": await _first_title(order.id, conn),
        "thing3": await _point_name(order.pickup_point_id, conn),
        "thing4": "商品已到自提点，请凭提货码及时提货",
    }, conn=conn, dedupe_key=f"order:{order.id}", page_args={"order_id": order.id})
    return status == NotificationStatus.pending


async def refund_result(order_id: int, refund_no: str, amount_fen: int, succeeded: bool, conn) -> bool:
    order = await Order.get(id=order_id).using_db(conn)
    status = await notify("refund_result", order.user_id, {
        "character_string1": order.order_no,
        "amount2": amount_fen,
        "phrase3": "退款成功" if succeeded else "退款失败",
        "thing4": "款项将原路退回" if succeeded else "请联系客服处理",
    }, conn=conn, dedupe_key=f"refund:{refund_no}", page_args={"order_id": order.id})
    return status == NotificationStatus.pending


async def remind_unpaid_orders(before_seconds: int, limit: int = 500) -> int:
    """Unpaid orders closing within ``before_seconds``: one urgent reminder each."""
    now = utcnow()
    orders = await (Order.filter(status=OrderStatus.unpaid, pay_deadline__gt=now,
                                 pay_deadline__lte=now + timedelta(seconds=before_seconds))
                    .order_by("pay_deadline").limit(limit))
    done = await already_notified("order_unpaid", [(f"order:{o.id}", o.user_id) for o in orders])
    queued = 0
    for order in orders:
        if (f"order:{order.id}", order.user_id) in done:
            continue
        status = await notify("order_unpaid", order.user_id, {
            "character_string1": order.order_no,
            "thing2": await _first_title(order.id, None),
            "amount3": order.payable_fen,
            "time4": order.pay_deadline,
            "thing5": "订单即将关闭，请尽快完成支付",
        }, conn=None, dedupe_key=f"order:{order.id}", page_args={"order_id": order.id})
        queued += status == NotificationStatus.pending
    return queued


async def remind_fulfilled_orders(since_hours: int = 48, limit: int = 1000) -> int:
    """Safety net for shipped / ready-for-pickup messages: orders that moved in the last
    ``since_hours`` get theirs (the same dedupe key as the status change, so never twice). A
    ready order is also skipped when its buyer heard about a pickup since it became ready:
    a leader's arrival tells each buyer once for all their orders at the point."""
    since = utcnow() - timedelta(hours=since_hours)
    queued = 0
    rows = await (Order.filter(status=OrderStatus.shipped, shipped_at__gte=since)
                  .order_by("id").limit(limit).values("id", "user_id"))
    done = await already_notified("order_shipped", [(f"order:{r['id']}", r["user_id"]) for r in rows])
    for r in rows:
        if (f"order:{r['id']}", r["user_id"]) not in done:
            queued += await order_shipped(r["id"], None)
    rows = await (Order.filter(status=OrderStatus.ready_for_pickup, delivery_mode=DeliveryMode.pickup,
                               ready_at__gte=since).order_by("id").limit(limit).values("id", "user_id", "ready_at"))
    told: dict[int, list] = {}
    for n in await Notification.filter(event="order_ready_for_pickup", user_id__in=[r["user_id"] for r in rows] or [0],
                                       created_at__gte=since - timedelta(minutes=1)).values("user_id", "created_at"):
        told.setdefault(n["user_id"], []).append(as_utc(n["created_at"]))
    for r in rows:
        ready = as_utc(r["ready_at"]) - timedelta(minutes=1)  # the message is written with the change
        if any(t >= ready for t in told.get(r["user_id"], ())):
            continue
        queued += await order_ready_for_pickup(r["id"], None)
    return queued


async def remind_not_picked_up(limit: int = 2000) -> int:
    """Orders waiting at the pickup point since before today (China day): one reminder a day,
    from the second day on, with how many days they have waited."""
    today = china_date()
    orders = await (Order.filter(status=OrderStatus.ready_for_pickup, ready_at__isnull=False)
                    .order_by("id").limit(limit))
    done = await already_notified("order_not_picked_up",
                                  [(f"order:{o.id}:{today.isoformat()}", o.user_id) for o in orders])
    queued = 0
    for order in orders:
        days = (today - china_date(order.ready_at)).days + 1
        if days < 2 or (f"order:{order.id}:{today.isoformat()}", order.user_id) in done:
            continue
        status = await notify("order_not_picked_up", order.user_id, {
            "character_string1": order.order_no,
            "thing2": await _first_title(order.id, None),
            "thing3": await _point_name(order.pickup_point_id, None),
            "number4": days,
            "thing5": "商品已等您多日，请尽快到自提点提货",
        }, conn=None, dedupe_key=f"order:{order.id}:{today.isoformat()}", page_args={"order_id": order.id})
        queued += status == NotificationStatus.pending
    return queued
