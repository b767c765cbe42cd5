"""A crash between the business change and delivery loses nothing and sends nothing twice:
a real delivering process is SIGKILLed while a send is in flight; a later run delivers the
rest, each message exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path

from tortoise.transactions import in_transaction

from huituan.core.clock import utcnow
from huituan.models.notification import Notification, NotificationStatus
from huituan.models.outbox import OutboxMessage, OutboxStatus
from huituan.services import notifications, outbox
from huituan.services.notifications.subscriptions import grant
from tests.factories import make_user
from tests.services.notifications.helpers import sandbox

ROOT = Path(__file__).resolve().parents[3]
TPL = "sandbox-tpl-order-shipped"
N = 12


async def test_sigkill_mid_delivery_then_a_later_run_delivers_each_exactly_once(rt, client, settings):
    # given twelve buyers told in the business transaction that their order shipped
    users = [await make_user() for _ in range(N)]
    async with in_transaction() as conn:
        for i, u in enumerate(users):
            await grant(u.id, TPL)
            await notifications.notify("order_shipped", u.id, {
                "character_string1": f"HT{i:04d}", "thing2": "脐橙", "thing3": "顺丰速运", "character_string4": f"SF{i}",
            }, conn=conn, dedupe_key=f"order:{i}", page_args={"order_id": i})
    # and WeChat that lets five sends through, then holds the sixth
    await client.post("/sandbox/hold", json={"after": 5})
    # when a real delivering process runs and is killed while the sixth send is in flight
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.services.notifications.deliver_proc", settings.database_url,
        settings.base_url(), cwd=str(ROOT), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    for _ in range(300):
        if (await sandbox(client))["control"]["holding"]:
            break
        await asyncio.sleep(0.1)
    else:
        proc.kill()
        raise AssertionError(f"the process never reached the held send: {(await proc.stderr.read()).decode()[-2000:]}")
    os.kill(proc.pid, signal.SIGKILL)
    assert await proc.wait() == -signal.SIGKILL
    await client.post("/sandbox/release")
    # then it died mid-way: five delivered, one claimed by the dead process, six never touched
    box = await sandbox(client)
    assert len(box["subscribe_messages"]) == 5
    rows = await OutboxMessage.all()
    assert sum(r.status == OutboxStatus.sent for r in rows) == 5
    in_flight = [r for r in rows if r.status == OutboxStatus.pending and r.attempts == 1]
    assert len(in_flight) == 1, [(r.status, r.attempts) for r in rows]
    # when a later run comes after the dead process's lease
    await OutboxMessage.filter(status=OutboxStatus.pending).update(next_attempt_at=utcnow() - timedelta(seconds=1))
    while await outbox.deliver_pending(rt):
        pass
    # then every buyer got the message exactly once, and everything is marked sent
    box = await sandbox(client)
    received = sorted(m["data"]["character_string1"]["value"] for m in box["subscribe_messages"])
    assert received == [f"HT{i:04d}" for i in range(N)]
    assert await OutboxMessage.filter(status=OutboxStatus.sent).count() == N
    assert await Notification.filter(status=NotificationStatus.sent).count() == N
