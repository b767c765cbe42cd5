"""Activity reminders: group closing soon, group succeeded or failed, bargain progress and
expiring, flash sale starting (for users who asked). Sweeps over the activities' own tables;
each is idempotent by its dedupe key (a second run sends nothing)."""

from __future__ import annotations

from datetime import timedelta

from huituan.core.clock import china_date, utcnow
from huituan.models.bargain import Bargain, BargainStatus
from huituan.models.flash_sale import FlashItem, FlashSession
from huituan.models.group_buy import ActivityStatus, Group, GroupSeat, GroupStatus, SeatStatus
from huituan.models.notification import NotificationStatus
from huituan.services.notifications.service import already_notified, notify
from huituan.services.notifications.subscriptions import reminder_users


async def remind_groups_closing(within_minutes: int = 120, limit: int = 500) -> int:
    """Open groups that expire within ``within_minutes`` with seats left: each paid member hears
    how many seats are left and when it closes (once per group)."""
    now = utcnow()
    groups = await (Group.filter(status=GroupStatus.open, expires_at__gt=now,
                                 expires_at__lte=now + timedelta(minutes=within_minutes))
                    .prefetch_related("activity").order_by("expires_at").limit(limit))
    queued = 0
    for g in groups:
        left = g.size - g.seats_taken
        if left <= 0:
            continue
        seats = await GroupSeat.filter(group_id=g.id, status=SeatStatus.paid).values("user_id")
        done = await already_notified("group_closing_soon", [(f"group:{g.id}", s["user_id"]) for s in seats])
        for s in seats:
            if (f"group:{g.id}", s["user_id"]) in done:
                continue
            status = await notify("group_closing_soon", s["user_id"], {
                "thing1": g.activity.title, "number2": left, "time3": g.expires_at,
                "thing4": "邀请好友参团，成团更快",
            }, conn=None, dedupe_key=f"group:{g.id}", page_args={"code": g.share_code})
            queued += status == NotificationStatus.pending
    return queued


async def remind_group_results(since_hours: int = 72, limit: int = 500) -> int:
    """Safety net for the group result (group_buy queues it when the group finishes): groups that
    succeeded or failed in the last ``since_hours`` and every member who paid, with the same
    event, key and values, so nobody hears it twice."""
    since = utcnow() - timedelta(hours=since_hours)
    groups = await (Group.filter(status__in=(GroupStatus.succeeded, GroupStatus.failed), finished_at__gte=since)
                    .prefetch_related("activity").order_by("id").limit(limit))
    queued = 0
    for g in groups:
        ok = g.status == GroupStatus.succeeded
        event = "group_succeeded" if ok else "group_failed"
        users = sorted(set(await GroupSeat.filter(group_id=g.id, paid_at__isnull=False).values_list("user_id", flat=True)))
        done = await already_notified(event, [(f"group:{g.id}", u) for u in users])
        for uid in users:
            if (f"group:{g.id}", uid) in done:
                continue
            status = await notify(event, uid, {
                "thing1": g.activity.title, "phrase2": "拼团成功" if ok else "拼团失败",
                "thing3": "我们将尽快为您发货" if ok else "款项将原路退回",
            }, conn=None, dedupe_key=f"group:{g.id}", page_args={"code": g.share_code})
            queued += status == NotificationStatus.pending
    return queued


async def remind_bargain_progress(limit: int = 1000) -> int:
    """Active bargains with helps: the owner hears the progress at most once a China day."""
    today = china_date().isoformat()
    rows = await (Bargain.filter(status=BargainStatus.active, helps_count__gt=0, expires_at__gt=utcnow())
                  .prefetch_related("activity").order_by("id").limit(limit))
    done = await already_notified("bargain_progress", [(f"bargain:{b.id}:{today}", b.user_id) for b in rows])
    queued = 0
    for b in rows:
        if (f"bargain:{b.id}:{today}", b.user_id) in done:
            continue
        a = b.activity
        status = await notify("bargain_progress", b.user_id, {
            "thing1": a.title, "amount2": a.start_price_fen - b.current_price_fen, "amount3": b.current_price_fen,
            "number4": max(a.helpers_needed - b.helps_count, 0), "thing5": "继续邀请好友帮砍",
        }, conn=None, dedupe_key=f"bargain:{b.id}:{today}", page_args={"bargain_id": b.id})
        queued += status == NotificationStatus.pending
    return queued


async def remind_bargains_expiring(within_minutes: int = 120, limit: int = 1000) -> int:
    """Bargains not bought that end within ``within_minutes``: one reminder each."""
    now = utcnow()
    rows = await (Bargain.filter(status__in=(BargainStatus.active, BargainStatus.floor_reached), expires_at__gt=now,
                                 expires_at__lte=now + timedelta(minutes=within_minutes))
                  .prefetch_related("activity").order_by("expires_at").limit(limit))
    done = await already_notified("bargain_expiring", [(f"bargain:{b.id}", b.user_id) for b in rows])
    queued = 0
    for b in rows:
        if (f"bargain:{b.id}", b.user_id) in done:
            continue
        status = await notify("bargain_expiring", b.user_id, {
            "thing1": b.activity.title, "amount2": b.current_price_fen, "time3": b.expires_at,
            "thing4": "砍价即将结束，尽快下单",
        }, conn=None, dedupe_key=f"bargain:{b.id}", page_args={"bargain_id": b.id})
        queued += status == NotificationStatus.pending
    return queued


async def remind_flash_sales_starting(within_minutes: int = 10, limit: int = 50) -> int:
    """Active sessions starting within ``within_minutes``: everyone who pressed 提醒我 hears it."""
    now = utcnow()
    sessions = await (FlashSession.filter(status=ActivityStatus.active, starts_at__gt=now,
                                          starts_at__lte=now + timedelta(minutes=within_minutes))
                      .order_by("starts_at").limit(limit))
    queued = 0
    for s in sessions:
        prices = await FlashItem.filter(session_id=s.id).values_list("flash_price_fen", flat=True)
        users = await reminder_users("flash_sale_starting", s.id)
        done = await already_notified("flash_sale_starting", [(f"flash:{s.id}", u) for u in users])
        for uid in users:
            if (f"flash:{s.id}", uid) in done:
                continue
            status = await notify("flash_sale_starting", uid, {
                "thing1": s.title, "amount2": min(prices) if prices else 0, "time3": s.starts_at,
                "thing4": "您预约的秒杀即将开始",
            }, conn=None, dedupe_key=f"flash:{s.id}", page_args={"session_id": s.id}, urgent=True)
            queued += status == NotificationStatus.pending
    return queued
