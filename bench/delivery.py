"""Delivery benchmark: 10,000 queued notifications delivered to the WeChat sandbox, and the
outbox's size and delivery-query time as delivered rows pile up, before and after retention.

    TESTENV_DURABLE=1 bash scripts/testenv.sh .venv/bin/python -m bench.delivery      # also part of `make bench`

WeChat is a `huituan serve --no-jobs` process with the sandbox (its own process, like WeChat);
this process is the outbox worker. Messages are queued by SQL (10,000 notifications with their
outbox rows, as ``notify`` writes them); the delivery is the real ``outbox.deliver_pending``,
one message at a time, then again four at a time (the outbox job's default).
Then 100,000 delivered rows at a time are added (up to 500,000) and the delivery query (due
pending rows) is timed with 100 rows pending; then the retention job (``outbox.purge_delivered``)
runs and the size and query time are measured again.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from huituan.core.clock import utcnow

MESSAGES = 10_000
STEP = 100_000
STEPS = 5


async def _queue(conn, n: int, start: int, status: str = "pending", sent_at: datetime | None = None) -> None:
    now = utcnow()
    await conn.execute_query(
        "INSERT INTO notification (dedupe_key, claim, event, channel, user_id, touser, template_id, \"values\", page,"
        " urgent, status, reason, error, created_at, sent_at)"
        " SELECT 'bench:' || i, 'c', 'order_shipped', 'subscribe', i, 'obench' || i, 'sandbox-tpl-order-shipped',"
        " json_build_object('character_string1', 'HT' || i, 'thing2', '赣南脐橙 5 斤装', 'thing3', '顺丰速运',"
        "  'character_string4', 'SF' || i), 'pages/order/detail?id=' || i, false, $3::text, '', '', $4::timestamptz, $5::timestamptz"
        " FROM generate_series($1::bigint, $2::bigint) AS i", [start, start + n - 1, status, now, sent_at])
    await conn.execute_query(
        "INSERT INTO outbox_message (kind, dedupe_key, payload, status, attempts, last_error, next_attempt_at,"
        " created_at, sent_at)"
        " SELECT 'notification', 'notification:' || id, json_build_object('notification_id', id, 'channel',"
        "  'subscribe', 'touser', touser, 'template_id', template_id, 'data', \"values\", 'page', page),"
        " $3::text, 0, '', NULL, $4::timestamptz, $5::timestamptz FROM notification WHERE user_id BETWEEN $1::bigint AND $2::bigint",
        [start, start + n - 1, status, now, sent_at])


async def _table_mb(conn) -> float:
    rows = await conn.execute_query_dict("SELECT pg_total_relation_size('outbox_message') AS b")
    return round(rows[0]["b"] / 1e6, 1)


async def _plan(conn) -> str:
    """The top node of PostgreSQL's plan for the due-rows query (an index scan, never the table)."""
    rows = await conn.execute_query_dict(
        "EXPLAIN SELECT id FROM outbox_message WHERE status = 'pending' AND next_attempt_at <= now()"
        " ORDER BY next_attempt_at, id LIMIT 100")
    lines = [r["QUERY PLAN"].strip(" ->") for r in rows]
    return next((line.split("  ")[0] for line in lines if "Scan" in line), lines[0])


async def _query_ms(rt) -> float:
    """The delivery query as deliver_pending issues it (due pending rows, 100), median of 20."""
    from huituan.models.outbox import OutboxMessage, OutboxStatus

    times = []
    for _ in range(20):
        t = time.perf_counter()
        await OutboxMessage.filter(status=OutboxStatus.pending, next_attempt_at__isnull=True).order_by("id").limit(100)
        await (OutboxMessage.filter(status=OutboxStatus.pending, next_attempt_at__lte=utcnow())
               .order_by("next_attempt_at", "id").limit(100))
        times.append(time.perf_counter() - t)
    return round(sorted(times)[len(times) // 2] * 1000, 2)


async def _bench(database_url: str, redis_url: str, messages: int, steps: int) -> dict:
    from tortoise import Tortoise, connections

    from bench.run import Proc, free_port, server_env, wait_ready
    from huituan.app import start_runtime, stop_runtime
    from huituan.core.settings import Settings
    from huituan.services import outbox

    work = Path(tempfile.mkdtemp(prefix="huituan-bench-delivery-"))
    port = free_port()
    key_dir = work / "keys"
    key_dir.mkdir()
    wechat = Proc([sys.executable, "-m", "huituan.cli", "serve", "--no-jobs", "--port", str(port)],
                  server_env(database_url, redis_url, str(key_dir), port), work / "wechat.log")
    rt = None
    try:
        wait_ready(f"http://127.0.0.1:{port}/healthz")
        rt = await start_runtime(Settings(database_url=database_url, redis_url=redis_url, log_level="WARNING",
                                          public_base_url=f"http://127.0.0.1:{port}", jobs_enabled=False,
                                          sandbox_key_dir=str(key_dir)))
        await Tortoise.generate_schemas(safe=True)
        conn = connections.get("default")
        await conn.execute_script("TRUNCATE TABLE notification, outbox_message RESTART IDENTITY;")
        result: dict = {"messages": messages, "growth": []}
        for concurrency, start in ((1, 1), (4, 1_000_001)):
            await conn.execute_script("TRUNCATE TABLE notification, outbox_message RESTART IDENTITY;")
            await _queue(conn, messages, start)
            await conn.execute_script("ANALYZE outbox_message; ANALYZE notification;")
            started = time.perf_counter()
            sent = 0
            while True:
                n = await outbox.deliver_pending(rt, limit=500, concurrency=concurrency)
                if not n:
                    break
                sent += n
            elapsed = time.perf_counter() - started
            rate = sent / elapsed if elapsed else 0.0
            print(f"delivery: {sent} notifications to the sandbox in {elapsed:.1f}s = {rate:,.0f} messages/s "
                  f"({concurrency} at a time)")
            result[f"concurrency_{concurrency}"] = {"sent": sent, "seconds": round(elapsed, 2),
                                                    "messages_per_s": round(rate, 1)}
        # delivered rows pile up; 100 rows stay pending; the delivery query is timed at each size
        await _queue(conn, 100, 10_000_000)
        base = 20_000_000
        for step in range(steps + 1):
            if step:
                await _queue(conn, STEP, base + step * STEP, "sent", utcnow() - timedelta(days=30))
                await conn.execute_script("ANALYZE outbox_message;")
            rows = (await conn.execute_query_dict("SELECT count(*) AS n FROM outbox_message"))[0]["n"]
            point = {"rows": rows, "table_mb": await _table_mb(conn), "query_ms": await _query_ms(rt),
                     "plan": await _plan(conn)}
            result["growth"].append(point)
            print(f"outbox {point['rows']:>7} rows, {point['table_mb']:>6} MB: delivery query {point['query_ms']} ms"
                  f" ({point['plan']})")
        t = time.perf_counter()
        purged = await outbox.purge_delivered(utcnow() - timedelta(days=7))
        purge_s = time.perf_counter() - t
        await conn.execute_script("VACUUM outbox_message")  # one statement: not in a transaction block
        await conn.execute_script("ANALYZE outbox_message")
        rows = (await conn.execute_query_dict("SELECT count(*) AS n FROM outbox_message"))[0]["n"]
        after = {"purged": purged, "purge_seconds": round(purge_s, 1), "rows": rows,
                 "table_mb": await _table_mb(conn), "query_ms": await _query_ms(rt)}
        result["after_retention"] = after
        print(f"retention: purged {purged} delivered rows in {purge_s:.1f}s; {rows} rows, {after['table_mb']} MB "
              f"(plain VACUUM keeps the file for reuse), delivery query {after['query_ms']} ms")
        await conn.execute_script("TRUNCATE TABLE notification, outbox_message RESTART IDENTITY;")
        return result
    finally:
        if rt is not None:
            await stop_runtime(rt)
        wechat.stop()


def run(database_url: str, redis_url: str, messages: int = MESSAGES, steps: int = STEPS) -> dict:
    return asyncio.run(_bench(database_url, redis_url, messages, steps))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=MESSAGES)
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--allow-volatile", action="store_true", help="a database without fsync (a quick look)")
    args = parser.parse_args()
    url, redis_url = os.environ.get("HUITUAN_TEST_DATABASE_URL", ""), os.environ.get("HUITUAN_TEST_REDIS_URL", "")
    if not url.startswith("postgres") or not redis_url:
        print("needs HUITUAN_TEST_DATABASE_URL (PostgreSQL) and HUITUAN_TEST_REDIS_URL: run through scripts/testenv.sh",
              file=sys.stderr)
        raise SystemExit(2)
    from bench.durability import require_durable

    require_durable(url, args.allow_volatile)
    print(json.dumps(run(url, redis_url, args.messages, args.steps)))


if __name__ == "__main__":
    main()
