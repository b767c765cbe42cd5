"""`huituan ledger verify`: every wallet's cached balances equal the sums of its entries, and
each bucket's last ``balance_after_fen`` equals the cached balance.

The three reads are one snapshot (REPEATABLE READ on PostgreSQL): run from cron against a live
service, separate reads would see a posting's entries before or after its wallet update and
report a mismatch that is not there."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from huituan.models.wallet import BUCKETS


async def verify_ledger(conn=None) -> list[str]:
    if conn is None:
        async with in_transaction() as tx:
            if tx.capabilities.dialect == "postgres":
                await tx.execute_script("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            return await verify_ledger(tx)
    sums = await conn.execute_query_dict(
        "SELECT wallet_id, bucket, SUM(amount_fen) AS total, MIN(balance_after_fen) AS low FROM wallet_entry"
        " GROUP BY wallet_id, bucket")
    lasts = await conn.execute_query_dict(
        "SELECT e.wallet_id, e.bucket, e.balance_after_fen FROM wallet_entry e JOIN (SELECT wallet_id, bucket,"
        " MAX(id) AS last_id FROM wallet_entry GROUP BY wallet_id, bucket) m ON e.id = m.last_id")
    wallets = await conn.execute_query_dict(
        "SELECT id, user_id, pending_fen, available_fen, withdrawing_fen, withdrawn_fen, debt_fen FROM wallet")
    total: dict[tuple[int, str], int] = {(r["wallet_id"], r["bucket"]): int(r["total"]) for r in sums}
    low: dict[tuple[int, str], int] = {(r["wallet_id"], r["bucket"]): int(r["low"]) for r in sums}
    last: dict[tuple[int, str], int] = {(r["wallet_id"], r["bucket"]): int(r["balance_after_fen"]) for r in lasts}
    problems: list[str] = []
    known = set()
    for w in wallets:
        for b in BUCKETS:
            key = (w["id"], b)
            known.add(key)
            cached = int(w[f"{b}_fen"])
            if cached < 0:
                problems.append(f"wallet {w['id']} (user {w['user_id']}) {b}: negative balance {cached}")
            if total.get(key, 0) != cached:
                problems.append(f"wallet {w['id']} (user {w['user_id']}) {b}: entries sum to {total.get(key, 0)},"
                                f" cached balance {cached}")
            if key in last and last[key] != cached:
                problems.append(f"wallet {w['id']} (user {w['user_id']}) {b}: last balance_after {last[key]},"
                                f" cached balance {cached}")
            if key in low and low[key] < 0:
                problems.append(f"wallet {w['id']} (user {w['user_id']}) {b}: an entry left the bucket at {low[key]}")
    for key in total:
        if key not in known:
            problems.append(f"entries for missing wallet {key[0]} bucket {key[1]}")
    return problems
