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

import logging
from dataclasses import dataclass
from itertools import groupby
from typing import Any, Callable

from huituan.core import sql
from huituan.core.coalesce import Coalescer

log = logging.getLogger("huituan.activities.flash_orders")

MAX_BATCH = 256
# lone_statements: batches written by their set-based statement with no transaction around it
STATS = {"batches": 0, "orders": 0, "largest": 0, "fallbacks": 0, "set_statements": 0, "set_refused": 0,
         "lone_statements": 0}

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


async def insert(statement: str, lock_key: int, args: list[Any], *, many: ManyBuilder | None = None,
                 row: Any = None) -> list[Any]:
    """Run ``statement`` (an INSERT/UPDATE ... RETURNING, ``?`` placeholders) in the next batch
    and return its rows. ``lock_key`` groups and orders the statements of a batch (the id of the
    row they lock). With ``many`` and ``row``, a group of two or more is written by the one
    set-based statement ``many`` builds from the group's rows."""
    return await _batches.submit(_Entry(lock_key, statement, args, many, row))


async def _write_batch(entries: list[_Entry]) -> list[Any]:
    """One batch, its rows (or a caller's own error) in the callers' order."""
    order = sorted(range(len(entries)), key=lambda n: entries[n].lock_key)
    batch = [entries[n] for n in order]
    try:
        lone = _one_item_group(batch)
        results: list[Any] | None = await _as_one_statement(batch) if lone else None
        if results is None:  # several items, or the lone statement's guard refused (then in turn)
            results = await _in_one_transaction(batch, try_sets=not lone)
    except Exception as exc:  # noqa: BLE001 - any failure: each order on its own
        STATS["fallbacks"] += 1
        log.info("flash order batch of %d failed (%s): writing them one by one", len(batch), type(exc).__name__)
        results = await _one_by_one(batch)
    else:
        STATS["batches"] += 1
        STATS["orders"] += len(batch)
        STATS["largest"] = max(STATS["largest"], len(batch))
    out: list[Any] = [None] * len(entries)
    for n, result in zip(order, results, strict=True):
        out[n] = result
    return out


_batches = Coalescer(_write_batch, max_batch=MAX_BATCH, name="flash order batches")


def _one_item_group(batch: list[_Entry]) -> bool:
    many = batch[0].many
    return len(batch) > 1 and many is not None and all(
        e.many is many and e.lock_key == batch[0].lock_key for e in batch)


async def _as_one_statement(batch: list[_Entry]) -> list[list[Any]] | None:
    """A batch of one group (a burst sells one item) written by its set-based statement alone:
    one statement is atomic by itself, so it needs no transaction around it (one round trip
    and its commit, not three). None when its guard refused the group (nothing was written)."""
    async with sql.default_conn().acquire_connection() as conn:
        STATS["lone_statements"] += 1
        return await _set_statement(conn, batch)


async def _set_statement(conn, entries: list[_Entry]) -> list[list[Any]] | None:
    """The group's rows by its one set-based statement, or None when its guard refused."""
    statement, args = entries[0].many([e.row for e in entries])
    rows = await conn.fetch(sql.numbered(statement), *args)
    STATS["set_statements"] += 1
    if len(rows) != len(entries):
        STATS["set_refused"] += 1  # nothing was written
        return None
    by_position = {r["ord"]: r for r in rows}
    return [[by_position[n]] for n in range(1, len(entries) + 1)]


async def _in_one_transaction(batch: list[_Entry], *, try_sets: bool = True) -> list[list[Any]]:
    """The batch's rows in its order. asyncpg directly: one pooled connection, one transaction.
    ``try_sets=False``: the set statement was just refused, each row's own statement runs."""
    results: list[list[Any]] = []
    async with sql.default_conn().acquire_connection() as conn:
        async with conn.transaction():
            for _, group in groupby(batch, key=lambda entry: entry.lock_key):
                entries = list(group)
                results += await _write_group(conn, entries, try_set=try_sets)
    return results


async def _write_group(conn, entries: list[_Entry], *, try_set: bool) -> list[list[Any]]:
    many = entries[0].many
    if try_set and len(entries) > 1 and many is not None and all(e.many is many for e in entries):
        rows = await _set_statement(conn, entries)
        if rows is not None:
            return rows
    # In turn, each statement seeing the ones before it: each caller gets its own answer.
    return [await conn.fetch(sql.numbered(e.statement), *e.args) for e in entries]


async def _one_by_one(batch: list[_Entry]) -> list[Any]:
    results: list[Any] = []
    for entry in batch:
        try:
            results.append(await sql.fetch(sql.default_conn(), entry.statement, entry.args))
        except Exception as exc:  # noqa: BLE001 - the caller's own error, as without batching
            results.append(exc)
    return results
