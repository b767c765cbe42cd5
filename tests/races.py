"""PostgreSQL race helpers: hold a row lock in one connection, let the code under test run into
it from another, and prove that it really waited there (so the race really raced)."""

from __future__ import annotations

import asyncio

from tortoise import connections


async def lock_waiters() -> int:
    """Sessions of this database waiting on a lock. pg_stat_activity is snapshotted once per
    transaction: the snapshot is cleared first, so this works inside one too."""
    conn = connections.get("default")
    await conn.execute_query("SELECT pg_stat_clear_snapshot()")
    rows = await conn.execute_query_dict(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()")
    return int(rows[0]["n"])


async def wait_until_blocked(task: asyncio.Task, waiters: int = 1, timeout: float = 5.0) -> None:
    """Until ``waiters`` sessions wait on a lock while ``task`` is still running; else fail."""
    for _ in range(int(timeout / 0.01)):
        if task.done():
            raise AssertionError(f"the task finished without waiting on the lock: {task.exception()!r}")
        if await lock_waiters() >= waiters:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the task never reached the row lock: no race happened")
