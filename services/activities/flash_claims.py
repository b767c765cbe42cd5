"""Flash-sale claims (秒杀抢购): the claim, the line that makes the winners' orders, the poll.

A claim is ONE Redis Lua script (``flash_lua.CLAIM``): session window, stock, the user's count,
the request's idempotency, and the won claim recorded in the session's pending hash. The claims
of one event-loop turn go to Redis as one pipeline (``_claims``). The order of a won claim is
made in this process' line (``flash_queue``) by ``order_for_claim``: ``create_order`` with the
flash-sale policy (``flash_sale.FlashSalePolicy``: the database's guarded stock and per-user
backstop decide), then the claim leaves the pending hash and its order is kept 30 s for the
polls. A quiet sale answers the claim with its order (201); a burst answers "queued" (202)
at once and the mini-program polls ``claim_state``. If there can be no order the claim is given
back in Redis (``RELEASE``). A process that dies with claims in its line leaves them pending:
``recover_pending`` (the reconcile job) makes their orders.

Claim states: docs/STATE_MACHINES.md; the design and its figures: docs/ACTIVITIES.md,
docs/PERFORMANCE.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import timedelta
from itertools import groupby
from typing import Any

from redis.exceptions import NoScriptError

from huituan.core.clock import utcnow
from huituan.core.coalesce import Coalescer
from huituan.core.errors import Conflict, HuituanError, InvalidState, NotFound, OutOfStock, ValidationFailed
from huituan.core.settings import Settings
from huituan.models.flash_sale import FlashClaim, FlashSession
from huituan.models.order import ActivityType, Order, OrderItem
from huituan.services import idempotency
from huituan.services.activities import flash_lua, flash_queue, flash_sale
from huituan.services.activities.flash_lua import PendingClaim
from huituan.services.orders.activity import ActivityRequest
from huituan.services.orders.create import create_order, find_order_by_key, order_request_hash
from huituan.services.orders.queries import load_order_dict
from huituan.services.orders.serialize import order_to_dict

log = logging.getLogger("huituan.activities.flash_claims")

STATS = {"script_loads": 0}  # claim scripts loaded again after Redis lost them (a test counts them)

_CLAIM_ERRORS = {
    -5: lambda r: InvalidState("秒杀场次未开放", code="flash_session_closed"),
    -6: lambda r: InvalidState("秒杀尚未开始", code="flash_not_started"),
    -7: lambda r: InvalidState("秒杀已结束", code="flash_ended"),
    -2: lambda r: OutOfStock("已抢光", code="flash_sold_out"),
}


def _by_client(entries: list[tuple]) -> list[tuple[Any, list[int]]]:
    """A batch's positions per Redis client (its first field): one pipeline each."""
    groups: dict[int, tuple[Any, list[int]]] = {}
    for n, entry in enumerate(entries):
        groups.setdefault(id(entry[0]), (entry[0], []))[1].append(n)
    return list(groups.values())


async def _claim_batch(entries: list[tuple[Any, list[str], list[Any]]]) -> list[Any]:
    """The claims of one loop turn as ONE pipeline of scripts: one round trip, one Redis
    connection, instead of one each (a burst's claims queued on the pool, a loop turn per
    round trip). Redis runs each script atomically, in turn: nothing about a claim changes."""
    out: list[Any] = [None] * len(entries)
    for redis, positions in _by_client(entries):
        script = flash_sale.script(redis, "CLAIM")
        todo = positions
        for attempt in range(2):
            async with redis.pipeline(transaction=False) as pipe:
                for n in todo:
                    _, keys, args = entries[n]
                    pipe.evalsha(script.sha, len(keys), *keys, *args)
                results = await pipe.execute(raise_on_error=False)
            missing = []
            for n, result in zip(todo, results):
                if isinstance(result, NoScriptError) and attempt == 0:
                    missing.append(n)  # Redis restarted or flushed its scripts: load, run these again
                else:
                    out[n] = result
            if not missing:
                break
            STATS["script_loads"] += 1
            await redis.script_load(script.script)
            todo = missing
    return out


_claims = Coalescer(_claim_batch, max_batch=1024, name="flash claim scripts", sequential=False)


# How a claim was answered: with its new order, with the order of an earlier request under the
# same key, or at once while its order waits in the process' line (the mini-program polls).
CREATED, REPLAYED, QUEUED = "created", "replayed", "queued"


def queued_state(job: PendingClaim, ahead: int | None = None) -> dict[str, Any]:
    return {"status": "queued", "request_id": job.request_id, "session_id": job.session_id, "item_id": job.item_id,
            "quantity": job.quantity, "order": None, "error": None, "message": "抢购成功，订单生成中，请稍候",
            "retry_after_ms": flash_queue.retry_after_ms(ahead)}


async def claim(redis, settings: Settings, user_id: int, session_id: int, item_id: int, quantity: int,
                request_id: str, *, delivery_mode: str, address_id: int | None = None,
                pickup_point_id: int | None = None, remark: str = "") -> tuple[dict[str, Any], str]:
    """Claim units; their order is made in this process' line (``flash_queue``). Returns
    (body, how): (order, CREATED) when the order was made while the request waited; (claim
    state, QUEUED) at once when the line is long (a burst) or the order is slow; the same
    request id returns the same order (REPLAYED) or, still in the line, QUEUED. 409 not
    started / ended / sold out / over the limit; 422 quantity above the per-user limit."""
    idempotency.check_key(request_id)
    if quantity < 1:
        raise ValidationFailed("quantity: 数量必须大于 0", field="quantity")
    # Checked before the claim is won: a unit must not be taken for an order that cannot be made.
    if delivery_mode == "express" and address_id is None:
        raise ValidationFailed("address_id: 快递配送需要选择收货地址", field="address_id")
    if delivery_mode == "pickup" and pickup_point_id is None:
        raise ValidationFailed("pickup_point_id: 自提需要选择自提点", field="pickup_point_id")
    rechecking = False
    sold_out_until = flash_sale.SOLD_OUT.get(item_id)
    if sold_out_until is not None:
        # Sold out a moment ago. When that memory runs out, ONE claim asks Redis again while the
        # rest of the crowd keeps the answer: otherwise every claim of that loop turn (hundreds
        # in a burst) queues on Redis at once, and that stampede each second was the tail.
        if sold_out_until > time.monotonic() or item_id in flash_sale.RECHECKING:
            raise OutOfStock("已抢光", code="flash_sold_out")
        flash_sale.RECHECKING.add(item_id)
        rechecking = True
    job = PendingClaim(session_id, item_id, user_id, quantity, request_id, delivery_mode, address_id,
                       pickup_point_id, remark or "", round(time.time(), 3))
    script_keys, args = flash_lua.claim_call(job)
    try:
        res = await _claims.submit((redis, script_keys, args))
        if res[0] == -1:  # not loaded (or the stock key went away): load on demand, once
            await flash_sale.item_and_session(session_id, item_id)  # 404 for an item not in the session
            await flash_sale.load_once(redis, session_id)
            res = await _claims.submit((redis, script_keys, args))
    finally:
        if rechecking:
            flash_sale.RECHECKING.discard(item_id)
    code = int(res[0])
    if rechecking and code == 1:
        flash_sale.SOLD_OUT.pop(item_id, None)  # units came back (an expired claim): the crowd asks Redis again
    if code == 0:
        return await _resent(redis, job)
    if code == -3:
        have, limit = int(res[1]), int(res[2])
        if quantity > limit:
            raise ValidationFailed(f"quantity: 每人限购 {limit} 件", field="quantity", per_user_limit=limit)
        raise Conflict(f"每人限购 {limit} 件，您已抢到 {have} 件", code="flash_limit_reached",
                       per_user_limit=limit, claimed=have)
    if code == -2 and int(res[1]) <= 0:
        # Sold out: this process answers the crowd without Redis for a moment. Only the script
        # ever grants a claim; units that come back (an expired claim) sell again after this.
        flash_sale.SOLD_OUT[item_id] = time.monotonic() + flash_sale.SOLD_OUT_MEMORY_SECONDS
    if code in _CLAIM_ERRORS:
        raise _CLAIM_ERRORS[code](res)
    if code != 1:
        raise NotFound("秒杀商品不存在", code="flash_item_not_found", field="item_id")
    # Won in Redis: the order is made in this process' line. A quiet sale waits for it; in a
    # burst the winner is answered now and the crowd is not kept waiting behind the orders.
    ahead = flash_queue.backlog()
    flash_queue.remember((session_id, user_id, request_id), ("queued", job))
    task = flash_queue.submit(lambda: order_for_claim(redis, settings, job), settings.flash_order_concurrency)
    if ahead >= settings.flash_answer_backlog:
        flash_queue.STATS["queued"] += 1
        return queued_state(job, ahead), QUEUED
    done, _ = await asyncio.wait([task], timeout=settings.flash_answer_wait_seconds)
    if not done:
        flash_queue.STATS["queued"] += 1
        return queued_state(job), QUEUED
    flash_queue.STATS["waited"] += 1
    order, created = task.result()  # the order, or why there is none (its claim was given back)
    return order, CREATED if created else REPLAYED


def _activity(item: Any, session: Any, job: PendingClaim) -> ActivityRequest:
    return ActivityRequest(ActivityType.flash_sale, pay_timeout_seconds=session.claim_ttl_seconds, params={
        "item": item, "quantity": job.quantity, "request_id": job.request_id},
        fingerprint=f"{job.session_id}:{job.item_id}", batch_reads=True)


def _same_request(a: PendingClaim, b: PendingClaim) -> bool:
    return (a.item_id, a.quantity, a.delivery_mode, a.address_id, a.pickup_point_id, a.remark) == \
        (b.item_id, b.quantity, b.delivery_mode, b.address_id, b.pickup_point_id, b.remark)


async def _resent(redis, job: PendingClaim) -> tuple[dict[str, Any], str]:
    """The same key again in this session: the first claim's answer (its order, or queued),
    when it asks for the same; 422 idempotency_key_reused when it asks for something else; a
    claim that failed answers 409 with its reason."""
    existing = await find_order_by_key(job.user_id, job.request_id)
    if existing is not None:
        item, session = await flash_sale.item_and_session(job.session_id, job.item_id)
        idempotency.ensure_same_request(existing.request_hash, order_request_hash(
            [{"sku_id": item.sku_id, "quantity": job.quantity}], job.delivery_mode, job.address_id,
            job.pickup_point_id, job.remark, _activity(item, session, job)))
        return await load_order_dict(existing), REPLAYED
    kind, data = await _lookup(redis, job.session_id, job.user_id, job.request_id)
    if kind == "queued":
        if not _same_request(data, job):
            idempotency.refuse_reuse()
        return queued_state(data), QUEUED
    if kind == "failed":
        reason = json.loads(data)
        raise Conflict(reason.get("message") or "抢购未成功", code=reason.get("error") or "flash_claim_failed")
    raise Conflict("请求处理中，请稍后查看订单", code="flash_claim_in_progress")


async def order_for_claim(redis, settings: Settings, job: PendingClaim) -> tuple[dict[str, Any], bool]:
    """Create a won claim's order (``create_order`` with the flash-sale policy: the database's
    guarded stock and per-user backstop decide), then take the claim off the pending hash. If
    there can be no order (the address is gone, the database is short), the claim is given back
    in Redis and the reason kept an hour for the poll. A cancelled task (shutdown) leaves the
    claim pending for ``recover_pending``. Safe to run twice for one claim: the (user, key)
    order is unique, the second run returns the first's order."""
    pending = flash_lua.keys(job.session_id)["pending"]
    field = flash_lua.pending_field(job.user_id, job.request_id)
    try:
        item, s = await flash_sale.item_and_session(job.session_id, job.item_id)
        result = await create_order(settings, job.user_id, job.request_id,
                                    items=[{"sku_id": item.sku_id, "quantity": job.quantity}],
                                    delivery_mode=job.delivery_mode, address_id=job.address_id,
                                    pickup_point_id=job.pickup_point_id, remark=job.remark,
                                    activity=_activity(item, s, job))
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        existing = await find_order_by_key(job.user_id, job.request_id)
        if (existing is not None and getattr(exc, "code", "") != "idempotency_key_reused"
                and existing.activity_type == ActivityType.flash_sale and existing.activity_ref == str(job.item_id)):
            # another run made this claim's order (a recovery racing a slow line); an order of
            # another request under the same key is not it: then this claim fails and gives back
            await redis.hdel(pending, field)
            order = await load_order_dict(existing)
            flash_queue.remember((job.session_id, job.user_id, job.request_id), ("ordered", order, str(job.item_id)))
            return order, False
        if isinstance(exc, HuituanError):
            reason = {"error": exc.code, "message": exc.message}
        else:
            log.exception("flash claim order failed: session %s user %s", job.session_id, job.user_id)
            reason = {"error": "flash_order_failed", "message": "订单创建失败，名额已释放，请重试"}
        reason |= {"item_id": job.item_id, "quantity": job.quantity}  # what the failed poll shows
        # The reason first, then the give-back: a poll in between still sees the claim pending.
        await redis.set(flash_lua.failure_key(job.session_id, job.user_id, job.request_id),
                        json.dumps(reason, ensure_ascii=False), ex=3600)
        flash_queue.remember((job.session_id, job.user_id, job.request_id),
                             ("failed", json.dumps(reason, ensure_ascii=False)))
        # The database is short (Redis had drifted): keep Redis' count down, reconcile repairs it.
        short = isinstance(exc, OutOfStock) and getattr(exc, "code", "") == "flash_db_short"
        await flash_sale.release_redis(redis, job.session_id, job.item_id, job.user_id, job.quantity,
                                       restore_stock=not short, request_id=job.request_id, pending_field=field)
        raise
    flash_queue.remember((job.session_id, job.user_id, job.request_id), ("ordered", result[0], str(job.item_id)))
    snapshot = json.dumps({"order": result[0], "item_ref": str(job.item_id)}, ensure_ascii=False)
    await _forget_pending.submit((redis, job.session_id, pending, field,
                                  flash_lua.ordered_key(job.session_id, job.user_id, job.request_id), snapshot))
    return result


ORDERED_SNAPSHOT_SECONDS = 30  # a poll comes within seconds; the database after that


async def _forget_batch(entries: list[tuple[Any, int, str, str, str, str]]) -> list[None]:
    """The written orders' claims leave the pending hash and leave their order for the polls:
    one pipeline per Redis for the batch, each session's part in MULTI (one slot), so a poll
    sees the claim pending or ordered, never neither."""
    for redis, positions in _by_client(entries):
        group = sorted((entries[n] for n in positions), key=lambda e: e[1])
        for _, session_entries in groupby(group, key=lambda e: e[1]):
            rows = list(session_entries)
            async with redis.pipeline(transaction=True) as pipe:
                for _, _, _, _, ordered, snapshot in rows:
                    pipe.set(ordered, snapshot, ex=ORDERED_SNAPSHOT_SECONDS)
                pipe.hdel(rows[0][2], *[r[3] for r in rows])
                await pipe.execute()
    return [None] * len(entries)


# A burst writes its orders in batches of hundreds: their pending entries go in one command too
# (one each would queue on the Redis pool, a loop turn per round trip).
_forget_pending = Coalescer(_forget_batch, max_batch=1024, name="flash pending forget", sequential=False)


async def claim_state(redis, user_id: int, session_id: int, request_id: str) -> dict[str, Any]:
    """The mini-program's poll of a claim answered "queued": ordered (with the order), still
    queued, or failed (with why; the units went back and the same key may claim again)."""
    kind, data = await _lookup(redis, session_id, user_id, request_id)
    if kind == "queued":
        return queued_state(data)
    base = {"request_id": request_id, "session_id": session_id, "item_id": None, "quantity": None, "order": None,
            "error": None, "message": ""}
    if kind == "ordered":
        order, item_ref = data
        line = order["items"][0] if order.get("items") else {}
        return base | {"status": "ordered", "order": order, "quantity": line.get("quantity"),
                       "item_id": int(item_ref) if item_ref.isdigit() else None,
                       "message": "抢购成功，请在支付时限内付款"}
    if kind == "failed":
        reason = json.loads(data)
        return base | {"status": "failed", "error": reason.get("error"), "message": reason.get("message", ""),
                       "item_id": reason.get("item_id"), "quantity": reason.get("quantity")}
    raise NotFound("没有这次抢购", code="flash_claim_not_found", field="request_id")


async def _lookup(redis, session_id: int, user_id: int, request_id: str) -> tuple[str | None, Any]:
    """Where a claim of this session stands: ("queued", PendingClaim), ("ordered", (order,
    item ref)), ("failed", reason JSON) or (None, None). This process' own line first (no round
    trip), then Redis and the database, batched with the other polls of the loop turn."""
    known = flash_queue.recall((session_id, user_id, request_id))
    if known is not None:
        if known[0] == "queued":
            return "queued", known[1]
        if known[0] == "ordered":
            return "ordered", (known[1], known[2])
        return "failed", known[1]
    pending, failed, order, item_ref = await _polls.submit((redis, session_id, user_id, request_id))
    if pending is not None:
        return "queued", PendingClaim.from_pending(session_id, flash_lua.pending_field(user_id, request_id), pending)
    if order is not None:
        return "ordered", (order, item_ref)
    if failed is not None:
        return "failed", failed
    return None, None


async def _poll_batch(entries: list[tuple[Any, int, int, str]]) -> list[tuple[str | None, str | None, Any, str]]:
    """The polls of a loop turn: one Redis pipeline (pending entry, the new order's snapshot,
    failure reason) and, only for claims with none of these, two queries (their orders, their
    items). A burst's winners poll about once a second each; a round trip per poll queued them
    on the pools, and each round trip costs a poll a whole loop turn."""
    pending: list[Any] = [None] * len(entries)
    failed: list[Any] = [None] * len(entries)
    snapshots: list[Any] = [None] * len(entries)
    for redis, positions in _by_client(entries):
        async with redis.pipeline(transaction=False) as pipe:
            for n in positions:
                _, sid, uid, rid = entries[n]
                pipe.hget(flash_lua.keys(sid)["pending"], flash_lua.pending_field(uid, rid))
                pipe.get(flash_lua.ordered_key(sid, uid, rid))
                pipe.get(flash_lua.failure_key(sid, uid, rid))
            answers = await pipe.execute()
        for k, n in enumerate(positions):
            pending[n], snapshot, failed[n] = answers[3 * k:3 * k + 3]
            if snapshot is not None:
                ordered = json.loads(snapshot)
                snapshots[n] = (ordered["order"], ordered["item_ref"])
    # The order is committed before its claim leaves the pending hash: neither pending nor a
    # snapshot (older than 30 s, dropped by a cancel, or made by a recovery) -> the database.
    wanted = {entries[n][1:] for n in range(len(entries)) if pending[n] is None and snapshots[n] is None}
    orders: dict[tuple[int, int, str], tuple[dict[str, Any], str]] = {}
    if wanted:
        # Through the claim rows: an order is this session's claim only if its claim says so
        # (the same key may name an order of another session, or a normal order).
        claims = [c for c in await FlashClaim.filter(session_id__in={s for s, _, _ in wanted},
                                                     user_id__in={u for _, u, _ in wanted},
                                                     request_id__in={k for _, _, k in wanted})
                  if (c.session_id, c.user_id, c.request_id) in wanted and c.order_id is not None]
        by_order = {c.order_id: c for c in claims}
        found = await Order.filter(id__in=list(by_order)) if by_order else []
        items: dict[int, list[OrderItem]] = {o.id: [] for o in found}
        if found:
            for it in await OrderItem.filter(order_id__in=list(items)).order_by("id"):
                items[it.order_id].append(it)
        for o in found:
            c = by_order[o.id]
            orders[(c.session_id, c.user_id, c.request_id)] = (order_to_dict(o, items[o.id]), str(c.item_id))
    return [(pending[n], failed[n], *(snapshots[n] or orders.get(entries[n][1:], (None, ""))))
            for n in range(len(entries))]


_polls = Coalescer(_poll_batch, max_batch=512, name="flash claim polls", sequential=False)


async def recover_pending(redis, settings: Settings, older_than_seconds: float = 60.0,
                          now: float | None = None) -> int:
    """Job: won claims still pending long after they were won (their process died before
    writing the order) get their order now, or are given back. Returns how many were taken up."""
    now = time.time() if now is None else now
    sessions = await FlashSession.filter(ends_at__gt=utcnow() - timedelta(days=1)).values_list("id", flat=True)
    recovered = 0
    for sid in sessions:
        entries = await redis.hgetall(flash_lua.keys(sid)["pending"])
        for field, payload in entries.items():
            try:
                job = PendingClaim.from_pending(sid, field, payload)
            except (ValueError, TypeError):
                log.error("flash pending entry unreadable, dropped: session %s %r", sid, field)
                await redis.hdel(flash_lua.keys(sid)["pending"], field)
                continue
            if now - job.claimed_at < older_than_seconds:
                continue
            recovered += 1
            log.warning("flash claim recovered: session %s user %s request %s", sid, job.user_id, job.request_id)
            try:
                await order_for_claim(redis, settings, job)
            except Exception:
                log.warning("flash claim given back: session %s user %s", sid, job.user_id)
    return recovered
