"""WeCom waits 5 seconds: a command slower than the reply budget is acknowledged at once and
its answer arrives later through the WeCom message API (outbox wecom_message)."""

from __future__ import annotations

import pytest

from huituan.bot import callback
from huituan.services.operators import create_operator
from tests.bot.wecom_helpers import apply_leader, sandbox_outbox, say


@pytest.fixture
def settings(make_settings):
    return make_settings(bot_reply_budget_seconds=0.000001)


async def test_slow_command_is_acknowledged_then_delivered_by_the_message_api(client):
    # Given a linked operator (linked directly) and a pending leader application
    await create_operator("ops-li", "password-123", display_name="运营小李", wecom_userid="ops-li")
    await apply_leader(client, "leader-wang", "王团长", "13900000001", "幸福里", "文三路 1 号", 30.27, 120.13)
    # When the queue takes longer than the (tiny) reply budget
    reply = await say(client, "ops-li", "待审核")
    # Then WeCom gets the acknowledgement now and the answer through the message API
    assert reply == callback.SLOW_ACK
    await callback.wait_background()
    sent = (await sandbox_outbox(client))["wecom_messages"]
    assert [m["touser"] for m in sent if "团长申请 1 个" in m["content"]] == ["ops-li"]
