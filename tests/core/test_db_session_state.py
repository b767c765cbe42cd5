"""Pooled PostgreSQL connections go back to the pool without asyncpg's reset statement
(core.db PooledConnection): that is only safe while nothing leaves session state behind. This
keeps it so: no session-level lock, setting, LISTEN or held cursor in our SQL, and on a real
pool a transaction's lock and an abandoned transaction are gone when the connection comes back."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("core", "models", "services", "posters", "miniapp_api", "bot", "jobs", "huituan")
# SQL that outlives its transaction on the connection.
SESSION_STATE = re.compile(
    r"pg_(?:try_)?advisory_lock(?:_shared)?\s*\(|\bLISTEN\s|SET\s+SESSION\b|WITH\s+HOLD\b"
    r"""|(?:^|[(=,])\s*[rfb]?["']SET\s+(?!TRANSACTION\b|LOCAL\b|CONSTRAINTS\b)""")  # SQL is upper case here


def test_no_sql_of_ours_leaves_session_state_on_a_pooled_connection():
    offenders = []
    for top in SOURCES:
        for path in (ROOT / top).rglob("*.py"):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if SESSION_STATE.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, ("session state on a pooled connection (core.db PooledConnection skips the reset): "
                           + "; ".join(offenders))


def test_the_guard_catches_what_it_should():
    for bad in ['"SELECT pg_advisory_lock($1)"', "execute('SET search_path TO x')", "q = 'SET work_mem = 1'", '"LISTEN orders"',
                '"DECLARE c CURSOR WITH HOLD FOR SELECT 1"', '"SET SESSION statement_timeout = 1"']:
        assert SESSION_STATE.search(bad), bad
    for good in ['"SELECT pg_advisory_xact_lock($1)"', '("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")',
                 '"UPDATE sku SET stock = stock - ?"', "('UPDATE \"order\" SET paid_at = ?')", '("SET LOCAL lock_timeout = 1")',
                 '"""Listen before anything else starts"""']:
        assert not SESSION_STATE.search(good), good


@pytest.mark.postgres
async def test_a_returned_connection_holds_no_lock_and_no_transaction(rt):
    from tortoise import connections

    pool = connections.get("default")._pool
    assert pool is not None
    async with pool.acquire() as conn:
        assert conn.get_reset_query() == ""  # the pool uses core.db's connection class
        pid = conn.get_server_pid()
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(424242)")
        await conn.execute("BEGIN")  # abandoned: asyncpg rolls it back on release
        await conn.execute("CREATE TEMP TABLE IF NOT EXISTS leak_probe (x int)")
    for _ in range(pool.get_max_size()):  # whichever connection comes back next
        async with pool.acquire() as conn:
            if conn.get_server_pid() != pid:
                continue
            assert not conn.is_in_transaction()
            held = await conn.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = $1", pid)
            assert held == 0
            assert await conn.fetchval("SELECT to_regclass('pg_temp.leak_probe')") is None  # rolled back
            return
    pytest.fail("the connection did not come back to the pool")
