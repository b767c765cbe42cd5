"""The winners' orders of a flash-sale burst, written in batches: one commit for many orders.

Every winner's order takes its unit from the same ``flash_item`` row (the guarded
``stock_left`` update). With durable commits that row's lock is held until the commit's WAL
flush, so one order at a time reaches the disk: on our 2-core machine about 285 orders a second,
and a burst's winners waited up to 3 s for their order. Here each process queues the winners'
statements and writes whatever has queued while the previous batch was committing in ONE
transaction: the statements run one after the other on one connection (each sees the ones
before it, so the guarded update and the per-user backstop hold exactly as in autocommit),
then one commit, one flush, for the lot. Nothing waits for a batch to fill: a lone order is a
batch of one.

If a batch fails (a statement's error aborts the transaction: a duplicate key, a deadlock with
another process' batch), it is rolled back and its orders are written one by one as without
batching, so one bad order costs the others nothing but a retry. Statements are sorted by the
row they lock, so batches of different processes lock item rows in one order.

PostgreSQL only (the single-statement path); ``STATS`` counts batches and fallbacks (tests and
the bench read it).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from huituan.core import sql

log = logging.getLogger("huituan.activities.flash_orders")

MAX_BATCH = 64
STATS = {"batches": 0, "orders": 0, "largest": 0, "fallbacks": 0}

# Per event loop (tests run several): statements waiting for the next batch, and the task
# writing batches while any wait.
_pending: dict[int, list[tuple[int, str, list[Any], asyncio.Future]]] = {}
_writers: dict[int, asyncio.Task] = {}


async def insert(statement: str, lock_key: int, args: list[Any]) -> list[dict[str, Any]]:
    """Run ``statement`` (an INSERT/UPDATE ... RETURNING) in the next batch and return its
    rows. ``lock_key`` orders the statements of a batch (the id of the row they lock)."""
    loop = asyncio.get_running_loop()
    key = id(loop)
    future: asyncio.Future = loop.create_future()
    _pending.setdefault(key, []).append((lock_key, statement, args, future))
    writer = _writers.get(key)
    if writer is None or writer.done():
        _writers[key] = loop.create_task(_write_batches(key))
    # Shielded: a caller that goes away does not take the batch's other orders with it.
    return await asyncio.shield(future)


async def _write_batches(key: int) -> None:
    pending = _pending[key]
    try:
        while pending:
            batch = pending[:MAX_BATCH]
            del pending[:MAX_BATCH]
            batch.sort(key=lambda entry: entry[0])
            try:
                results = await _in_one_transaction(batch)
            except Exception as exc:  # noqa: BLE001 - any failure: each order on its own
                STATS["fallbacks"] += 1
                log.info("flash order batch of %d failed (%s): writing them one by one", len(batch),
                         type(exc).__name__)
                await _one_by_one(batch)
                continue
            STATS["batches"] += 1
            STATS["orders"] += len(batch)
            STATS["largest"] = max(STATS["largest"], len(batch))
            for (_, _, _, future), rows in zip(batch, results):
                if not future.done():
                    future.set_result(rows)
    finally:
        _writers.pop(key, None)
        if not pending:
            _pending.pop(key, None)
        else:  # the loop is closing under us: nobody will write these
            for *_, future in pending:
                if not future.done():
                    future.set_exception(RuntimeError("flash order batch writer stopped"))
            pending.clear()


async def _in_one_transaction(batch) -> list[list[Any]]:
    # asyncpg directly: one pooled connection, one transaction, the statements in turn.
    async with sql.default_conn().acquire_connection() as conn:
        async with conn.transaction():
            return [await conn.fetch(sql.numbered(statement), *args) for _, statement, args, _ in batch]


async def _one_by_one(batch) -> None:
    for _, statement, args, future in batch:
        try:
            rows = await sql.fetch(sql.default_conn(), statement, args)
        except Exception as exc:  # noqa: BLE001 - the caller's own error, as without batching
            if not future.done():
                future.set_exception(exc)
        else:
            if not future.done():
                future.set_result(rows)
