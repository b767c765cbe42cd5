"""Raw SQL for the hot paths (order create, payment notify), one text for both backends.

Write ``?`` placeholders; on PostgreSQL (asyncpg) they become ``$1, $2, ...``. Never put a
literal ``?`` in the SQL text itself. Quote the reserved table names: ``"order"``, ``"user"``.
Rows come back as mappings (``row["column"]``). Values go in as Python values: integers,
strings, ``bool``, aware ``datetime`` (stored as Tortoise stores them on each backend) and
JSON already encoded to text. Errors are Tortoise's (``IntegrityError`` ...), as with the ORM.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Sequence

from tortoise import connections


def default_conn():
    return connections.get("default")


def is_pg(conn) -> bool:
    return conn.capabilities.dialect == "postgres"


@lru_cache(maxsize=512)
def numbered(sql: str) -> str:
    """``?`` placeholders as PostgreSQL's ``$1, $2, ...`` (for asyncpg called directly)."""
    parts = sql.split("?")
    out = [parts[0]]
    for i, part in enumerate(parts[1:], start=1):
        out.append(f"${i}")
        out.append(part)
    return "".join(out)


def text(conn, sql: str) -> str:
    return numbered(sql) if is_pg(conn) else sql


async def fetch(conn, sql: str, args: Sequence[Any] = ()) -> list[Any]:
    """Rows of a SELECT, or of an INSERT/UPDATE ... RETURNING."""
    conn = conn or default_conn()
    return await conn.execute_query_dict(text(conn, sql), list(args))


async def execute(conn, sql: str, args: Sequence[Any] = ()) -> int:
    """Rows changed by an INSERT/UPDATE/DELETE without RETURNING."""
    conn = conn or default_conn()
    n, _ = await conn.execute_query(text(conn, sql), list(args))
    return n


def placeholders(n: int) -> str:
    return ", ".join("?" * n)



async def lock_row(conn, table: str, row_id: int) -> None:
    """Take one row's lock at the start of a transaction, so that paths touching the same rows
    take them in one order (PostgreSQL; SQLite has one writer at a time: nothing to order).
    ``table`` is a name from our own code, never from a request."""
    if is_pg(conn):
        await conn.execute_query(f'SELECT id FROM "{table}" WHERE id = $1 FOR UPDATE', [row_id])
