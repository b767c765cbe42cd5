"""Bargain (砍价): a user starts a bargain, friends cut its price to the floor in N helps
(``bargain_cuts``), the user buys at the current price (if allowed) or at the floor.

Every help is a compare-and-set on the bargain row (``version``): the row is read under
``FOR UPDATE`` where the database has it, and the update still names the version it read, so
two helpers can never both apply a cut computed from the same price. One help per helper per
bargain (UNIQUE), no helping yourself, helps per user per activity and per China day (Redis
counters, given back when the help fails), per-user and per-IP rate limits (Redis). Nothing is
given for sharing or helping: only a purchase is an order (and so only a purchase earns).

Bargain: active -> floor_reached -> bought | active -> bought | active|floor_reached -> expired;
bought -> active|floor_reached when its unpaid order is cancelled.
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from huituan.core.clock import as_utc, china_date, utcnow
from huituan.core.errors import Conflict, Forbidden, InvalidState, OutOfStock, ValidationFailed
from huituan.core.settings import Settings
from huituan.models.bargain import Bargain, BargainActivity, BargainHelp, BargainStatus
from huituan.models.catalog import Product, Sku
from huituan.models.group_buy import ActivityStatus
from huituan.models.order import ActivityType
from huituan.models.user import User
from huituan.services import idempotency
from huituan.services.activities import common
from huituan.services.activities.bargain_cuts import feasible, next_cut
from huituan.services.orders.activity import ActivityPolicy, ActivityRequest
from huituan.services.orders.create import create_order

log = logging.getLogger("huituan.activities.bargain")

BARGAIN_PAGE = "pages/bargain/detail?id={bargain_id}"
OPEN = (BargainStatus.active, BargainStatus.floor_reached)
_CAS_ATTEMPTS = 100
# Evidence for the race tests: how often a help lost its compare-and-set and retried.
STATS = {"cas_lost": 0}


# -- admin -------------------------------------------------------------------------------------

_FIELDS = ("title", "product_id", "sku_id", "start_price_fen", "floor_price_fen", "helpers_needed", "cut_min_fen",
           "cut_max_fen", "new_user_cut_fen", "duration_hours", "helps_per_user", "helps_per_user_day",
           "allow_buy_at_current", "stock", "starts_at", "ends_at")


async def _check(data: dict[str, Any], *, price_given: bool = True) -> dict[str, Any]:
    sku = await Sku.get_or_none(id=data["sku_id"], product_id=data["product_id"])
    if sku is None:
        raise ValidationFailed("sku_id: 规格不存在或不属于该商品", field="sku_id")
    # The price users start from is a real price, never invented. Checked when it is set: the
    # SKU's price may drop later, and that must not block editing the title.
    if price_given and data["start_price_fen"] > sku.price_fen:
        raise ValidationFailed(f"start_price_fen: 起始价不能高于该规格的售价 {sku.price_fen} 分", field="start_price_fen",
                               sku_price_fen=sku.price_fen)
    if not 0 <= data["floor_price_fen"] < data["start_price_fen"]:
        raise ValidationFailed("floor_price_fen: 底价须低于起始价", field="floor_price_fen")
    if not feasible(data["start_price_fen"], data["floor_price_fen"], data["helpers_needed"], data["cut_min_fen"],
                    data["cut_max_fen"]):
        raise ValidationFailed("cut_min_fen: 需满足 助力人数×最小刀 ≤ 起始价−底价 ≤ 助力人数×最大刀", field="cut_min_fen")
    if data["duration_hours"] < 1 or data["stock"] < 0:
        raise ValidationFailed("duration_hours: 时长至少 1 小时，库存不能为负", field="duration_hours")
    common.check_times(data["starts_at"], data["ends_at"])
    return {k: data[k] for k in _FIELDS}


async def create_activity(data: dict[str, Any]) -> dict[str, Any]:
    clean = await _check(data)
    a = await BargainActivity.create(**clean, stock_left=clean["stock"])
    return activity_dict(a)


# What a user is shown when they start a bargain (helpers needed from the start: WeChat's rule)
# and what its cuts are computed from: fixed once anyone has started one. Changing the floor
# under a live bargain priced it below the floor; fewer helpers left one with none to go.
_RULES = ("product_id", "sku_id", "start_price_fen", "floor_price_fen", "helpers_needed", "cut_min_fen",
          "cut_max_fen", "new_user_cut_fen")
_RULE_NAMES = {"product_id": "商品", "sku_id": "规格", "start_price_fen": "起始价", "floor_price_fen": "底价",
               "helpers_needed": "助力人数", "cut_min_fen": "每刀最小金额", "cut_max_fen": "每刀最大金额",
               "new_user_cut_fen": "新用户首刀金额"}


async def update_activity(activity_id: int, data: dict[str, Any]) -> dict[str, Any]:
    a = await _get_activity(activity_id)
    merged = {k: getattr(a, k) for k in _FIELDS} | {k: v for k, v in data.items() if v is not None}
    clean = await _check(merged, price_given=any(data.get(k) is not None for k in ("start_price_fen", "sku_id",
                                                                                      "product_id")))
    async with in_transaction() as conn:
        # Locked: a bargain started meanwhile (start_bargain locks the row too) is seen here.
        current = await BargainActivity.filter(id=a.id).using_db(conn).select_for_update().first()
        changed = [k for k in _RULES if clean[k] != getattr(current, k)]
        if changed and await Bargain.filter(activity_id=a.id).using_db(conn).exists():
            raise Conflict(f"{_RULE_NAMES[changed[0]]}不能修改：已有用户发起砍价，砍价规则在发起时就已展示给用户",
                           code="bargain_rules_locked", field=changed[0])
        # Stock edits move stock_left by the same amount (units already bought stay bought).
        moved = await BargainActivity.filter(id=a.id, stock_left__gte=current.stock - clean["stock"]).using_db(
            conn).update(**clean, stock_left=F("stock_left") + (clean["stock"] - current.stock))
        if moved != 1:
            raise ValidationFailed("stock: 库存不能少于已售出数量", field="stock")
    return activity_dict(await _get_activity(activity_id))


async def set_activity_status(activity_id: int, status: ActivityStatus) -> dict[str, Any]:
    a = await _get_activity(activity_id)
    await BargainActivity.filter(id=a.id).update(status=status)
    return activity_dict(await _get_activity(activity_id))


async def activity_results(activity_id: int) -> dict[str, Any]:
    a = await _get_activity(activity_id)
    counts = {str(s): await Bargain.filter(activity_id=a.id, status=s).count() for s in BargainStatus}
    return {"activity": activity_dict(a), "bargains": counts,
            "helps": await BargainHelp.filter(activity_id=a.id).count(), "sold": a.stock - a.stock_left}


async def _get_activity(activity_id: int, conn=None) -> BargainActivity:
    a = await BargainActivity.get_or_none(id=activity_id).using_db(conn)
    if a is None:
        raise common.not_found("砍价活动", "activity_not_found", "activity_id")
    return a


def activity_dict(a: BargainActivity) -> dict[str, Any]:
    return {"id": a.id, "title": a.title, "product_id": a.product_id, "sku_id": a.sku_id,
            "start_price_fen": a.start_price_fen, "floor_price_fen": a.floor_price_fen,
            "helpers_needed": a.helpers_needed, "cut_min_fen": a.cut_min_fen, "cut_max_fen": a.cut_max_fen,
            "new_user_cut_fen": a.new_user_cut_fen, "duration_hours": a.duration_hours,
            "helps_per_user": a.helps_per_user, "helps_per_user_day": a.helps_per_user_day,
            "allow_buy_at_current": a.allow_buy_at_current, "stock": a.stock, "stock_left": a.stock_left,
            "status": str(a.status), "starts_at": common.iso(a.starts_at), "ends_at": common.iso(a.ends_at)}


async def list_activities(now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    items = await BargainActivity.filter(status=ActivityStatus.active, starts_at__lte=now, ends_at__gt=now) \
        .order_by("ends_at").limit(100)
    return {"items": [activity_dict(a) for a in items]}


async def activity_detail(activity_id: int) -> dict[str, Any]:
    return activity_dict(await _get_activity(activity_id))


# -- the user's bargain ------------------------------------------------------------------------

async def bargain_dict(b: Bargain, a: BargainActivity | None = None) -> dict[str, Any]:
    a = a or await BargainActivity.get(id=b.activity_id)
    helps = await BargainHelp.filter(bargain_id=b.id).order_by("seq")
    users = {u.id: u for u in await User.filter(id__in=[h.helper_user_id for h in helps])}
    span = a.start_price_fen - a.floor_price_fen
    cut = a.start_price_fen - b.current_price_fen
    return {"id": b.id, "activity_id": a.id, "user_id": b.user_id, "status": str(b.status), "title": a.title,
            "product_id": a.product_id, "sku_id": a.sku_id, "start_price_fen": a.start_price_fen,
            "floor_price_fen": a.floor_price_fen, "current_price_fen": b.current_price_fen,
            "helpers_needed": a.helpers_needed, "helps_count": b.helps_count,
            "helpers_left": max(0, a.helpers_needed - b.helps_count),
            "progress_percent": (cut * 100 // span) if span else 100,
            "can_buy_now": b.status == BargainStatus.floor_reached or (b.status == BargainStatus.active
                                                                        and a.allow_buy_at_current),
            "order_id": b.order_id, "expires_at": common.iso(b.expires_at),
            "seconds_left": common.seconds_left(b.expires_at) if b.status in OPEN else 0,
            "helps": [{"seq": h.seq, "user_id": h.helper_user_id, "cut_fen": h.cut_fen,
                       "price_after_fen": h.price_after_fen, "new_user": h.new_user,
                       "nickname": users[h.helper_user_id].nickname if h.helper_user_id in users else "",
                       "avatar_url": users[h.helper_user_id].avatar_url if h.helper_user_id in users else ""}
                      for h in helps]}


async def _get_bargain(bargain_id: int, conn=None) -> Bargain:
    b = await Bargain.get_or_none(id=bargain_id).using_db(conn)
    if b is None:
        raise common.not_found("砍价", "bargain_not_found", "bargain_id")
    return b


async def get_bargain(bargain_id: int) -> dict[str, Any]:
    return await bargain_dict(await _get_bargain(bargain_id))


async def my_bargains(user_id: int) -> dict[str, Any]:
    items = await Bargain.filter(user_id=user_id).order_by("-id").limit(50)
    return {"items": [await bargain_dict(b) for b in items]}


async def start_bargain(user_id: int, activity_id: int) -> tuple[dict[str, Any], bool]:
    """A user's bargain on an activity (the open one is returned again: created=False)."""
    a = await _get_activity(activity_id)
    existing = await Bargain.filter(activity_id=a.id, user_id=user_id, status__in=list(OPEN)).first()
    if existing is not None:
        return await bargain_dict(existing, a), False
    async with in_transaction() as conn:
        # The activity row locked: an edit of its rules cannot slip between this read and the
        # new bargain (update_activity refuses rule changes once a bargain exists), and the
        # user's second tap waits here and then finds the first one's bargain.
        a = await BargainActivity.filter(id=a.id).using_db(conn).select_for_update().first()
        existing = await Bargain.filter(activity_id=a.id, user_id=user_id, status__in=list(OPEN)).using_db(
            conn).first()
        if existing is not None:
            return await bargain_dict(existing, a), False
        common.check_window(a.status, a.starts_at, a.ends_at, what="砍价活动")
        if a.stock_left <= 0:
            raise OutOfStock("砍价商品已抢光", code="bargain_sold_out")
        now = utcnow()
        b = await Bargain.create(activity_id=a.id, user_id=user_id, current_price_fen=a.start_price_fen,
                                 expires_at=min(now + timedelta(hours=a.duration_hours), as_utc(a.ends_at)),
                                 using_db=conn)
    return await bargain_dict(b, a), True


async def bargain_poster_data(bargain_id: int) -> dict[str, Any] | None:
    """For the poster registry (bargain help): exactly the fields of
    ``posters.registry.BargainHelp`` (the root adapts: ``BargainHelp(**data)``): current price,
    floor, start, helpers still needed, end time. None: no such bargain."""
    b = await Bargain.get_or_none(id=bargain_id)
    if b is None:
        return None
    a = await BargainActivity.get(id=b.activity_id)
    product = await Product.get_or_none(id=a.product_id)
    return {"bargain_id": b.id, "owner_user_id": b.user_id, "product_id": a.product_id, "title": a.title,
            "image_url": product.main_image if product else "", "current_price_fen": b.current_price_fen,
            "floor_price_fen": a.floor_price_fen, "start_price_fen": a.start_price_fen,
            "helpers_needed": max(0, a.helpers_needed - b.helps_count), "ends_at": as_utc(b.expires_at),
            "on_sale": b.status == BargainStatus.active and as_utc(b.expires_at) > utcnow()}


async def _is_new_user(user_id: int, settings: Settings) -> bool:
    u = await User.get_or_none(id=user_id)
    return u is not None and as_utc(u.created_at) > utcnow() - timedelta(hours=settings.bargain_new_user_hours)


async def help_bargain(redis, settings: Settings, helper_id: int, bargain_id: int, ip: str = "",
                       rng: random.Random | None = None) -> dict[str, Any]:
    """A friend cuts the price once. 403 own bargain; 409 helped already, finished, limit reached;
    429 too many requests. Returns the help and the bargain after it."""
    await common.rate_limit(redis, f"bh:u:{helper_id}", settings.bargain_help_rate_per_minute)
    if ip:
        await common.rate_limit(redis, f"bh:ip:{ip}", settings.bargain_help_ip_rate_per_minute)
    b = await _get_bargain(bargain_id)
    if b.user_id == helper_id:
        raise Forbidden("不能给自己砍价", code="bargain_self_help")
    a = await _get_activity(b.activity_id)
    _check_stopped(a)
    _check_open(b)
    if await BargainHelp.filter(bargain_id=b.id, helper_user_id=helper_id).exists():
        raise Conflict("您已经帮TA砍过了", code="bargain_already_helped")
    # Quotas first (Redis, atomic per key); given back if the help does not happen.
    day = china_date(utcnow()).isoformat()
    quota_keys = [(f"bq:a:{a.id}:{helper_id}", a.helps_per_user, 3600 * 24 * 60),
                  (f"bq:d:{day}:{helper_id}", a.helps_per_user_day, 3600 * 26)]
    taken: list[str] = []
    try:
        for key, limit, ttl in quota_keys:
            n = await redis.incr(key)
            taken.append(key)
            if n == 1:
                await redis.expire(key, ttl)
            if n > limit:
                raise Conflict(f"助力次数已用完（本活动每人 {a.helps_per_user} 次，每天 {a.helps_per_user_day} 次）",
                               code="bargain_help_limit", per_activity=a.helps_per_user, per_day=a.helps_per_user_day)
        new_user = a.new_user_cut_fen > 0 and await _is_new_user(helper_id, settings)
        help_row = await _apply_help(a, b.id, helper_id, new_user, rng)
    except BaseException:
        for key in taken:
            await redis.decr(key)
        raise
    return {"cut_fen": help_row.cut_fen, "price_after_fen": help_row.price_after_fen, "seq": help_row.seq,
            "new_user": help_row.new_user, "bargain": await get_bargain(b.id)}


def _check_stopped(a: BargainActivity) -> None:
    """An operator's stop halts its live bargains too (helps and purchases), as a stopped
    group-buy takes no more members: a stop is how a wrong price is caught."""
    if a.status != ActivityStatus.active:
        raise InvalidState("砍价活动已停止", code="activity_not_active")


def _check_open(b: Bargain) -> None:
    if b.status == BargainStatus.floor_reached:
        raise Conflict("已砍到底价，无需再砍", code="bargain_floor_reached")
    if b.status != BargainStatus.active or as_utc(b.expires_at) <= utcnow():
        raise InvalidState("砍价已结束", code="bargain_finished")


async def _apply_help(a: BargainActivity, bargain_id: int, helper_id: int, new_user: bool,
                      rng: random.Random | None) -> BargainHelp:
    """active -> active | floor_reached, by CAS on version; retried when another help won."""
    for attempt in range(_CAS_ATTEMPTS):
        try:
            async with in_transaction() as conn:
                b = await Bargain.filter(id=bargain_id).using_db(conn).select_for_update().first()
                _check_open(b)
                # Read again on every attempt: helps waiting in this loop landed after an
                # operator's stop had answered (attacker pass, session 8).
                _check_stopped(await _get_activity(a.id, conn))
                helps_left = a.helpers_needed - b.helps_count
                cut = next_cut(b.current_price_fen - a.floor_price_fen, helps_left, a.cut_min_fen, a.cut_max_fen,
                               rng, a.new_user_cut_fen if new_user else 0)
                price = b.current_price_fen - cut
                moved = await Bargain.filter(id=b.id, version=b.version, status=BargainStatus.active).using_db(conn) \
                    .update(current_price_fen=price, helps_count=b.helps_count + 1, version=b.version + 1,
                            status=BargainStatus.floor_reached if helps_left == 1 else BargainStatus.active)
                if moved != 1:
                    raise _Lost()
                return await BargainHelp.create(bargain_id=b.id, activity_id=a.id, helper_user_id=helper_id,
                                                seq=b.helps_count + 1, cut_fen=cut, price_after_fen=price,
                                                new_user=new_user, using_db=conn)
        except _Lost:
            STATS["cas_lost"] += 1
            await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
        except IntegrityError:
            if await BargainHelp.filter(bargain_id=bargain_id, helper_user_id=helper_id).exists():
                raise Conflict("您已经帮TA砍过了", code="bargain_already_helped") from None
            STATS["cas_lost"] += 1
            await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))  # lost the seq to another help
    raise Conflict("砍价的人太多了，请稍后再试", code="bargain_busy")


class _Lost(Exception):
    pass


# -- buying ------------------------------------------------------------------------------------

async def buy_bargain(settings: Settings, user_id: int, idempotency_key: str, *, bargain_id: int,
                      delivery_mode: str, address_id: int | None = None, pickup_point_id: int | None = None,
                      remark: str = "") -> tuple[dict[str, Any], bool]:
    """The bargain's owner buys one unit at the current price (if the activity allows) or at the
    floor once reached, before the bargain expires."""
    idempotency.check_key(idempotency_key)
    b = await _get_bargain(bargain_id)
    if b.user_id != user_id:
        raise Forbidden("只能购买自己的砍价", code="bargain_not_owner")
    a = await _get_activity(b.activity_id)
    req = ActivityRequest(ActivityType.bargain, params={"bargain_id": b.id}, ref=str(b.id), fingerprint=str(b.id))
    return await create_order(settings, user_id, idempotency_key, items=[{"sku_id": a.sku_id, "quantity": 1}],
                              delivery_mode=delivery_mode, address_id=address_id, pickup_point_id=pickup_point_id,
                              remark=remark, activity=req)


class BargainPolicy(ActivityPolicy):
    type = ActivityType.bargain

    async def price(self, request: ActivityRequest, user_id: int, lines: dict[int, int],
                    skus: dict[int, dict[str, Any]]) -> dict[int, int]:
        b = await _get_bargain(request.params["bargain_id"])
        a = await _get_activity(b.activity_id)
        if b.status not in OPEN or as_utc(b.expires_at) <= utcnow():
            raise InvalidState("砍价已结束或已购买", code="bargain_finished")
        _check_stopped(a)
        if b.status == BargainStatus.active and not a.allow_buy_at_current:
            raise InvalidState("砍到底价后才能购买", code="bargain_floor_not_reached",
                               helpers_left=a.helpers_needed - b.helps_count)
        request.params["version"] = b.version
        return {a.sku_id: b.current_price_fen}

    async def reserve(self, conn, order: Any, request: ActivityRequest) -> None:
        """active | floor_reached -> bought (at the price read, by version), one unit of the
        activity's stock taken by guarded update."""
        b = await _get_bargain(request.params["bargain_id"], conn)
        moved = await Bargain.filter(id=b.id, version=request.params["version"], status__in=list(OPEN)).using_db(
            conn).update(status=BargainStatus.bought, order_id=order.id, version=F("version") + 1)
        if moved != 1:
            raise Conflict("价格已变化，请刷新后重试", code="bargain_changed")
        took = await BargainActivity.filter(id=b.activity_id, stock_left__gte=1, status=ActivityStatus.active).using_db(
            conn).update(stock_left=F("stock_left") - 1)
        if took != 1:
            _check_stopped(await _get_activity(b.activity_id, conn))  # stopped since the price was read
            raise OutOfStock("砍价商品已抢光", code="bargain_sold_out")

    async def release(self, conn, order_id: int, ref: str, reason: str) -> None:
        """bought -> floor_reached | active: the unpaid order was cancelled; the unit returns."""
        b = await Bargain.get_or_none(id=int(ref or 0), order_id=order_id).using_db(conn)
        if b is None:
            return
        a = await BargainActivity.get(id=b.activity_id).using_db(conn)
        back = BargainStatus.floor_reached if b.current_price_fen == a.floor_price_fen else BargainStatus.active
        moved = await Bargain.filter(id=b.id, status=BargainStatus.bought, order_id=order_id).using_db(conn).update(
            status=back, order_id=None, version=F("version") + 1)
        if moved == 1:
            await BargainActivity.filter(id=a.id).using_db(conn).update(stock_left=F("stock_left") + 1)


async def expire_bargains(now: datetime | None = None, batch: int = 1000) -> int:
    """Sweep: active | floor_reached past expires_at -> expired (bought ones keep their order)."""
    now = now or utcnow()
    ids = await Bargain.filter(status__in=list(OPEN), expires_at__lte=now).limit(batch).values_list("id", flat=True)
    done = 0
    for bid in ids:
        done += await Bargain.filter(id=bid, status__in=list(OPEN)).update(status=BargainStatus.expired,
                                                                            version=F("version") + 1)
    return done
