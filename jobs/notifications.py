"""Reminder jobs: each reads its settings and calls one sweep; each sweep is idempotent
(a dedupe key per event and recipient), so a second run sends nothing new."""

from __future__ import annotations

from datetime import timedelta

from huituan.core.clock import utcnow
from huituan.core.runtime import Runtime
from huituan.services import outbox
from huituan.services.notifications import activities, admin, buyer, reminders


async def remind_unpaid_orders(rt: Runtime) -> int:
    n = await buyer.remind_unpaid_orders(rt.settings.unpaid_remind_before_seconds)
    outbox.kick(rt)
    return n


async def remind_fulfilled_orders(rt: Runtime) -> int:
    n = await buyer.remind_fulfilled_orders()
    outbox.kick(rt)
    return n


async def remind_not_picked_up(rt: Runtime) -> int:
    n = await buyer.remind_not_picked_up()
    outbox.kick(rt)
    return n


async def remind_commission_settled(rt: Runtime) -> int:
    n = await reminders.remind_commission_settled()
    outbox.kick(rt)
    return n


async def remind_withdrawals(rt: Runtime) -> int:
    n = await reminders.remind_withdrawals()
    outbox.kick(rt)
    return n


async def operator_digest(rt: Runtime) -> int:
    n = await reminders.send_operator_digest()
    outbox.kick(rt)
    return n


async def remind_groups_closing(rt: Runtime) -> int:
    n = await activities.remind_groups_closing()
    outbox.kick(rt)
    return n


async def remind_group_results(rt: Runtime) -> int:
    n = await activities.remind_group_results()
    outbox.kick(rt)
    return n


async def remind_bargain_progress(rt: Runtime) -> int:
    n = await activities.remind_bargain_progress()
    outbox.kick(rt)
    return n


async def remind_bargains_expiring(rt: Runtime) -> int:
    n = await activities.remind_bargains_expiring()
    outbox.kick(rt)
    return n


async def remind_flash_sales_starting(rt: Runtime) -> int:
    n = await activities.remind_flash_sales_starting()
    outbox.kick(rt)
    return n


async def purge_outbox(rt: Runtime) -> int:
    now = utcnow()
    removed = await outbox.purge_delivered(now - timedelta(days=rt.settings.outbox_retention_days))
    return removed + await admin.purge_notifications(now - timedelta(days=rt.settings.notification_retention_days))
