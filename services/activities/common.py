"""What the three activities share: time windows, member notices through the outbox."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from typing import Any

from huituan.core.clock import as_utc, utcnow
from huituan.core.errors import InvalidState, NotFound, ValidationFailed
from huituan.core.runtime import get_runtime
from huituan.models.group_buy import ActivityStatus
from huituan.models.order import Order, OrderStatus, Refund, RefundStatus
from huituan.services import notifications, outbox
from huituan.services.orders.numbers import new_number
from huituan.services.orders.payments import enqueue_refund

log = logging.getLogger("huituan.activities")

_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def share_code() -> str:
    """10 characters, no 0/O/1/I: read aloud and typed from a poster without mistakes."""
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10))


def iso(dt: datetime | None) -> str | None:
    return as_utc(dt).isoformat() if dt else None


def seconds_left(until: datetime, now: datetime | None = None) -> int:
    return max(0, int((as_utc(until) - (now or utcnow())).total_seconds()))


def check_window(status: str, starts_at: datetime, ends_at: datetime, *, what: str = "活动",
                 now: datetime | None = None) -> None:
    """An activity takes part only while active and inside its time window."""
    now = now or utcnow()
    if status != ActivityStatus.active:
        raise InvalidState(f"{what}未开始或已停止", code="activity_not_active")
    if now < as_utc(starts_at):
        raise InvalidState(f"{what}尚未开始", code="activity_not_started", starts_at=iso(starts_at))
    if now >= as_utc(ends_at):
        raise InvalidState(f"{what}已结束", code="activity_ended", ends_at=iso(ends_at))


def check_times(starts_at: datetime, ends_at: datetime) -> None:
    if as_utc(ends_at) <= as_utc(starts_at):
        raise ValidationFailed("ends_at: 结束时间必须晚于开始时间", field="ends_at")


def not_found(what: str, code: str, field: str) -> NotFound:
    return NotFound(f"{what}不存在", code=code, field=field)


async def refund_paid_order(conn, order_id: int, reason: str) -> bool:
    """paid -> refunding and a refund of everything paid, submitted at once (no review): the
    activity failed the buyer (group expired, claim lapsed). The refund notify finishes it like
    any refund of the order's own money (REFUND_SUCCEEDED, commission cancelled)."""
    order = await Order.get(id=order_id).using_db(conn)
    moved = await Order.filter(id=order_id, status=OrderStatus.paid).using_db(conn).update(
        status=OrderStatus.refunding, status_before_refund=OrderStatus.paid.value)
    if moved != 1:
        return False
    refund = await Refund.create(refund_no=new_number("R"), order_id=order.id, user_id=order.user_id,
                                 status=RefundStatus.processing, amount_fen=order.paid_fen - order.refunded_fen,
                                 items=[], whole_order=True, reason=reason[:200], using_db=conn)
    await enqueue_refund(refund, order, total_fen=order.paid_fen, conn=conn)
    log.info("activity refund %s queued for order %s: %s", refund.refund_no, order.order_no, reason)
    return True


async def notify_member(conn, user_id: int, key: str, page: str, data: dict[str, str],
                        event: str = "activity_result") -> bool:
    """A subscribe message to one member through the notification service (consent, preference,
    quiet hours, one per event and key), queued in the caller's transaction. Template keywords
    of ``activity_result``: thing1 活动, phrase2 结果, thing3 说明."""
    status = await notifications.notify(event, user_id, data, conn=conn, dedupe_key=key, page=page)
    return status == "pending"


def kick() -> None:
    try:
        outbox.kick(get_runtime())
    except Exception as exc:  # no runtime in CLI use; the outbox job delivers later
        log.debug("outbox kick skipped: %s", exc)


def thing(text: str, limit: int = 20) -> str:
    text = (text or "").strip() or "-"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def members_public(users: list[Any]) -> list[dict[str, Any]]:
    return [{"user_id": u.id, "nickname": u.nickname, "avatar_url": u.avatar_url} for u in users]


async def rate_limit(redis, key: str, limit: int, window_seconds: int = 60) -> None:
    """Fixed-window limit in Redis: more than ``limit`` hits in the window -> 429."""
    from huituan.core.errors import RateLimited

    bucket = int(utcnow().timestamp()) // window_seconds
    full = f"rl:{key}:{bucket}"
    pipe = redis.pipeline(transaction=False)
    pipe.incr(full)
    pipe.expire(full, window_seconds + 5)
    count, _ = await pipe.execute()
    if int(count) > limit:
        raise RateLimited("操作太频繁，请稍后再试", retry_after_seconds=window_seconds)
