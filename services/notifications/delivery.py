"""The outbox handler of ``OutboxKind.notification``: send one Notification through its channel.

Temporary errors (network, -1 system busy, 45009 quota) raise and the outbox retries with
backoff; permanent ones (43101 the user refused, 40003 bad openid, 47003 bad value ... see
``outbox.PERMANENT_ERRCODES``) fail the outbox row at once and ``on_failed`` marks the
Notification failed with WeChat's code. A 43101 also clears the user's quota for the template:
WeChat says none is left.

A row already sent (a process died after sending, before the outbox row was marked) is not
sent again: the Notification's pending -> sent compare-and-set is the receipt.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from huituan.core.clock import utcnow
from huituan.models.notification import Channel, Notification, NotificationStatus, SubscriptionQuota

if TYPE_CHECKING:
    from huituan.core.runtime import Runtime

log = logging.getLogger("huituan.notifications")


async def deliver(rt: "Runtime", payload: dict[str, Any]) -> None:
    nid = payload["notification_id"]
    status = await Notification.filter(id=nid).values_list("status", flat=True)
    if not status or status[0] != NotificationStatus.pending:
        return  # sent already, or cancelled: nothing to do
    channel = payload["channel"]
    try:
        if channel == Channel.subscribe:
            await rt.wechat.miniprogram.send_subscribe_message(
                payload["touser"], payload["template_id"], payload["data"], page=payload.get("page") or None)
        elif channel == Channel.wecom_app:
            await rt.wechat.wecom.send_markdown(payload["touser"], payload["content"])
        elif channel == Channel.robot:
            await rt.wechat.wecom.robot_push(payload["content"], "markdown")
        else:
            raise ValueError(f"unknown channel {channel!r}")
    except Exception as exc:
        details = getattr(exc, "details", None) or {}
        await Notification.filter(id=nid, status=NotificationStatus.pending).update(
            error=f"{type(exc).__name__}: {exc} {details}"[:2000])
        raise
    await Notification.filter(id=nid, status=NotificationStatus.pending).update(
        status=NotificationStatus.sent, sent_at=utcnow(), error="")


async def on_failed(payload: dict[str, Any], error: str, errcode: int | None) -> None:
    """pending -> failed with WeChat's code (the outbox parked the row for good)."""
    nid = payload["notification_id"]
    reason = f"errcode_{errcode}" if errcode else "attempts_exhausted"
    await Notification.filter(id=nid, status=NotificationStatus.pending).update(
        status=NotificationStatus.failed, reason=reason[:64], error_code=errcode, error=error[:2000])
    if errcode == 43101 and payload.get("channel") == Channel.subscribe:
        row = await Notification.get_or_none(id=nid)
        if row is not None and row.user_id:
            await SubscriptionQuota.filter(user_id=row.user_id, template_id=row.template_id).update(remaining=0)
