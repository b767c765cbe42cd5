"""Quota, preferences, quiet hours, dedupe, and delivery outcomes through the sandbox:
temporary errors are retried until delivered, permanent ones fail at once with the code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tortoise.transactions import in_transaction

from huituan.core.clock import CHINA_TZ, china_now, utcnow
from huituan.models.notification import Notification, NotificationStatus, SubscriptionQuota
from huituan.models.outbox import OutboxMessage, OutboxStatus
from huituan.services import notifications, outbox
from huituan.services.notifications import quiet_until
from huituan.services.notifications.subscriptions import grant, set_preferences
from tests.factories import make_user
from tests.services.notifications.helpers import sandbox, sent_with, values

TPL = "sandbox-tpl-withdrawal-result"


def _values(amount_fen: int = 9900) -> dict:
    return {"amount1": amount_fen, "phrase2": "已到账", "time3": datetime(2026, 12, 1, 2, 0, tzinfo=UTC),
            "thing4": "已转入微信零钱"}


async def _notify(user_id: int, key: str = "w1", **kw) -> str:
    async with in_transaction() as conn:
        status = await notifications.notify("withdrawal_paid", user_id, _values(), conn=conn, dedupe_key=key, **kw)
    return status


async def _make_due() -> None:
    await OutboxMessage.filter(status=OutboxStatus.pending).update(next_attempt_at=utcnow() - timedelta(seconds=1))


async def test_one_consent_one_message_then_skipped_with_the_reason(rt, client):
    user = await make_user()
    await grant(user.id, TPL)
    assert await _notify(user.id, "w1") == NotificationStatus.pending
    assert await _notify(user.id, "w2") == NotificationStatus.skipped  # the one consent is spent
    assert await _notify(user.id, "w1") == notifications.DUPLICATE  # same event and key: nothing new
    await outbox.deliver_pending(rt)
    [message] = await sent_with(client, TPL)
    assert values(message) == {"amount1": "99.00元", "phrase2": "已到账", "time3": "2026-12-01 10:00",
                               "thing4": "已转入微信零钱"}
    skipped = await Notification.get(dedupe_key=f"withdrawal_paid:w2:u{user.id}")
    assert skipped.status == NotificationStatus.skipped and skipped.reason == "no_quota"
    quota = await SubscriptionQuota.get(user_id=user.id, template_id=TPL)
    assert (quota.remaining, quota.granted_total, quota.used_total) == (0, 1, 1)


async def test_a_reminder_turned_off_is_skipped_and_keeps_the_quota(rt, client):
    user = await make_user()
    await grant(user.id, TPL)
    await set_preferences(user.id, {"withdrawal_paid": False})
    assert await _notify(user.id) == NotificationStatus.skipped
    assert (await Notification.get(user_id=user.id)).reason == "disabled"
    assert (await SubscriptionQuota.get(user_id=user.id)).remaining == 1


async def test_temporary_errors_are_retried_with_backoff_then_delivered(rt, client):
    user = await make_user()
    await grant(user.id, TPL)
    # given WeChat busy for the next two sends (-1 system error)
    await client.post("/sandbox/fail-next", json={"count": 2, "errcode": -1, "api": "subscribe"})
    await _notify(user.id)
    for attempt in (1, 2):
        assert await outbox.deliver_pending(rt) == 0
        row = await OutboxMessage.get(kind="notification")
        assert row.status == OutboxStatus.pending and row.attempts == attempt and "-1" in row.last_error
        assert row.next_attempt_at > utcnow() + timedelta(seconds=outbox.backoff_seconds(attempt) - 2)
        await _make_due()
    # then the third try gets through, once
    assert await outbox.deliver_pending(rt) == 1
    assert len(await sent_with(client, TPL)) == 1
    n = await Notification.get(user_id=user.id)
    assert n.status == NotificationStatus.sent and n.sent_at is not None


@pytest.mark.parametrize("errcode", [43101, 40003, 47003])
async def test_permanent_errors_fail_at_once_with_the_code(rt, client, errcode):
    user = await make_user()
    await grant(user.id, TPL, count=3)
    await client.post("/sandbox/fail-next", json={"count": 1, "errcode": errcode, "api": "subscribe"})
    await _notify(user.id)
    assert await outbox.deliver_pending(rt) == 0
    row = await OutboxMessage.get(kind="notification")
    assert row.status == OutboxStatus.failed and row.attempts == 1  # no retry
    n = await Notification.get(user_id=user.id)
    assert n.status == NotificationStatus.failed and n.error_code == errcode and n.reason == f"errcode_{errcode}"
    await _make_due()
    assert await outbox.deliver_pending(rt) == 0 and await sent_with(client, TPL) == []
    # 43101: WeChat says the user has no subscription left; we stop spending what we counted
    remaining = (await SubscriptionQuota.get(user_id=user.id)).remaining
    assert remaining == (0 if errcode == 43101 else 2)


def test_quiet_hours_window():
    def at(h: int, m: int = 0) -> datetime:
        return datetime(2026, 12, 1, h, m, tzinfo=CHINA_TZ)

    assert quiet_until(at(23, 30)) == datetime(2026, 12, 2, 8, 0, tzinfo=CHINA_TZ)
    assert quiet_until(at(2)) == at(8)
    assert quiet_until(at(8)) is None and quiet_until(at(21, 59)) is None
    assert quiet_until(at(13), "12:00", "14:00") == at(14)
    assert quiet_until(at(13), "00:00", "00:00") is None


async def test_a_reminder_due_in_quiet_hours_is_sent_at_their_end_and_urgent_ones_at_once(rt, client):
    # given quiet hours around now (China time), ending at the next full minute + 1
    now = china_now()
    end = (now + timedelta(minutes=2)).replace(second=0, microsecond=0)
    rt.settings.quiet_hours_start = (now - timedelta(hours=1)).strftime("%H:%M")
    rt.settings.quiet_hours_end = end.strftime("%H:%M")
    user = await make_user()
    await grant(user.id, TPL, count=2)
    await _notify(user.id, "calm")
    await _notify(user.id, "urgent", urgent=True)
    # then the urgent one goes now, the other waits for the end of the quiet hours
    await outbox.deliver_pending(rt)
    assert len(await sent_with(client, TPL)) == 1
    calm = await Notification.get(dedupe_key=f"withdrawal_paid:calm:u{user.id}")
    assert calm.status == NotificationStatus.pending and calm.due_at == end.astimezone(UTC)
    row = await OutboxMessage.get(dedupe_key=f"notification:{calm.id}")
    assert row.next_attempt_at == end.astimezone(UTC) and row.attempts == 0
    # when the clock reaches the end (08:00 with the default settings), it is delivered
    await OutboxMessage.filter(id=row.id).update(next_attempt_at=utcnow() - timedelta(seconds=1))
    assert await outbox.deliver_pending(rt) == 1
    assert len(await sent_with(client, TPL)) == 2


async def test_default_quiet_hours_postpone_to_eight_china_time(rt, client):
    rt.settings.quiet_hours_start, rt.settings.quiet_hours_end = "22:00", "08:00"
    expected = quiet_until(utcnow())
    user = await make_user()
    await grant(user.id, TPL)
    await _notify(user.id)
    n = await Notification.get(user_id=user.id)
    assert n.due_at == expected  # None in the day, the next 08:00 China time at night
    if expected is not None:
        assert expected.astimezone(CHINA_TZ).strftime("%H:%M") == "08:00"


async def test_wecom_member_and_robot_channels(rt, client):
    async with in_transaction() as conn:
        assert await notifications.notify_wecom(
            "leader_daily_summary", "wx-leader-1", {"content": "**12-01 截单汇总 · 阳光花园**\n- 脐橙 × 3"},
            conn=conn, dedupe_key="2026-12-01:p1") == NotificationStatus.pending
        assert await notifications.notify_wecom(
            "leader_daily_summary", None, {"content": "x"}, conn=conn, dedupe_key="2026-12-01:p2",
            user_id=5) == NotificationStatus.skipped
        await notifications.notify_robot("robot_announcement", {"content": "今晚 8 点开团"}, conn=conn, dedupe_key="a1")
    await outbox.deliver_pending(rt)
    box = await sandbox(client)
    [wecom] = box["wecom_messages"]
    assert wecom["touser"] == "wx-leader-1" and "阳光花园" in wecom["content"]
    assert box["robot_pushes"][0]["content"] == "今晚 8 点开团"
    assert (await Notification.get(dedupe_key="leader_daily_summary:2026-12-01:p2:u5")).reason == "no_wecom_link"


async def test_retention_job_keeps_recent_and_pending_rows(rt, client):
    from huituan.jobs.notifications import purge_outbox

    user = await make_user()
    await grant(user.id, TPL, count=2)
    await _notify(user.id, "old")
    await _notify(user.id, "new")
    await outbox.deliver_pending(rt)
    await _notify(user.id, "skipped-old")  # no consent left: skipped
    long_ago = utcnow() - timedelta(days=400)
    await Notification.filter(dedupe_key__in=[f"withdrawal_paid:old:u{user.id}",
                                              f"withdrawal_paid:skipped-old:u{user.id}"]).update(created_at=long_ago)
    old = await Notification.get(dedupe_key=f"withdrawal_paid:old:u{user.id}")
    await OutboxMessage.filter(dedupe_key=f"notification:{old.id}").update(sent_at=long_ago)
    assert await purge_outbox(rt) == 3  # one outbox row, two notifications
    assert await Notification.all().values_list("dedupe_key", flat=True) == [f"withdrawal_paid:new:u{user.id}"]
    assert await OutboxMessage.all().count() == 1
