"""The winners' orders of a flash-sale burst, written in batches: one commit for many orders.

Every winner's order takes its unit from the same ``flash_item`` row (the guarded
``stock_left`` update). With durable commits that row's lock is held until the commit's WAL
flush, so one order at a time reached the disk (about 285 orders a second on our 2-core
machine; a burst's last winners waited 3 s). Here each process queues the winners' statements
and writes whatever queued while its previous batch was committing in ONE transaction, with one
commit (one flush) for the lot. Nothing waits for a batch to fill: a lone order is a batch of one.

Inside the transaction, statements with the same ``lock_key`` (one flash item) are written by
one set-based statement when the caller gives one (``many``: the whole group's units taken at
once, only if every row passes the stock and per-user guards, or nothing written). If it refuses,
or no ``many`` is given, the statements run in turn, each seeing the ones before it, so the
guarded update and the per-user backstop answer each caller exactly as in autocommit.

If the batch fails (an error aborts the transaction: a duplicate key, a deadlock with another
process' batch), it is rolled back and its statements are written one by one outside it, so one
bad order costs the others nothing but a retry. Groups are written in ``lock_key`` order, so
batches of different processes lock item rows in one order.

PostgreSQL only (the single-statement path). ``STATS`` counts batches, set statements, refusals
and fallbacks: tests assert each branch ran.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from itertools import groupby
from typing import Any, Callable

from huituan.core import sql

log = logging.getLogger("huituan.activities.flash_orders")

MAX_BATCH = 64
STATS = {"batches": 0, "orders": 0, "largest": 0, "fallbacks": 0, "set_statements": 0, "set_refused": 0}

# A group of same-key statements as ONE set-based statement: (statement, args) for the rows;
# its result rows carry ``ord`` (1-based position in the group), one per row, or none at all
# when its guard refused the group (then each row's own statement runs and says why).
ManyBuilder = Callable[[list[Any]], tuple[str, list[Any]]]


@dataclass
class _Entry:
    lock_key: int
    statement: str
    args: list[Any]
    many: ManyBuilder | None
    row: Any
    future: asyncio.Future


# Per event loop (tests run several): entries waiting for the next batch, and the task writing
# batches while any wait.
_pending: dict[int, list[_Entry]] = {}
_writers: dict[int, asyncio.Task] = {}


async def insert(statement: str, lock_key: int, args: list[Any], *, many: ManyBuilder | None = None,
                 row: Any = None) -> list[Any]:
    """Run ``statement`` (an INSERT/UPDATE ... RETURNING, ``?`` placeholders) in the next batch
    and return its rows. ``lock_key`` groups and orders the statements of a batch (the id of the
    row they lock). With ``many`` and ``row``, a group of two or more is written by the one
    set-based statement ``many`` builds from the group's rows."""
    loop = asyncio.get_running_loop()
    key = id(loop)
    future: asyncio.Future = loop.create_future()
    _pending.setdefault(key, []).append(_Entry(lock_key, statement, args, many, row, future))
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
            batch.sort(key=lambda entry: entry.lock_key)
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
            for entry, rows in zip(batch, results):
                if not entry.future.done():
                    entry.future.set_result(rows)
    finally:
        _writers.pop(key, None)
        if not pending:
            _pending.pop(key, None)
        else:  # the loop is closing under us: nobody will write these
            for entry in pending:
                if not entry.future.done():
                    entry.future.set_exception(RuntimeError("flash order batch writer stopped"))
            pending.clear()


async def _in_one_transaction(batch: list[_Entry]) -> list[list[Any]]:
    """The batch's rows in its order. asyncpg directly: one pooled connection, one transaction."""
    results: list[list[Any]] = []
    async with sql.default_conn().acquire_connection() as conn:
        async with conn.transaction():
            for _, group in groupby(batch, key=lambda entry: entry.lock_key):
                entries = list(group)
                results += await _write_group(conn, entries)
    return results


async def _write_group(conn, entries: list[_Entry]) -> list[list[Any]]:
    many = entries[0].many
    if len(entries) > 1 and many is not None and all(e.many is many for e in entries):
        statement, args = many([e.row for e in entries])
        rows = await conn.fetch(sql.numbered(statement), *args)
        STATS["set_statements"] += 1
        if len(rows) == len(entries):
            by_position = {r["ord"]: r for r in rows}
            return [[by_position[n]] for n in range(1, len(entries) + 1)]
        STATS["set_refused"] += 1  # the guard refused the group: nothing was written
    # In turn, each statement seeing the ones before it: each caller gets its own answer.
    return [await conn.fetch(sql.numbered(e.statement), *e.args) for e in entries]


async def _one_by_one(batch: list[_Entry]) -> None:
    for entry in batch:
        try:
            rows = await sql.fetch(sql.default_conn(), entry.statement, entry.args)
        except Exception as exc:  # noqa: BLE001 - the caller's own error, as without batching
            if not entry.future.done():
                entry.future.set_exception(exc)
        else:
            if not entry.future.done():
                entry.future.set_result(rows)
