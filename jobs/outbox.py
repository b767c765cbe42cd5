"""Outbox delivery, and the report of rows no handler can deliver (a wiring fault)."""

from __future__ import annotations

import logging

from huituan.core.runtime import Runtime
from huituan.services import outbox

log = logging.getLogger("huituan.jobs.outbox")


async def deliver_outbox(rt: Runtime) -> int:
    sent = await outbox.deliver_pending(rt, limit=500, concurrency=rt.settings.outbox_concurrency)
    unhandled = await outbox.unhandled_kinds()
    if unhandled:
        log.error("outbox rows without a handler stay pending: %s", unhandled)
    return sent
