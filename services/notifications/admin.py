"""Operators look at what was sent: notifications and outbox rows with filters, why one was
skipped or failed, retry of failed ones, and delivery counts per template."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.functions import Count

from huituan.core.errors import InvalidState, NotFound
from huituan.models.notification import Notification, NotificationStatus
from huituan.models.outbox import OutboxMessage, OutboxStatus
from huituan.services import outbox


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def notification_dict(n: Notification, outbox_row: OutboxMessage | None = None) -> dict[str, Any]:
    out = {
        "id": n.id, "event": n.event, "channel": str(n.channel), "status": str(n.status), "reason": n.reason,
        "error_code": n.error_code, "error": n.error, "user_id": n.user_id, "operator_id": n.operator_id,
        "touser": n.touser, "template_id": n.template_id, "values": n.values, "page": n.page, "urgent": n.urgent,
        "dedupe_key": n.dedupe_key, "due_at": _iso(n.due_at), "created_at": _iso(n.created_at),
        "sent_at": _iso(n.sent_at), "outbox": None,
    }
    if outbox_row is not None:
        out["outbox"] = outbox_dict(outbox_row)
    return out


def outbox_dict(r: OutboxMessage) -> dict[str, Any]:
    return {"id": r.id, "kind": str(r.kind), "dedupe_key": r.dedupe_key, "status": str(r.status),
            "attempts": r.attempts, "last_error": r.last_error, "next_attempt_at": _iso(r.next_attempt_at),
            "created_at": _iso(r.created_at), "sent_at": _iso(r.sent_at), "payload": r.payload}


def _window(qs, since: datetime | None, until: datetime | None):
    if since:
        qs = qs.filter(created_at__gte=since)
    if until:
        qs = qs.filter(created_at__lt=until)
    return qs


async def list_notifications(*, event: str | None = None, status: str | None = None, user_id: int | None = None,
                             channel: str | None = None, since: datetime | None = None,
                             until: datetime | None = None, page: int = 1, page_size: int = 20) -> dict[str, Any]:
    qs = _window(Notification.all(), since, until)
    if event:
        qs = qs.filter(event=event)
    if status:
        qs = qs.filter(status=status)
    if user_id:
        qs = qs.filter(user_id=user_id)
    if channel:
        qs = qs.filter(channel=channel)
    total = await qs.count()
    rows = await qs.order_by("-id").offset((page - 1) * page_size).limit(page_size)
    return {"items": [notification_dict(n) for n in rows], "total": total, "page": page, "page_size": page_size}


async def get_notification(notification_id: int) -> dict[str, Any]:
    n = await Notification.get_or_none(id=notification_id)
    if n is None:
        raise NotFound("通知不存在", code="notification_not_found", field="id")
    row = await OutboxMessage.get_or_none(dedupe_key=f"notification:{n.id}")
    return notification_dict(n, row)


async def retry_notification(notification_id: int) -> dict[str, Any]:
    """failed -> pending, its outbox row due now (the operator fixed the cause). A skipped one
    was never queued (no quota, turned off ...) and cannot be retried."""
    n = await Notification.get_or_none(id=notification_id)
    if n is None:
        raise NotFound("通知不存在", code="notification_not_found", field="id")
    if n.status != NotificationStatus.failed:
        raise InvalidState(f"只能重试发送失败的通知（当前：{n.status}）", code="notification_not_failed",
                           status=str(n.status))
    moved = await Notification.filter(id=n.id, status=NotificationStatus.failed).update(
        status=NotificationStatus.pending, reason="", error_code=None)
    if moved:
        await outbox.requeue(f"notification:{n.id}")
    return await get_notification(n.id)


async def list_outbox(*, kind: str | None = None, status: str | None = None, since: datetime | None = None,
                      until: datetime | None = None, page: int = 1, page_size: int = 20) -> dict[str, Any]:
    qs = _window(OutboxMessage.all(), since, until)
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    total = await qs.count()
    rows = await qs.order_by("-id").offset((page - 1) * page_size).limit(page_size)
    return {"items": [outbox_dict(r) for r in rows], "total": total, "page": page, "page_size": page_size}


async def retry_outbox(outbox_id: int) -> dict[str, Any]:
    """failed -> pending, due now (and its Notification, if it is one, back to pending)."""
    row = await OutboxMessage.get_or_none(id=outbox_id)
    if row is None:
        raise NotFound("发件箱记录不存在", code="outbox_not_found", field="id")
    if row.status != OutboxStatus.failed:
        raise InvalidState(f"只能重试失败的记录（当前：{row.status}）", code="outbox_not_failed", status=str(row.status))
    nid = (row.payload or {}).get("notification_id") if row.kind == "notification" else None
    if nid:
        await Notification.filter(id=nid, status=NotificationStatus.failed).update(
            status=NotificationStatus.pending, reason="", error_code=None)
    await outbox.requeue(row.dedupe_key)
    return outbox_dict(await OutboxMessage.get(id=row.id))


async def purge_notifications(older_than: datetime, batch: int = 5000) -> int:
    """Retention of the history: finished notifications (sent, skipped, failed) created before
    ``older_than`` are deleted, ``batch`` at a time; pending ones are never touched."""
    removed = 0
    finished = (NotificationStatus.sent, NotificationStatus.skipped, NotificationStatus.failed)
    while True:
        ids = await (Notification.filter(status__in=finished, created_at__lt=older_than)
                     .order_by("id").limit(batch).values_list("id", flat=True))
        if not ids:
            return removed
        removed += await Notification.filter(id__in=list(ids), status__in=finished).delete()
        if len(ids) < batch:
            return removed


async def delivery_stats(since: datetime | None = None, until: datetime | None = None) -> dict[str, Any]:
    """Counts per (event, template, status), and per template with failure reasons."""
    rows = await (_window(Notification.all(), since, until).annotate(n=Count("id"))
                  .group_by("event", "template_id", "status", "reason").values("event", "template_id", "status",
                                                                               "reason", "n"))
    by_template: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        key = (r["template_id"] or "", r["event"])
        item = by_template.setdefault(key, {"template_id": key[0], "event": key[1], "pending": 0, "sent": 0,
                                            "skipped": 0, "failed": 0, "reasons": {}})
        item[str(r["status"])] += int(r["n"])
        if r["reason"]:
            item["reasons"][r["reason"]] = item["reasons"].get(r["reason"], 0) + int(r["n"])
    return {"items": sorted(by_template.values(), key=lambda i: (i["template_id"], i["event"]))}
