"""The group robot limit in the outbox handler: over the limit a push is not sent but retried."""

from __future__ import annotations

import pytest

from huituan.models.outbox import OutboxKind, OutboxMessage, OutboxStatus
from huituan.services import outbox


@pytest.fixture
def settings(make_settings):
    return make_settings(robot_messages_per_minute=2)


async def test_pushes_over_the_robot_limit_wait_for_a_later_round(client, rt):
    for i in range(3):
        await outbox.enqueue(OutboxKind.robot_push, f"robot-limit:{i}",
                             {"key": "sandbox-robot-limit", "content": f"第{i}条"})
    await outbox.enqueue(OutboxKind.robot_push, "robot-other:0", {"key": "sandbox-robot-other", "content": "别的群"})
    assert await outbox.deliver_pending(rt) == 3
    pushes = (await (await client.get("/sandbox/outbox")).json())["robot_pushes"]
    assert sorted(p["content"] for p in pushes) == ["别的群", "第0条", "第1条"]
    held = await OutboxMessage.get(dedupe_key="robot-limit:2")
    assert held.status == OutboxStatus.pending and "RateLimited" in held.last_error
    assert held.next_attempt_at is not None
