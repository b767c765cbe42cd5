"""The flash-sale winners' order batches (services.activities.flash_orders), on PostgreSQL:
statements queued while a batch commits go in the next one, each sees the ones before it, and
a batch that fails is written one statement at a time so only the bad one fails."""

from __future__ import annotations

import asyncio

import pytest
from tortoise import connections

from huituan.core import sql
from huituan.services.activities import flash_orders

pytestmark = pytest.mark.postgres

PROBE = "INSERT INTO flash_batch_probe (x) VALUES (?) RETURNING id, x"


@pytest.fixture
async def probe_table(rt):
    conn = connections.get("default")
    await conn.execute_script("DROP TABLE IF EXISTS flash_batch_probe; "
                              "CREATE TABLE flash_batch_probe (id serial PRIMARY KEY, x int UNIQUE CHECK (x >= 0))")
    yield
    await conn.execute_script("DROP TABLE IF EXISTS flash_batch_probe")


async def test_concurrent_statements_share_batches_and_all_commit(probe_table):
    before = dict(flash_orders.STATS)
    rows = await asyncio.gather(*(flash_orders.insert(PROBE, 1, [i]) for i in range(300)))
    assert sorted(r[0]["x"] for r in rows) == list(range(300))
    assert (await sql.fetch(None, "SELECT count(*) AS n FROM flash_batch_probe"))[0]["n"] == 300
    batches = flash_orders.STATS["batches"] - before["batches"]
    assert flash_orders.STATS["orders"] - before["orders"] == 300
    assert 1 < batches < 300  # batched: more than one statement per commit
    assert flash_orders.STATS["largest"] > 1


async def test_a_failing_statement_fails_alone_and_the_rest_of_its_batch_commits(probe_table):
    before = flash_orders.STATS["fallbacks"]
    values = list(range(40)) + [-1, 7]  # -1 breaks the CHECK, the second 7 the UNIQUE
    results = await asyncio.gather(*(flash_orders.insert(PROBE, 1, [v]) for v in values), return_exceptions=True)
    failed = [v for v, r in zip(values, results) if isinstance(r, BaseException)]
    assert sorted(failed) == [-1, 7]  # exactly one of the two 7s, and the -1
    assert all(type(r).__name__ in ("IntegrityError", "OperationalError") for r in results
               if isinstance(r, BaseException)), [repr(r) for r in results if isinstance(r, BaseException)]
    stored = [r["x"] for r in await sql.fetch(None, "SELECT x FROM flash_batch_probe ORDER BY x")]
    assert stored == list(range(40))
    assert flash_orders.STATS["fallbacks"] > before  # the batch path failed and the one-by-one path ran
