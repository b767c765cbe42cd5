"""The outbox job: delivers what it can and says, at ERROR, which pending rows no handler can
deliver (a wiring fault) instead of leaving them pending in silence."""

from __future__ import annotations

import logging

from huituan.jobs.outbox import deliver_outbox
from huituan.models.outbox import OutboxKind, OutboxMessage, OutboxStatus
from huituan.services import outbox


async def test_a_kind_without_a_handler_is_logged_and_left_for_its_handler(rt, caplog):
    # given a pending robot push and, for the length of the test, no robot_push handler
    await OutboxMessage.create(kind=OutboxKind.robot_push, dedupe_key="orphan:1", payload={"content": "日报"})
    handler = outbox._handlers.pop(OutboxKind.robot_push.value)
    try:
        caplog.set_level(logging.ERROR, logger="huituan.jobs.outbox")
        # when the job runs
        sent = await deliver_outbox(rt)
        # then nothing was sent or even tried, and the job says which kind is stuck and how often
        assert sent == 0
        [record] = [r for r in caplog.records if r.name == "huituan.jobs.outbox"]
        assert record.levelno == logging.ERROR
        assert record.getMessage() == "outbox rows without a handler stay pending: {'robot_push': 1}"
        row = await OutboxMessage.get(dedupe_key="orphan:1")
        assert row.status == OutboxStatus.pending and row.attempts == 0
    finally:
        outbox.register_handler(OutboxKind.robot_push, handler)
    # and once the handler is back the same job delivers it and logs nothing
    caplog.clear()
    assert await deliver_outbox(rt) == 1
    assert (await OutboxMessage.get(dedupe_key="orphan:1")).status == OutboxStatus.sent
    assert not [r for r in caplog.records if r.name == "huituan.jobs.outbox"]
