"""Flash sale (秒杀): sessions with SKUs at a flash price, their own stock and a per-user limit.

This module holds the sessions (admin, reading), their Redis state (load, preload, reconcile
with the database), the in-process memories the claims use (the item cache, "sold out") and the
order policy. The claim itself, the line that makes the winners' orders and the poll are in
``flash_claims``.

The order of a claim is created by ``create_order`` with ``FlashSalePolicy``, whose statement
takes the unit from the database's ``FlashItem.stock_left`` by guarded update and writes the
``FlashClaim``: the database is the truth and can never oversell even if Redis drifted; Redis
only keeps the crowd off it. An unpaid claim expires with its order (the payment deadline is
the claim's TTL): the order is cancelled, the claim moves claimed -> expired and its units go
back to the database and to Redis. Money that arrives after that is refunded automatically by
the payment notify (the order is cancelled), so a unit is never sold twice. ``reconcile``
compares Redis with the database and repairs drift.

Claim: (queued in Redis ->) claimed -> paid -> refunded | claimed -> expired.
"""
from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from tortoise.expressions import F
from tortoise.functions import Sum
from tortoise.transactions import in_transaction

from huituan.core import sql
from huituan.core.clock import as_utc, utcnow
from huituan.core.errors import Conflict, NotFound, OutOfStock, ValidationFailed
from huituan.core.runtime import get_runtime
from huituan.core.single_flight import single_flight
from huituan.models.catalog import Sku
from huituan.models.flash_sale import ClaimStatus, FlashClaim, FlashItem, FlashSession, StockDrift
from huituan.models.group_buy import ActivityStatus
from huituan.models.order import ActivityType
from huituan.services.activities import common, flash_lua, flash_orders, flash_queue
from huituan.services.orders.activity import ActivityPolicy, ActivityRequest
from huituan.services.orders.create import item_values, order_values

log = logging.getLogger("huituan.activities.flash_sale")

HELD = (ClaimStatus.claimed, ClaimStatus.paid)
_scripts: dict[int, tuple[Any, dict[str, Any]]] = {}


def script(redis, name: str):
    """The registered Lua script ``name`` of flash_lua for this Redis client."""
    entry = _scripts.get(id(redis))
    if entry is None or entry[0] is not redis:
        entry = (redis, {})
        _scripts[id(redis)] = entry
    s = entry[1].get(name)
    if s is None:
        s = entry[1][name] = redis.register_script(getattr(flash_lua, name))
    return s


_CLAIM_INSERT = (
    "INSERT INTO flash_claim (session_id, item_id, user_id, quantity, request_id, order_id, status, expires_at, "
    "created_at) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE (SELECT COALESCE(SUM(quantity), 0) FROM flash_claim "
    "WHERE item_id = ? AND user_id = ? AND status IN (?, ?)) + ? <= ? RETURNING id")
_STOCK_TAKE = "UPDATE flash_item SET stock_left = stock_left - ? WHERE id = ? AND stock_left >= ?"


@lru_cache(maxsize=1)
def _pg_single() -> str:
    from huituan.services.orders import create as c

    return (
        "WITH s AS (UPDATE flash_item SET stock_left = stock_left - ? WHERE id = ? AND stock_left >= ? AND "
        "(SELECT COALESCE(SUM(quantity), 0) FROM flash_claim WHERE item_id = ? AND user_id = ? AND status IN (?, ?))"
        " + ? <= ? RETURNING id), "
        f'o AS (INSERT INTO "order" ({", ".join(c.ORDER_COLS)}) '
        f"SELECT {', '.join('?::' + t for t in c.ORDER_PG_TYPES)} FROM s RETURNING id), "
        f"i AS (INSERT INTO order_item ({', '.join(c.ITEM_COLS)}) "
        f"SELECT o.id, {', '.join('?::' + t for t in c.ITEM_PG_TYPES)} FROM o RETURNING id, order_id), "
        "k AS (INSERT INTO flash_claim (session_id, item_id, user_id, quantity, request_id, order_id, status, "
        "expires_at, created_at) SELECT ?::bigint, ?::bigint, ?::bigint, ?::int, ?::varchar, o.id, ?::varchar, "
        "?::timestamptz, ?::timestamptz FROM o RETURNING id) "
        "SELECT i.order_id, i.id AS item_id, k.id AS claim_id FROM i, k")


def _array_type(pg_type: str) -> str:
    return "text" if pg_type in ("varchar", "jsonb") else pg_type


@lru_cache(maxsize=1)
def _pg_many() -> str:
    """The winners' orders of one item as ONE statement (``flash_orders`` batches them): the
    rows arrive as arrays; the stock update takes the whole group's units at once and only
    when every row passes (enough stock, nobody twice, nobody over the per-user limit counting
    what they already hold); then the orders, items and claims for all rows, or nothing."""
    from huituan.services.orders import create as c

    assert c.ORDER_COLS[0] == "order_no"  # rows are matched back by their order number
    order_names = [f"o{n}" for n in range(len(c.ORDER_PG_TYPES))]
    item_names = [f"i{n}" for n in range(len(c.ITEM_PG_TYPES))]
    arrays = (["?::int[]", "?::bigint[]", "?::text[]", "?::timestamptz[]", "?::timestamptz[]"]
              + [f"?::{_array_type(t)}[]" for t in (*c.ORDER_PG_TYPES, *c.ITEM_PG_TYPES)])
    names = ["qty", "uid", "request_id", "expires_at", "claimed_at", *order_names, *item_names]

    def value(name: str, pg_type: str) -> str:
        return f"input.{name}::jsonb" if pg_type == "jsonb" else f"input.{name}"

    return (
        f"WITH input AS (SELECT * FROM unnest({', '.join(arrays)}) WITH ORDINALITY AS t({', '.join(names)}, ord)), "
        "s AS (UPDATE flash_item SET stock_left = stock_left - (SELECT sum(qty) FROM input) "
        "WHERE id = ? AND stock_left >= (SELECT sum(qty) FROM input) "
        "AND (SELECT count(DISTINCT uid) FROM input) = (SELECT count(*) FROM input) "
        "AND NOT EXISTS (SELECT 1 FROM input WHERE (SELECT COALESCE(SUM(f.quantity), 0) FROM flash_claim f "
        "WHERE f.item_id = ? AND f.user_id = input.uid AND f.status IN (?, ?)) + input.qty > ?) RETURNING id), "
        f'o AS (INSERT INTO "order" ({", ".join(c.ORDER_COLS)}) '
        f"SELECT {', '.join(value(n, t) for n, t in zip(order_names, c.ORDER_PG_TYPES))} FROM input, s "
        "ORDER BY input.ord RETURNING id, order_no), "
        f"i AS (INSERT INTO order_item ({', '.join(c.ITEM_COLS)}) "
        f"SELECT o.id, {', '.join(value(n, t) for n, t in zip(item_names, c.ITEM_PG_TYPES))} "
        "FROM o JOIN input ON input.o0 = o.order_no RETURNING id, order_id), "
        "k AS (INSERT INTO flash_claim (session_id, item_id, user_id, quantity, request_id, order_id, status, "
        "expires_at, created_at) SELECT ?::bigint, ?::bigint, input.uid, input.qty, input.request_id, o.id, "
        "?::varchar, input.expires_at, input.claimed_at FROM o JOIN input ON input.o0 = o.order_no "
        "RETURNING id, order_id) "
        "SELECT input.ord, i.order_id, i.id AS item_id, k.id AS claim_id FROM o "
        "JOIN input ON input.o0 = o.order_no JOIN i ON i.order_id = o.id JOIN k ON k.order_id = o.id")


def _many_statement(rows: list[dict[str, Any]]) -> tuple[str, list[Any]]:
    """(statement, args) of ``_pg_many`` for one item's rows (built by ``insert_single_pg``)."""
    first = rows[0]
    columns: list[list[Any]] = [[r["qty"] for r in rows], [r["user_id"] for r in rows],
                                [r["request_id"] for r in rows], [r["expires_at"] for r in rows],
                                [r["claimed_at"] for r in rows]]
    columns += [list(col) for col in zip(*(r["order"] + r["item"] for r in rows))]
    return _pg_many(), [*columns, first["item_id"], first["item_id"], ClaimStatus.claimed.value,
                        ClaimStatus.paid.value, first["per_user_limit"], first["session_id"], first["item_id"],
                        ClaimStatus.claimed.value]


# Items and sessions are read for every successful claim of a burst: kept a moment in-process.
_ITEM_CACHE: dict[int, tuple[float, FlashItem, FlashSession]] = {}
_ITEM_CACHE_SECONDS = 2.0


_ITEM_LOADING: dict[tuple[int, int], asyncio.Future] = {}
# database reads of an item and its session (a test counts them)
STATS = {"item_loads": 0}


async def item_and_session(session_id: int, item_id: int) -> tuple[FlashItem, FlashSession]:
    hit = _ITEM_CACHE.get(item_id)
    if hit is not None and hit[0] > time.monotonic() and hit[1].session_id == session_id:
        return hit[1], hit[2]
    # The burst's first winners all miss the cache at once: one reads the database, the others
    # wait for that read (it was a quarter of the winners' first seconds).
    return await single_flight(_ITEM_LOADING, (session_id, item_id),
                               lambda: _load_item_and_session(session_id, item_id))


async def _load_item_and_session(session_id: int, item_id: int) -> tuple[FlashItem, FlashSession]:
    now = time.monotonic()
    STATS["item_loads"] += 1
    item = await FlashItem.get_or_none(id=item_id, session_id=session_id)
    if item is None:
        raise NotFound("秒杀商品不存在", code="flash_item_not_found", field="item_id")
    session = await FlashSession.get(id=session_id)
    if len(_ITEM_CACHE) > 1000:
        _ITEM_CACHE.clear()
    # Not SOLD_OUT: the line reads the item every few seconds while the crowd is still there,
    # and forgetting "sold out" then sent every claim of that loop turn to Redis at once.
    _ITEM_CACHE[item_id] = (now + _ITEM_CACHE_SECONDS, item, session)
    return item, session


# -- admin -------------------------------------------------------------------------------------

async def create_session(title: str, starts_at: datetime, ends_at: datetime, items: list[dict[str, Any]],
                         claim_ttl_seconds: int = 900) -> dict[str, Any]:
    """A session in draft with its items; each item's stock is taken from its SKU now."""
    common.check_times(starts_at, ends_at)
    _ITEM_CACHE.clear()
    SOLD_OUT.clear()
    flash_queue.forget_all()
    if not items:
        raise ValidationFailed("items: 至少一个秒杀商品", field="items")
    if not 60 <= claim_ttl_seconds <= 7200:
        raise ValidationFailed("claim_ttl_seconds: 支付时限为 60 到 7200 秒", field="claim_ttl_seconds")
    first_at: dict[int, int] = {}
    for idx, it in enumerate(items):
        # One item per SKU: two would each have their own per-user limit, and so double it.
        if it["sku_id"] in first_at:
            raise ValidationFailed(f"items.{idx}.sku_id: 同一规格在本场只能出现一次（第 {first_at[it['sku_id']] + 1} 项已有）",
                                   field=f"items.{idx}.sku_id")
        first_at[it["sku_id"]] = idx
    async with in_transaction() as conn:
        s = await FlashSession.create(title=title, starts_at=starts_at, ends_at=ends_at,
                                      claim_ttl_seconds=claim_ttl_seconds, using_db=conn)
        for idx, it in enumerate(items):
            sku = await Sku.get_or_none(id=it["sku_id"]).using_db(conn)
            if sku is None:
                raise NotFound(f"items.{idx}.sku_id: 规格不存在", code="sku_not_found", field=f"items.{idx}.sku_id")
            if not 1 <= it["flash_price_fen"] <= sku.price_fen:
                raise ValidationFailed(f"items.{idx}.flash_price_fen: 秒杀价须在 1 分到原价之间",
                                       field=f"items.{idx}.flash_price_fen")
            if it["stock"] < 1 or it["per_user_limit"] < 1:
                raise ValidationFailed(f"items.{idx}.stock: 库存和限购至少为 1", field=f"items.{idx}.stock")
            took = await Sku.filter(id=sku.id, stock__gte=it["stock"]).using_db(conn).update(
                stock=F("stock") - it["stock"])
            if took != 1:
                raise OutOfStock(f"items.{idx}.stock: 商品库存不足", field=f"items.{idx}.stock", sku_id=sku.id)
            await FlashItem.create(session_id=s.id, product_id=sku.product_id, sku_id=sku.id,
                                   flash_price_fen=it["flash_price_fen"], stock_total=it["stock"],
                                   stock_left=it["stock"], per_user_limit=it["per_user_limit"], using_db=conn)
    return await session_dict(s)


async def update_session(redis, session_id: int, data: dict[str, Any]) -> dict[str, Any]:
    s = await _get_session(session_id)
    fields = {k: v for k, v in data.items() if v is not None and k in ("title", "starts_at", "ends_at",
                                                                      "claim_ttl_seconds")}
    common.check_times(fields.get("starts_at", s.starts_at), fields.get("ends_at", s.ends_at))
    await FlashSession.filter(id=s.id).update(**fields)
    _ITEM_CACHE.clear()  # this process at once; the others within _ITEM_CACHE_SECONDS
    SOLD_OUT.clear()
    flash_queue.forget_all()
    s = await _get_session(session_id)
    if s.status == ActivityStatus.active:
        await load_session(redis, s.id)
    return await session_dict(s, redis)


async def set_session_status(redis, session_id: int, status: ActivityStatus) -> dict[str, Any]:
    s = await _get_session(session_id)
    _ITEM_CACHE.clear()
    SOLD_OUT.clear()
    flash_queue.forget_all()
    await FlashSession.filter(id=s.id).update(status=status)
    await load_session(redis, s.id)  # the script reads 'active' from Redis: stop takes effect at once
    return await session_dict(await _get_session(session_id), redis)


async def session_results(redis, session_id: int) -> dict[str, Any]:
    s = await _get_session(session_id)
    counts = {str(st): await FlashClaim.filter(session_id=s.id, status=st).count() for st in ClaimStatus}
    drifts = await StockDrift.filter(session_id=s.id).order_by("-id").limit(50)
    return {"session": await session_dict(s, redis), "claims": counts,
            "drifts": [drift_dict(d) for d in drifts]}


def drift_dict(d: StockDrift) -> dict[str, Any]:
    return {"id": d.id, "session_id": d.session_id, "item_id": d.item_id, "redis_stock": d.redis_stock,
            "db_stock": d.db_stock, "repaired": d.repaired, "created_at": common.iso(d.created_at)}


async def list_drifts(limit: int = 100) -> dict[str, Any]:
    return {"items": [drift_dict(d) for d in await StockDrift.all().order_by("-id").limit(limit)]}


# -- reading -----------------------------------------------------------------------------------

async def _get_session(session_id: int) -> FlashSession:
    s = await FlashSession.get_or_none(id=session_id)
    if s is None:
        raise common.not_found("秒杀场次", "session_not_found", "session_id")
    return s


async def session_dict(s: FlashSession, redis=None) -> dict[str, Any]:
    items = await FlashItem.filter(session_id=s.id).order_by("id")
    live: dict[str, Any] = {}
    if redis is not None and items:
        live = dict(zip([str(i.id) for i in items],
                        await redis.hmget(flash_lua.keys(s.id)["stock"], [str(i.id) for i in items])))
    now = utcnow()
    phase = ("upcoming" if now < as_utc(s.starts_at) else "ended" if now >= as_utc(s.ends_at) else "running")
    return {"id": s.id, "title": s.title, "status": str(s.status), "phase": phase,
            "starts_at": common.iso(s.starts_at), "ends_at": common.iso(s.ends_at),
            "claim_ttl_seconds": s.claim_ttl_seconds,
            "items": [{"id": i.id, "product_id": i.product_id, "sku_id": i.sku_id, "flash_price_fen": i.flash_price_fen,
                       "stock_total": i.stock_total,
                       "stock_left": int(live[str(i.id)]) if live.get(str(i.id)) is not None else i.stock_left,
                       "per_user_limit": i.per_user_limit} for i in items]}


async def list_sessions(redis, now: datetime | None = None) -> dict[str, Any]:
    """Running and upcoming sessions (today's slots first)."""
    now = now or utcnow()
    sessions = await FlashSession.filter(status=ActivityStatus.active, ends_at__gt=now).order_by("starts_at").limit(50)
    return {"items": [await session_dict(s, redis) for s in sessions]}


async def get_session(redis, session_id: int) -> dict[str, Any]:
    return await session_dict(await _get_session(session_id), redis)


def claim_dict(c: FlashClaim) -> dict[str, Any]:
    return {"id": c.id, "session_id": c.session_id, "item_id": c.item_id, "quantity": c.quantity,
            "request_id": c.request_id, "order_id": c.order_id, "status": str(c.status),
            "expires_at": common.iso(c.expires_at), "created_at": common.iso(c.created_at)}


async def my_claims(user_id: int) -> dict[str, Any]:
    return {"items": [claim_dict(c) for c in await FlashClaim.filter(user_id=user_id).order_by("-id").limit(50)]}


# -- Redis state -------------------------------------------------------------------------------

async def load_session(redis, session_id: int) -> int:
    """Write a session into Redis: window and limits always, stock and per-user counts only where
    missing (from the database). Returns how many stock counts were written."""
    s = await FlashSession.get_or_none(id=session_id)
    if s is None:
        return 0
    k = flash_lua.keys(s.id)
    # Won claims still waiting for their orders hold units the database has not taken yet. Read
    # before the database: an order written in between is then counted twice (a unit too few,
    # which reconcile gives back), never not at all (a unit sold twice in Redis).
    pending = await redis.hgetall(k["pending"])
    waiting = pending_units(s.id, pending)
    items = await FlashItem.filter(session_id=s.id)
    args: list[Any] = [int(as_utc(s.starts_at).timestamp()), int(as_utc(s.ends_at).timestamp()),
                       "1" if s.status == ActivityStatus.active else "0"]
    for it in items:
        args += [it.id, max(0, it.stock_left - waiting.get(it.id, 0)), it.per_user_limit]
    written = int(await script(redis, "LOAD")(keys=[k["meta"], k["stock"], k["limit"]], args=args))
    for it in items:
        rows = await FlashClaim.filter(item_id=it.id, status__in=list(HELD)).group_by("user_id") \
            .annotate(total=Sum("quantity")).values("user_id", "total")
        held = {r["user_id"]: int(r["total"] or 0) for r in rows}
        for field, payload in pending.items():  # and what users hold in the line
            try:
                claim = flash_lua.PendingClaim.from_pending(s.id, field, payload)
            except (ValueError, TypeError):
                continue
            if claim.item_id == it.id:
                held[claim.user_id] = held.get(claim.user_id, 0) + claim.quantity
        if held:
            pairs: list[Any] = []
            for user_id, total in held.items():
                pairs += [user_id, total]
            await script(redis, "LOAD_USERS")(keys=[flash_lua.users_key(s.id, it.id)], args=pairs)
    return written


_loading: dict[int, asyncio.Future] = {}
# item id -> until when (monotonic) this process answers "sold out" without asking Redis.
SOLD_OUT: dict[int, float] = {}
# items whose sold-out memory ran out and one claim is asking Redis again
RECHECKING: set[int] = set()
SOLD_OUT_MEMORY_SECONDS = 1.0


async def load_once(redis, session_id: int) -> None:
    """A burst that finds the session missing loads it once per process; the other requests
    wait for that load instead of each reading the database."""
    await single_flight(_loading, session_id, lambda: load_session(redis, session_id))


async def preload_sessions(redis, within_minutes: int, now: datetime | None = None) -> int:
    """Job: sessions that start within ``within_minutes`` or are running go into Redis."""
    now = now or utcnow()
    ids = await FlashSession.filter(status=ActivityStatus.active, starts_at__lte=now + timedelta(minutes=within_minutes),
                                    ends_at__gt=now).values_list("id", flat=True)
    for sid in ids:
        await load_session(redis, sid)
    return len(ids)


async def reconcile(redis, now: datetime | None = None, settle_seconds: float = 0.2) -> int:
    """Job: compare each running session's Redis stock with the database's and repair drift.

    A claim in flight (script done, order transaction not yet committed) is a drift that heals
    itself: a difference is only repaired when it is the same after ``settle_seconds``, and the
    repair is a compare-and-set on the value read. Each repair is logged, stored (StockDrift,
    the admin API lists them) and counted. Returns the number of repairs.
    """
    now = now or utcnow()
    sessions = await FlashSession.filter(status=ActivityStatus.active, starts_at__lte=now + timedelta(minutes=60),
                                         ends_at__gt=now)
    repaired = 0
    for s in sessions:
        k = flash_lua.keys(s.id)
        if not await redis.exists(k["meta"]):
            await load_session(redis, s.id)
        first = await _compare(redis, s.id, k)
        if not first:
            continue
        await asyncio.sleep(settle_seconds)
        second = await _compare(redis, s.id, k)
        for item_id, (r, d) in second.items():
            if item_id not in first or (first[item_id][0] is None) != (r is None) or \
                    (r is not None and first[item_id][0] - first[item_id][1] != r - d):
                continue  # still moving: next round
            if await script(redis, "REPAIR")(keys=[k["stock"]], args=[item_id, "" if r is None else r, d]):
                if r is None:
                    await load_session(redis, s.id)  # the per-user counts went with it
                await StockDrift.create(session_id=s.id, item_id=item_id, redis_stock=r, db_stock=d)
                log.warning("flash stock drift repaired: session %s item %s redis %s -> db %s", s.id, item_id, r, d)
                repaired += 1
    return repaired


def pending_units(session_id: int, pending: dict[str, str]) -> dict[int, int]:
    """Units per item held by won claims whose orders are not written yet."""
    waiting: dict[int, int] = {}
    for field, payload in pending.items():
        try:
            job = flash_lua.PendingClaim.from_pending(session_id, field, payload)
        except (ValueError, TypeError):
            continue
        waiting[job.item_id] = waiting.get(job.item_id, 0) + job.quantity
    return waiting


async def _compare(redis, session_id: int, k: dict[str, str]) -> dict[int, tuple[int | None, int]]:
    items = await FlashItem.filter(session_id=session_id).order_by("id")
    if not items:
        return {}
    # Read together (one slot, MULTI): a claim won between two separate reads would look like drift.
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hmget(k["stock"], [str(i.id) for i in items])
        pipe.hgetall(k["pending"])
        values, pending = await pipe.execute()
    # Won claims whose orders are still in a line: Redis has taken their units, the database
    # not yet. They are not drift.
    waiting = pending_units(session_id, pending)
    out = {}
    for it, v in zip(items, values):
        r = None if v is None else int(v)
        expected = it.stock_left - waiting.get(it.id, 0)
        if r != expected:
            out[it.id] = (r, expected)
    return out


async def release_redis(redis, session_id: int, item_id: int, user_id: int, quantity: int, *,
                         restore_stock: bool, request_id: str | None = None, pending_field: str = "") -> None:
    k = flash_lua.keys(session_id)
    await script(redis, "RELEASE")(
        keys=[k["stock"], flash_lua.users_key(session_id, item_id),
              flash_lua.request_key(session_id, user_id, request_id or "-"), k["pending"]],
        args=[item_id, user_id, quantity, "1" if restore_stock else "0", "1" if request_id else "0", pending_field])


class FlashSalePolicy(ActivityPolicy):
    type = ActivityType.flash_sale
    takes_sku_stock = False  # the session's stock was taken from the SKU when it was created

    async def price(self, request: ActivityRequest, user_id: int, lines: dict[int, int],
                    skus: dict[int, dict[str, Any]]) -> dict[int, int]:
        item: FlashItem = request.params["item"]
        request.ref = str(item.id)  # the claim is found by its order id; the ref names the item
        return {item.sku_id: item.flash_price_fen}

    async def reserve(self, conn, order: Any, request: ActivityRequest) -> None:
        """The claim is written when the user's held units leave room under the limit (the
        database's backstop behind Redis' count), then the units leave the database's stock
        (guarded). Raw SQL, two statements: this runs for every unit sold in a burst."""
        item: FlashItem = request.params["item"]
        q = request.params["quantity"]
        now = utcnow()
        rows = await sql.fetch(conn, _CLAIM_INSERT, [
            item.session_id, item.id, order.user_id, q, request.params["request_id"], order.id,
            ClaimStatus.claimed.value, order.pay_deadline, now,
            item.id, order.user_id, ClaimStatus.claimed.value, ClaimStatus.paid.value, q, item.per_user_limit])
        if not rows:
            raise Conflict(f"每人限购 {item.per_user_limit} 件", code="flash_limit_reached",
                           per_user_limit=item.per_user_limit)
        request.result["claim_id"] = rows[0]["id"]
        # Stock last: the hot item's row lock is held only from this UPDATE to COMMIT.
        if await sql.execute(conn, _STOCK_TAKE, [q, item.id, q]) != 1:
            raise OutOfStock("已抢光", code="flash_db_short")

    async def insert_single_pg(self, conn, order: Any, item: Any, request: ActivityRequest) -> bool:
        """The burst's path on PostgreSQL: the guarded stock update (with the per-user backstop),
        the order, its item and the claim in one statement, all or nothing, written in the
        process' next batch (``flash_orders``: with the other winners of the item by one
        set-based statement when they all pass, else this statement on its own)."""
        fi: FlashItem = request.params["item"]
        q = request.params["quantity"]
        now = utcnow()
        order_vals, item_vals = order_values(order), item_values(item)
        rows = await flash_orders.insert(_pg_single(), fi.id, [
            q, fi.id, q, fi.id, order.user_id, ClaimStatus.claimed.value, ClaimStatus.paid.value, q,
            fi.per_user_limit, *order_vals, *item_vals,
            fi.session_id, fi.id, order.user_id, q, request.params["request_id"], ClaimStatus.claimed.value,
            order.pay_deadline, now], many=_many_statement, row={
                "qty": q, "user_id": order.user_id, "request_id": request.params["request_id"],
                "expires_at": order.pay_deadline, "claimed_at": now, "order": order_vals, "item": item_vals,
                "item_id": fi.id, "session_id": fi.session_id, "per_user_limit": fi.per_user_limit})
        if not rows:
            held = await FlashClaim.filter(item_id=fi.id, user_id=order.user_id, status__in=list(HELD)) \
                .annotate(total=Sum("quantity")).values("total")
            if int((held[0]["total"] if held else 0) or 0) + q > fi.per_user_limit:
                raise Conflict(f"每人限购 {fi.per_user_limit} 件", code="flash_limit_reached",
                               per_user_limit=fi.per_user_limit)
            raise OutOfStock("已抢光", code="flash_db_short")
        order.id = item.order_id = rows[0]["order_id"]
        item.id = rows[0]["item_id"]
        request.result["claim_id"] = rows[0]["claim_id"]
        return True

    async def release(self, conn, order_id: int, ref: str, reason: str) -> None:
        """claimed -> expired: units back to the database and to Redis."""
        c = await FlashClaim.get_or_none(order_id=order_id).using_db(conn)
        if c is None:
            return
        moved = await FlashClaim.filter(id=c.id, status=ClaimStatus.claimed).using_db(conn).update(
            status=ClaimStatus.expired)
        if moved != 1:
            return
        await FlashItem.filter(id=c.item_id).using_db(conn).update(stock_left=F("stock_left") + c.quantity)
        # The poll's copies of the new order (this process, Redis) would still show it unpaid.
        flash_queue.forget((c.session_id, c.user_id, c.request_id))
        try:
            redis = get_runtime().redis
        except RuntimeError:
            return  # no runtime (CLI): reconcile brings Redis back in line
        await release_redis(redis, c.session_id, c.item_id, c.user_id, c.quantity, restore_stock=True)
        await redis.delete(flash_lua.ordered_key(c.session_id, c.user_id, c.request_id))
        SOLD_OUT.pop(c.item_id, None)

    async def on_paid(self, conn, order_id: int, ref: str) -> None:
        await FlashClaim.filter(order_id=order_id, status=ClaimStatus.claimed).using_db(conn).update(
            status=ClaimStatus.paid)

    async def on_refunded(self, conn, order_id: int, ref: str) -> None:
        """paid -> refunded; the units stay sold (the goods may be on their way back)."""
        await FlashClaim.filter(order_id=order_id, status=ClaimStatus.paid).using_db(conn).update(
            status=ClaimStatus.refunded)
