"""Database figures are given with durability on: every benchmark checks the PostgreSQL it was
handed (``make bench`` starts it with TESTENV_DURABLE=1: fsync, synchronous_commit and
full_page_writes on) and refuses a volatile one unless told ``--allow-volatile``."""

from __future__ import annotations

import asyncio
import sys

SETTINGS = ("fsync", "synchronous_commit", "full_page_writes")


async def database_durability(db_url: str) -> dict[str, str]:
    import asyncpg

    conn = await asyncpg.connect(db_url)
    try:
        return {name: await conn.fetchval(f"SHOW {name}") for name in SETTINGS}
    finally:
        await conn.close()


def require_durable(db_url: str, allow_volatile: bool) -> dict[str, str]:
    """The database's durability settings; exits when any is off, unless ``allow_volatile``."""
    durability = asyncio.run(database_durability(db_url))
    if all(value == "on" for value in durability.values()):
        return durability
    if not allow_volatile:
        sys.exit(f"bench: the database runs without durability ({durability}); database figures are given with "
                 "durability on: run through `make bench` (TESTENV_DURABLE=1 bash scripts/testenv.sh ...), or pass "
                 "--allow-volatile for a quick look whose figures are not recorded")
    print(f"bench: WARNING durability off ({durability}): figures not comparable to docs/PERFORMANCE.md")
    return durability
