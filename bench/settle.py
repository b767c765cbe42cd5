"""Settlement benchmark: settle 100,000 pending commission records on PostgreSQL.

    TESTENV_DURABLE=1 bash scripts/testenv.sh .venv/bin/python -m bench.settle

Creates the schema when missing, empties the commission and wallet tables, inserts the
records across ~1,000 wallets (with their pending ledger entries, and debt on a tenth of the
wallets so the debt-netting path runs), times ``settle_commissions``, verifies the ledger and
prints records/s. Also called by ``bench.run`` (``make bench``) as ``run(database_url)``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from datetime import timedelta

from huituan.core.clock import utcnow

RECORDS = 100_000
WALLETS = 1_000
BATCH = 10_000


async def _prepare(records: int, wallets: int) -> None:
    from tortoise import Tortoise, connections

    await Tortoise.generate_schemas(safe=True)
    conn = connections.get("default")
    await conn.execute_script(
        "TRUNCATE TABLE commission_record, commission_adjustment, wallet, wallet_entry RESTART IDENTITY;")
    past = utcnow() - timedelta(days=8)
    # Records: beneficiary = 1 + (i % wallets), amounts 1..5000 fen.
    await conn.execute_query(
        "INSERT INTO commission_record (order_id, order_item_id, product_id, buyer_id, beneficiary_id, level,"
        " self_purchase, base_fen, rate_bp, original_amount_fen, amount_fen, refunded_base_fen, clawed_back_fen,"
        " status, settle_at, created_at)"
        " SELECT i, i, 1, 0, 1 + (i % $2), 1, false, 100000, 1000, 1 + (i * 7919) % 5000, 1 + (i * 7919) % 5000,"
        " 0, 0, 'pending', $3, $3 FROM generate_series(1, $1) AS i",
        [records, wallets, past])
    await conn.execute_query(
        "INSERT INTO wallet (user_id, pending_fen, available_fen, withdrawing_fen, withdrawn_fen, debt_fen, version)"
        " SELECT beneficiary_id, SUM(amount_fen), 0, 0, 0, CASE WHEN beneficiary_id % 10 = 0 THEN 12345 ELSE 0 END, 1"
        " FROM commission_record GROUP BY beneficiary_id", [])
    await conn.execute_query(
        "INSERT INTO wallet_entry (wallet_id, user_id, bucket, kind, amount_fen, balance_after_fen, ref_type, ref_id,"
        " idempotency_key, created_at)"
        " SELECT w.id, r.beneficiary_id, 'pending', 'commission_pending', r.amount_fen,"
        " SUM(r.amount_fen) OVER (PARTITION BY r.beneficiary_id ORDER BY r.id), 'commission', r.id,"
        " 'commission:' || r.id || ':pending', $1 FROM commission_record r JOIN wallet w ON w.user_id = r.beneficiary_id"
        " ORDER BY r.id", [past])
    await conn.execute_query(
        "INSERT INTO wallet_entry (wallet_id, user_id, bucket, kind, amount_fen, balance_after_fen, ref_type, ref_id,"
        " idempotency_key, created_at)"
        " SELECT id, user_id, 'debt', 'clawback_debt', debt_fen, debt_fen, 'commission', 0,"
        " 'bench:' || id || ':debt', $1 FROM wallet WHERE debt_fen > 0", [past])
    await conn.execute_script("ANALYZE commission_record; ANALYZE wallet; ANALYZE wallet_entry;")


async def _bench(database_url: str, records: int, wallets: int, batch: int) -> dict:
    from huituan.core.db import close_db, init_db
    from huituan.models import MODEL_APP
    from huituan.services.commission.settlement import settle_commissions
    from huituan.services.wallet.verify import verify_ledger

    await init_db(database_url, MODEL_APP)
    try:
        await _prepare(records, wallets)
        started = time.perf_counter()
        settled = await settle_commissions(batch=batch)
        elapsed = time.perf_counter() - started
        problems = await verify_ledger()
        rerun = await settle_commissions(batch=batch)
    finally:
        await close_db()
    rate = settled / elapsed if elapsed else 0.0
    result = {"records": records, "wallets": wallets, "batch": batch, "settled": settled,
              "seconds": round(elapsed, 3), "records_per_s": round(rate, 1), "ledger_ok": not problems,
              "rerun_settled": rerun}
    print(f"settlement: {settled} records over {wallets} wallets in {elapsed:.2f}s = {rate:,.0f} records/s "
          f"(batch {batch}); ledger verify: {'ok' if not problems else problems[:3]}; rerun settled {rerun}")
    return result


def run(database_url: str, records: int = RECORDS, wallets: int = WALLETS, batch: int = BATCH) -> dict:
    return asyncio.run(_bench(database_url, records, wallets, batch))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=RECORDS)
    parser.add_argument("--wallets", type=int, default=WALLETS)
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--allow-volatile", action="store_true", help="a database without fsync (a quick look)")
    args = parser.parse_args()
    url = os.environ.get("HUITUAN_TEST_DATABASE_URL", "")
    if not url.startswith("postgres"):
        print("HUITUAN_TEST_DATABASE_URL must point at PostgreSQL (run through scripts/testenv.sh)", file=sys.stderr)
        raise SystemExit(2)
    from bench.durability import require_durable

    require_durable(url, args.allow_volatile)
    result = run(url, args.records, args.wallets, args.batch)
    print(json.dumps(result))
    if not result["ledger_ok"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
