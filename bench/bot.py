"""Bot benchmark: WeCom callbacks round trip with 50 leaders sending at once, and the order
summary (汇总单) of one pickup point holding 2,000 orders.

    TESTENV_DURABLE=1 bash scripts/testenv.sh .venv/bin/python -m bench.bot      # standalone (starts its own server)

Also called by ``bench.run`` (``make bench``) as ``run(base_url, database_url)`` against the
server it started. Seeds 50 approved leaders linked to WeCom users, each with a pickup point;
point 1 gets 2,000 paid pickup orders (two lines each) of the current point day. Every
callback is encrypted beforehand with the sandbox WeCom key (WeCom's CPU, not ours) and all 50
leaders post at once, ``rounds`` commands each (今日 / 钱包 / 分拣单 / 帮助 / 团队 / a typo);
the latency is the whole HTTP round trip until the encrypted reply is read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid

LEADERS = 50
ORDERS = 2_000
ROUNDS = 20
COMMANDS = ("今日", "钱包", "分拣单", "帮助", "团队", "钱宝")


async def _seed(leaders: int, orders: int) -> dict:
    from tortoise import connections

    from huituan.core.clock import china_date, utcnow
    from huituan.models.catalog import Product, Sku
    from huituan.models.leader import Leader, LeaderStatus, PickupPoint, PickupTicket
    from huituan.models.order import DeliveryMode, Order, OrderItem, OrderStatus
    from huituan.models.user import User

    conn = connections.get("default")
    now = utcnow()
    day = china_date().isoformat()
    stamp = uuid.uuid4().hex[:6]
    users = await User.bulk_create([User(openid=f"bench-bot-{stamp}-{i}", nickname=f"团长{i}", phone="13900000000")
                                    for i in range(leaders)])
    users = await User.filter(openid__startswith=f"bench-bot-{stamp}-").order_by("id")
    await Leader.bulk_create([Leader(user_id=u.id, name=f"团长{i}", phone="13900000000",
                                     status=LeaderStatus.approved, approved_at=now,
                                     wecom_userid=f"bench-{stamp}-{i}") for i, u in enumerate(users)])
    ldrs = await Leader.filter(wecom_userid__startswith=f"bench-{stamp}-").order_by("id")
    await PickupPoint.bulk_create([PickupPoint(leader_id=x.id, name=f"自提点{i}", province="浙江省", city="杭州市",
                                               address="文三路", cutoff_time="23:59", latitude=30.2 + i / 1000,
                                               longitude=120.1) for i, x in enumerate(ldrs)])
    point = await PickupPoint.filter(leader_id=ldrs[0].id).first()
    product = await Product.create(title=f"草莓{stamp}", price_from_fen=1000)
    skus = [await Sku.create(product_id=product.id, code=f"bench-bot-{stamp}-{k}", name=f"规格{k}", price_fen=1000,
                             stock=10**9) for k in range(4)]
    buyers = await User.bulk_create([User(openid=f"bench-buyer-{stamp}-{i}", nickname=f"顾客{i}",
                                          phone=f"138{i:08d}") for i in range(orders)])
    buyers = await User.filter(openid__startswith=f"bench-buyer-{stamp}-").order_by("id")
    await Order.bulk_create([Order(order_no=f"B{stamp}{i:08d}", user_id=b.id, idempotency_key=f"bench-{i}",
                                   status=OrderStatus.paid, delivery_mode=DeliveryMode.pickup,
                                   pickup_point_id=point.id, goods_fen=2000, payable_fen=2000, paid_fen=2000,
                                   pay_deadline=now, paid_at=now) for i, b in enumerate(buyers)], batch_size=1000)
    order_rows = await Order.filter(order_no__startswith=f"B{stamp}").order_by("id").values("id", "user_id")
    await OrderItem.bulk_create([OrderItem(order_id=o["id"], product_id=product.id, sku_id=skus[(i + k) % 4].id,
                                           title=product.title, sku_name=skus[(i + k) % 4].name, unit_price_fen=1000,
                                           quantity=1, paid_fen=1000)
                                 for i, o in enumerate(order_rows) for k in range(2)], batch_size=1000)
    await PickupTicket.bulk_create([PickupTicket(order_id=o["id"], user_id=o["user_id"], pickup_point_id=point.id,
                                                 day=day, code=f"{10_000_000 + i}") for i, o in enumerate(order_rows)],
                                   batch_size=1000)
    if conn.capabilities.dialect == "postgres":
        await conn.execute_script("ANALYZE pickup_ticket; ANALYZE \"order\"; ANALYZE order_item; ANALYZE \"user\";")
    return {"senders": [x.wecom_userid for x in ldrs], "point_id": point.id, "day": day}


async def _summary_timing(point_id: int, day: str, repeat: int = 10) -> dict:
    from huituan.services.pickup.day import day_report

    times = []
    rep = None
    for _ in range(repeat):
        t = time.perf_counter()
        rep = await day_report(point_id, day)
        times.append((time.perf_counter() - t) * 1000)
    assert rep is not None and rep["orders"] >= ORDERS
    return {"orders": rep["orders"], "median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1)}


def _envelopes(senders: list[str], rounds: int) -> list[list[tuple[dict, str]]]:
    from huituan.core.sandbox.wecom import encrypt_for_callback, text_message_xml

    out = []
    for s_i, sender in enumerate(senders):
        mine = []
        for r in range(rounds):
            content = COMMANDS[(s_i + r) % len(COMMANDS)]
            if s_i == 0 and content in ("分拣单", "今日"):
                content = "钱包"  # the 2,000-order point is timed on its own (summary_via_bot)
            msg_id = f"{uuid.uuid4().int % 10**18:018d}"  # never a replay
            mine.append(encrypt_for_callback(text_message_xml(sender, content, msg_id)))
        out.append(mine)
    return out


async def _round_trips(base_url: str, senders: list[str], rounds: int) -> dict:
    import aiohttp

    plan = _envelopes(senders, rounds)
    url = base_url + "/bot/wecom/callback"
    latencies: list[float] = []
    errors = 0

    async def leader(session, msgs):
        nonlocal errors
        for params, body in msgs:
            t = time.perf_counter()
            async with session.post(url, params=params, data=body.encode()) as resp:
                text = await resp.text()
                if resp.status != 200 or not text:
                    errors += 1
            latencies.append((time.perf_counter() - t) * 1000)

    connector = aiohttp.TCPConnector(limit=len(senders))
    async with aiohttp.ClientSession(connector=connector) as session:
        # warm-up: one command per leader
        await asyncio.gather(*(leader(session, m[:1]) for m in plan))
        latencies.clear()
        started = time.perf_counter()
        await asyncio.gather(*(leader(session, m[1:]) for m in plan))
        elapsed = time.perf_counter() - started
    latencies.sort()
    p = lambda q: round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 1)  # noqa: E731
    return {"leaders": len(senders), "requests": len(latencies), "errors": errors, "p50_ms": p(0.50),
            "p99_ms": p(0.99), "max_ms": round(latencies[-1], 1), "rps": round(len(latencies) / elapsed, 1)}


async def _bursts(base_url: str, senders: list[str], bursts: int = 10) -> dict:
    """50 leaders send one command each at the same moment; wait for all; again."""
    import aiohttp

    plan = _envelopes(senders, bursts)
    url = base_url + "/bot/wecom/callback"
    latencies: list[float] = []

    async def one(session, params, body):
        t = time.perf_counter()
        async with session.post(url, params=params, data=body.encode()) as resp:
            await resp.text()
        latencies.append((time.perf_counter() - t) * 1000)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=len(senders))) as session:
        for b in range(bursts):
            await asyncio.gather(*(one(session, *plan[i][b]) for i in range(len(senders))))
            await asyncio.sleep(0.3)
    latencies.sort()
    p = lambda q: round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 1)  # noqa: E731
    return {"bursts": bursts, "requests": len(latencies), "p50_ms": p(0.5), "p99_ms": p(0.99),
            "max_ms": round(latencies[-1], 1)}


async def _big_summary_round_trip(base_url: str, sender: str) -> dict:
    import aiohttp

    from huituan.core.sandbox.wecom import encrypt_for_callback, text_message_xml

    times = []
    async with aiohttp.ClientSession() as session:
        for i in range(10):
            params, body = encrypt_for_callback(text_message_xml(sender, "今日" if i % 2 else "分拣单",
                                                                 9_100_000_000_000_000_000 + i + int(time.time())))
            t = time.perf_counter()
            async with session.post(base_url + "/bot/wecom/callback", params=params, data=body.encode()) as resp:
                await resp.text()
            times.append((time.perf_counter() - t) * 1000)
    return {"median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1)}


async def _prepare_and_time(database_url: str, leaders: int, orders: int) -> dict:
    from tortoise import Tortoise

    from huituan.core.db import close_db, init_db
    from huituan.models import MODEL_APP

    await init_db(database_url, MODEL_APP)
    try:
        await Tortoise.generate_schemas(safe=True)
        seed = await _seed(leaders, orders)
        seed["summary"] = await _summary_timing(seed["point_id"], seed["day"])
    finally:
        await close_db()
    return seed


def run(base_url: str, database_url: str, leaders: int = LEADERS, orders: int = ORDERS, rounds: int = ROUNDS) -> dict:
    seed = asyncio.run(_prepare_and_time(database_url, leaders, orders))
    trips = asyncio.run(_round_trips(base_url, seed["senders"], rounds))
    burst = asyncio.run(_bursts(base_url, seed["senders"]))
    big = asyncio.run(_big_summary_round_trip(base_url, seed["senders"][0]))
    result = {"round_trip": trips, "bursts": burst, "summary_2000_orders": seed["summary"], "summary_via_bot": big}
    print(f"bot: {trips['leaders']} leaders at once, {trips['requests']} commands: p50 {trips['p50_ms']} ms, "
          f"p99 {trips['p99_ms']} ms, {trips['rps']} commands/s, errors {trips['errors']}; "
          f"bursts of {trips['leaders']} at once: p50 {burst['p50_ms']} ms, p99 {burst['p99_ms']} ms; "
          f"summary of {seed['summary']['orders']} orders: median {seed['summary']['median_ms']} ms, "
          f"max {seed['summary']['max_ms']} ms (via the bot: median {big['median_ms']} ms)")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="", help="a running server; default: start one")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--allow-volatile", action="store_true", help="a database without fsync (a quick look)")
    args = parser.parse_args()
    db_url = os.environ.get("HUITUAN_TEST_DATABASE_URL", "")
    redis_url = os.environ.get("HUITUAN_TEST_REDIS_URL", "")
    if not db_url.startswith("postgres"):
        sys.exit("HUITUAN_TEST_DATABASE_URL must point at PostgreSQL (run through scripts/testenv.sh)")
    from bench.durability import require_durable

    require_durable(db_url, args.allow_volatile)
    if args.base_url:
        print(json.dumps(run(args.base_url, db_url, rounds=args.rounds), ensure_ascii=False))
        return
    import tempfile
    from pathlib import Path

    from bench.run import Proc, free_port, server_env, wait_ready

    work = Path(tempfile.mkdtemp(prefix="huituan-bench-bot-"))
    (work / "keys").mkdir()
    os.environ["HUITUAN_SANDBOX_KEY_DIR"] = str(work / "keys")
    port = free_port()
    server = Proc([sys.executable, "-m", "huituan.cli", "serve", "--no-jobs", "--port", str(port)],
                  server_env(db_url, redis_url, str(work / "keys"), port), work / "server.log")
    try:
        wait_ready(f"http://127.0.0.1:{port}/healthz")
        print(json.dumps(run(f"http://127.0.0.1:{port}", db_url, rounds=args.rounds), ensure_ascii=False))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
