"""Races on PostgreSQL with real parallel connections: consent is never spent twice and never
overdrawn, and one event reaches one recipient once however many callers race."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from tortoise.transactions import in_transaction

from huituan.models.notification import Notification, NotificationStatus, SubscriptionQuota
from huituan.models.outbox import OutboxMessage
from huituan.services import notifications
from huituan.services.notifications.subscriptions import grant
from tests.factories import make_user

TPL = "sandbox-tpl-withdrawal-result"
VALUES = {"amount1": 100, "phrase2": "已到账", "time3": datetime(2026, 12, 1, tzinfo=UTC), "thing4": "已转入微信零钱"}


class Overlap:
    """How many callers were inside their transaction at the same time (the race really raced)."""

    def __init__(self) -> None:
        self.inside = self.most = 0

    async def call(self, user_id: int, key: str) -> str:
        async with in_transaction() as conn:
            self.inside += 1
            self.most = max(self.most, self.inside)
            try:
                status = await notifications.notify("withdrawal_paid", user_id, VALUES, conn=conn, dedupe_key=key)
                await asyncio.sleep(0.02)  # hold the transaction open: the others run meanwhile
            finally:
                self.inside -= 1
        return status


@pytest.mark.postgres
async def test_parallel_sends_never_overdraw_the_consent(rt):
    user = await make_user()
    await grant(user.id, TPL, count=5)
    race = Overlap()
    results = await asyncio.gather(*[race.call(user.id, f"w{i}") for i in range(20)])
    assert race.most > 1, "the calls never overlapped"
    assert results.count(NotificationStatus.pending) == 5
    assert results.count(NotificationStatus.skipped) == 15
    quota = await SubscriptionQuota.get(user_id=user.id, template_id=TPL)
    assert (quota.remaining, quota.used_total) == (0, 5)
    assert await Notification.filter(reason="no_quota").count() == 15
    assert await OutboxMessage.all().count() == 5


@pytest.mark.postgres
async def test_parallel_callers_of_one_event_send_it_once(rt):
    user = await make_user()
    await grant(user.id, TPL, count=10)
    race = Overlap()
    results = await asyncio.gather(*[race.call(user.id, "same-withdrawal") for _ in range(10)])
    assert race.most > 1, "the calls never overlapped"
    assert results.count(NotificationStatus.pending) == 1
    assert results.count(notifications.DUPLICATE) == 9
    assert await Notification.all().count() == 1 and await OutboxMessage.all().count() == 1
    assert (await SubscriptionQuota.get(user_id=user.id)).remaining == 9  # spent once
