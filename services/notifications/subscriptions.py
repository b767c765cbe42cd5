"""What a user agreed to: one-time subscribe quota per template, and reminder preferences.

The mini-program calls ``wx.requestSubscribeMessage({tmplIds})`` (at most 3 ids a call) and
posts its result here: ``{"<template id>": "accept" | "reject" | "ban" | "filter", "errMsg": ...}``.
Each "accept" is one message we may send with that template (WeChat's one-time subscription),
counted per user and template; "ban" means never ask again (until a later "accept").
"""

from __future__ import annotations

from typing import Any

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from huituan.core.errors import InvalidState, NotFound, ValidationFailed
from huituan.models.notification import NotificationPreference, ReminderRequest, SubscriptionQuota
from huituan.services.notifications import registry
from huituan.services.notifications.service import _settings

ASK_AT_ONCE = 3  # wx.requestSubscribeMessage takes at most three template ids


def _templates(settings) -> dict[str, list[registry.EventSpec]]:
    """template id -> the user events it carries (only configured templates)."""
    out: dict[str, list[registry.EventSpec]] = {}
    for spec in registry.user_events():
        tid = registry.template_id(settings, spec.template)
        if tid:
            out.setdefault(tid, []).append(spec)
    return out


async def _preferences(user_id: int) -> dict[str, bool]:
    rows = await NotificationPreference.filter(user_id=user_id).values("event", "enabled")
    return {r["event"]: r["enabled"] for r in rows}


async def subscription_status(user_id: int, events: list[str] | None = None) -> dict[str, Any]:
    """Per template: remaining quota, banned, the events it carries; ``ask``: the next template
    ids to request (none left, not banned, some event still wanted), most urgent first."""
    for e in events or []:
        if e not in registry.REGISTRY or registry.REGISTRY[e].channel != "subscribe":
            raise ValidationFailed(f"events: 未知的通知类型 {e}", field="events")
    templates = _templates(_settings())
    quotas = {q.template_id: q for q in await SubscriptionQuota.filter(user_id=user_id)}
    prefs = await _preferences(user_id)
    items, ask = [], []
    for tid, specs in templates.items():
        q = quotas.get(tid)
        remaining, banned = (q.remaining, q.banned) if q else (0, False)
        items.append({"template_id": tid, "events": [s.name for s in specs], "titles": [s.title for s in specs],
                      "remaining": remaining, "banned": banned})
        wanted = [s for s in specs if prefs.get(s.name, True) and (not events or s.name in events)]
        if wanted and remaining == 0 and not banned:
            ask.append((not any(s.urgent for s in wanted), len(ask), tid))
    return {"templates": items, "ask": [tid for _, _, tid in sorted(ask)[:ASK_AT_ONCE]]}


async def record_subscription_result(user_id: int, result: dict[str, str]) -> dict[str, Any]:
    """Apply one ``wx.requestSubscribeMessage`` result; unknown template ids are refused
    (a typo in the client would otherwise look like consent)."""
    known = _templates(_settings())
    decisions = {k: v for k, v in result.items() if k != "errMsg"}
    if not decisions:
        raise ValidationFailed("result: 没有模板结果", field="result")
    for tid, decision in decisions.items():
        if tid not in known:
            raise ValidationFailed(f"result: 未知的模板 {tid}", field=f"result.{tid}")
        if decision not in ("accept", "reject", "ban", "filter"):
            raise ValidationFailed("result: 结果只能是 accept/reject/ban/filter", field=f"result.{tid}")
    async with in_transaction() as conn:
        for tid, decision in decisions.items():
            await SubscriptionQuota.bulk_create([SubscriptionQuota(user_id=user_id, template_id=tid)],
                                                ignore_conflicts=True, using_db=conn)
            q = SubscriptionQuota.filter(user_id=user_id, template_id=tid).using_db(conn)
            if decision == "accept":
                await q.update(remaining=F("remaining") + 1, granted_total=F("granted_total") + 1, banned=False)
            elif decision == "ban":
                await q.update(banned=True)
    return await subscription_status(user_id)


async def grant(user_id: int, template_id: str, count: int = 1) -> None:
    """``count`` accepts at once (tests, demo data)."""
    await SubscriptionQuota.bulk_create([SubscriptionQuota(user_id=user_id, template_id=template_id)],
                                        ignore_conflicts=True)
    await SubscriptionQuota.filter(user_id=user_id, template_id=template_id).update(
        remaining=F("remaining") + count, granted_total=F("granted_total") + count, banned=False)


async def get_preferences(user_id: int) -> dict[str, Any]:
    prefs = await _preferences(user_id)
    return {"items": [{"event": s.name, "title": s.title, "enabled": prefs.get(s.name, True),
                       "can_disable": s.can_disable} for s in registry.user_events()]}


async def set_preferences(user_id: int, changes: dict[str, bool]) -> dict[str, Any]:
    """Turn reminder kinds off or on; unknown or fixed kinds are refused by name."""
    for event in changes:
        spec = registry.REGISTRY.get(event)
        if spec is None or spec.channel != "subscribe":
            raise ValidationFailed(f"events: 未知的通知类型 {event}", field=f"events.{event}")
        if not spec.can_disable:
            raise ValidationFailed(f"events: {spec.title}不能关闭", field=f"events.{event}")
    async with in_transaction() as conn:
        for event, enabled in changes.items():
            await NotificationPreference.bulk_create([NotificationPreference(user_id=user_id, event=event,
                                                                             enabled=enabled)],
                                                     ignore_conflicts=True, using_db=conn)
            await NotificationPreference.filter(user_id=user_id, event=event).using_db(conn).update(enabled=enabled)
    return await get_preferences(user_id)


REMINDABLE = ("flash_sale_starting",)  # events a user asks for ahead ("提醒我")
MAX_REMINDERS = 200


async def list_reminders(user_id: int) -> dict[str, Any]:
    rows = await ReminderRequest.filter(user_id=user_id).order_by("-id").limit(MAX_REMINDERS)
    return {"items": [{"event": r.event, "ref_id": r.ref_id, "created_at": r.created_at.isoformat()} for r in rows]}


async def ask_reminder(user_id: int, event: str, ref_id: int) -> dict[str, Any]:
    """Remember that the user wants ``event`` about ``ref_id`` (idempotent). The message still
    needs their consent for the template (``subscription_status`` tells which to request)."""
    if event not in REMINDABLE:
        raise ValidationFailed(f"event: 不能预约这种提醒 {event}", field="event")
    await _check_remindable(event, ref_id)
    if await ReminderRequest.filter(user_id=user_id).count() >= MAX_REMINDERS:
        raise ValidationFailed(f"event: 最多预约 {MAX_REMINDERS} 个提醒", field="event")
    await ReminderRequest.bulk_create([ReminderRequest(user_id=user_id, event=event, ref_id=ref_id)],
                                      ignore_conflicts=True)
    return await list_reminders(user_id)


async def _check_remindable(event: str, ref_id: int) -> None:
    """What the reminder is about exists and is still ahead: a reminder for a sale that does not
    exist was stored (attacker pass, session 7) and could never be sent."""
    from huituan.core.clock import as_utc, utcnow
    from huituan.models.flash_sale import FlashSession

    session = await FlashSession.get_or_none(id=ref_id)
    if session is None:
        raise NotFound("秒杀场次不存在", code="flash_session_not_found", field="ref_id")
    if as_utc(session.ends_at) <= utcnow():
        raise InvalidState("该秒杀场次已结束", code="flash_ended")


async def cancel_reminder(user_id: int, event: str, ref_id: int) -> dict[str, Any]:
    await ReminderRequest.filter(user_id=user_id, event=event, ref_id=ref_id).delete()
    return await list_reminders(user_id)


async def reminder_users(event: str, ref_id: int) -> list[int]:
    """Who asked for ``event`` about ``ref_id`` (for the sweep that sends it)."""
    return list(await ReminderRequest.filter(event=event, ref_id=ref_id).order_by("id").values_list("user_id", flat=True))
