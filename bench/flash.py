"""The flash-sale burst (part of ``bench.run``): 20,000 distinct buyers claiming in turn, over and
over for the run's duration (distinct Idempotency-Keys), at 512 connections against 1,000 units
with a per-user limit of 1.

Checked afterwards in the database: exactly 1,000 orders, zero oversell (claims sum to the
units, stock_left is 0, Redis agrees), zero per-user limit violations. Throughput is the claim
endpoint's request rate against the bare aiohttp handler driven by the same wrk script at the same
connection count in the same run; p99 is wrk's. A winner answered 202 (its order still in the
server's line) polls its claim about once a second until the order shows, as the mini-program
does: those polls are part of the burst's requests and latency, and are counted apart.
"""

from __future__ import annotations

import asyncio
import re
import time
from datetime import timedelta
from pathlib import Path

LUA = Path(__file__).resolve().parent / "lua"


async def prepare(db_url: str, secret: str, buyers: int, units: int, sku_id: int) -> dict:
    from tortoise import Tortoise

    from huituan.core.clock import utcnow
    from huituan.core.db import init_db
    from huituan.core.tokens import issue_token
    from huituan.models import MODEL_APP
    from huituan.models.flash_sale import FlashItem, FlashSession
    from huituan.models.group_buy import ActivityStatus
    from huituan.models.user import Address, User

    await init_db(db_url, MODEL_APP)
    try:
        await User.bulk_create([User(openid=f"flash-buyer-{i}", nickname=f"秒杀买家{i}") for i in range(buyers)],
                               batch_size=2000)
        users = await User.filter(openid__startswith="flash-buyer-").order_by("id")
        await Address.bulk_create([Address(user_id=u.id, receiver="李四", phone="13900000000", province="广东省",
                                           city="广州市", detail="天河路 1 号") for u in users], batch_size=2000)
        addresses = {a.user_id: a.id for a in await Address.filter(user_id__in=[u.id for u in users])}
        now = utcnow()
        session = await FlashSession.create(title="基准测试场", starts_at=now - timedelta(minutes=1),
                                            ends_at=now + timedelta(hours=1), status=ActivityStatus.active)
        sku = await __import__("huituan.models.catalog", fromlist=["Sku"]).Sku.get(id=sku_id)
        item = await FlashItem.create(session_id=session.id, product_id=sku.product_id, sku_id=sku.id,
                                      flash_price_fen=990, stock_total=units, stock_left=units, per_user_limit=1)
        tokens = [(issue_token(secret, u.id, "user", 3600 * 24), addresses[u.id]) for u in users]
        return {"session_id": session.id, "item_id": item.id, "tokens": tokens}
    finally:
        await Tortoise.close_connections()


async def preload(db_url: str, redis_url: str, session_id: int) -> None:
    """The session into Redis before the burst, as the preload job does ten minutes ahead."""
    import redis.asyncio as aioredis
    from tortoise import Tortoise

    from huituan.core.db import init_db
    from huituan.models import MODEL_APP
    from huituan.services.activities import flash_sale

    await init_db(db_url, MODEL_APP)
    r = aioredis.from_url(redis_url, decode_responses=True)
    try:
        await flash_sale.load_session(r, session_id)
    finally:
        await r.aclose()
        await Tortoise.close_connections()


async def verify(db_url: str, redis_url: str, session_id: int, item_id: int, units: int) -> dict:
    import asyncpg
    import redis.asyncio as aioredis

    conn = await asyncpg.connect(db_url)
    try:
        orders = await conn.fetchval("SELECT count(*) FROM \"order\" WHERE activity_type = 'flash_sale'")
        claimed = await conn.fetchval("SELECT coalesce(sum(quantity), 0) FROM flash_claim WHERE item_id = $1", item_id)
        worst = await conn.fetchval("SELECT coalesce(max(n), 0) FROM (SELECT sum(quantity) AS n FROM flash_claim "
                                    "WHERE item_id = $1 GROUP BY user_id) t", item_id)
        left = await conn.fetchval("SELECT stock_left FROM flash_item WHERE id = $1", item_id)
    finally:
        await conn.close()
    r = aioredis.from_url(redis_url, decode_responses=True)
    try:
        redis_left = await r.hget(f"{{fs:{session_id}}}:stock", str(item_id))
    finally:
        await r.aclose()
    return {"orders": orders, "units_claimed": int(claimed), "oversold": max(0, int(claimed) - units),
            "limit_violations": int(worst > 1), "db_stock_left": left,
            "redis_stock_left": None if redis_left is None else int(redis_left)}


def measure(run_wrk, base: str, bare_url: str, db_url: str, redis_url: str, secret: str, sku_id: int, work: Path,
            *, buyers: int = 20_000, units: int = 1_000, connections: int = 512, seconds: int = 10) -> dict:
    data = asyncio.run(prepare(db_url, secret, buyers, units, sku_id))
    asyncio.run(preload(db_url, redis_url, data["session_id"]))
    tokens_file = work / "flash_tokens.txt"
    tokens_file.write_text("".join(f"{t} {a}\n" for t, a in data["tokens"]))
    script_args = [str(tokens_file), str(data["session_id"]), str(data["item_id"])]
    # The baseline gets the very same client: wrk with this script (it builds every request in
    # Lua and reads every answer), so the ratio compares servers, not wrk configurations.
    bare = run_wrk(bare_url, seconds=min(seconds, 10), connections=connections, script=LUA / "flash_claims.lua",
                   script_args=script_args)
    bare_plain = run_wrk(bare_url, seconds=5, connections=connections)
    burst = run_wrk(base + "/healthz", seconds=seconds, connections=connections, script=LUA / "flash_claims.lua",
                    script_args=script_args)
    (work / "flash_wrk.txt").write_text(burst["raw"])
    Path("/tmp/act_flash_wrk.txt").write_text(burst["raw"])
    errors = re.search(r"Socket errors: (.*)", burst["raw"])
    statuses = re.search(r"STATUS (.*)", burst["raw"])
    polls = re.search(r"POLLS queued=(\d+) ordered=(\d+) other=(\d+)", burst["raw"])
    rate = burst["requests"] / burst["elapsed"] if burst["elapsed"] else 0.0
    # Claims the server accepted before wrk stopped may still be creating their orders: wait
    # until the count stops moving (bounded), then check.
    # The same crowd once the units are gone: what a claim costs when the script says no.
    after = run_wrk(base + "/healthz", seconds=5, connections=connections, script=LUA / "flash_claims.lua",
                    script_args=script_args)
    checked = asyncio.run(verify(db_url, redis_url, data["session_id"], data["item_id"], units))
    for _ in range(30):
        time.sleep(1)
        again = asyncio.run(verify(db_url, redis_url, data["session_id"], data["item_id"], units))
        if again == checked:
            break
        checked = again
    result = {"buyers": buyers, "buyers_reached": min(buyers, burst["requests"]), "requests": burst["requests"], "connections": connections, "units": units,
              "claim_rps": round(rate, 1), "bare_rps_same_client": bare["rps"],
              "bare_rps_plain_wrk": bare_plain["rps"], "bare_plain_p99": bare_plain["p99"],
              "ratio_claim": round(rate / bare["rps"], 3) if bare["rps"] else 0.0,
              "p50": burst["p50"], "p99": burst["p99"], "bare_p99": bare["p99"],
              "socket_errors": errors.group(1) if errors else "",
              "sold_out_rps": after["rps"], "ratio_sold_out": round(after["rps"] / bare["rps"], 3) if bare["rps"] else 0.0,
              "sold_out_p99": after["p99"],
              "statuses": statuses.group(1) if statuses else "",
              # winners answered 202 poll about once a second until their order shows
              "polls_queued": int(polls.group(1)) if polls else 0, "polls_ordered": int(polls.group(2)) if polls else 0,
              **checked}
    ok = checked["orders"] == units and checked["oversold"] == 0 and checked["limit_violations"] == 0
    result["correct"] = ok
    print(f"flash burst: {burst['requests']} claims from {buyers} buyers at {connections} connections: "
          f"{rate:.0f}/s = {result['ratio_claim']:.1%} of bare ({bare['rps']:.0f}/s, p99 {bare['p99']}, same client), "
          f"p99 {burst['p99']}; "
          f"{checked['orders']} orders for {units} units, oversold {checked['oversold']}, "
          f"limit violations {checked['limit_violations']}; {result['polls_ordered']} queued winners saw their "
          f"order after {result['polls_queued']} polls answered 'queued'; after sell-out {after['rps']:.0f}/s "
          f"= {result['ratio_sold_out']:.1%} of bare, p99 {after['p99']}")
    return result
