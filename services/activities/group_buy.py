"""Group-buy (拼团): open a group, join it; a seat is reserved when the order is created.

Seats: ``Group.seats_taken`` (reserved + paid) grows by a guarded update
(``seats_taken < size AND status = open AND expires_at > now``) inside the order's
transaction, so a group never overfills however many join at once. A seat is released when its
order is cancelled (buyer, payment deadline, group expiry) or refunded before success. The
group succeeds when every seat is paid (members notified through the outbox); at expiry it
fails and every paid member is refunded, or, with virtual fill on and enough seats paid, it
succeeds as 系统成团 with ``virtual_seats`` (never invented members).

Group: open -> succeeded | failed.  Seat: reserved -> paid -> released | reserved -> released.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Subquery
from tortoise.transactions import in_transaction

from huituan.core import sql
from huituan.core.clock import as_utc, utcnow
from huituan.core.errors import Conflict, InvalidState, ValidationFailed
from huituan.core.settings import Settings
from huituan.models.catalog import Product, Sku
from huituan.models.group_buy import ActivityStatus, Group, GroupBuyActivity, GroupSeat, GroupStatus, SeatStatus
from huituan.models.order import ActivityType, Order, OrderStatus
from huituan.models.user import User
from huituan.services import idempotency
from huituan.services.activities import common
from huituan.services.orders.activity import ActivityPolicy, ActivityRequest
from huituan.services.orders.create import create_order

log = logging.getLogger("huituan.activities.group_buy")

GROUP_PAGE = "pages/group/detail?code={code}"
LIVE_SEATS = (SeatStatus.reserved, SeatStatus.paid)


class GroupFull(Conflict):
    code = "group_full"
    message = "该团已满员"


class GroupExpired(InvalidState):
    code = "group_expired"
    message = "该团已结束"


# -- admin -------------------------------------------------------------------------------------

_FIELDS = ("title", "product_id", "sku_prices", "group_size", "duration_hours", "opener_free", "per_user_limit",
           "total_limit", "virtual_fill", "virtual_fill_percent", "commission_enabled", "starts_at", "ends_at")


async def _check_activity_data(data: dict[str, Any]) -> dict[str, Any]:
    if not 2 <= int(data["group_size"]) <= 100:
        raise ValidationFailed("group_size: 成团人数为 2 到 100", field="group_size")
    if int(data["duration_hours"]) < 1:
        raise ValidationFailed("duration_hours: 拼团时长至少 1 小时", field="duration_hours")
    if not 1 <= int(data["virtual_fill_percent"]) <= 100:
        raise ValidationFailed("virtual_fill_percent: 取值 1 到 100", field="virtual_fill_percent")
    common.check_times(data["starts_at"], data["ends_at"])
    if not await Product.filter(id=data["product_id"]).exists():
        raise common.not_found("商品", "product_not_found", "product_id")
    raw = data.get("sku_prices") or {}
    if isinstance(raw, list):  # [{"sku_id", "price_fen"}] from the admin API
        seen: set[int] = set()
        for n, r in enumerate(raw):
            if r["sku_id"] in seen:  # a second price for one SKU: which one is meant?
                raise ValidationFailed(f"sku_prices.{n}.sku_id: 同一规格只能设置一个拼团价",
                                       field=f"sku_prices.{n}.sku_id")
            seen.add(r["sku_id"])
        raw = {r["sku_id"]: r["price_fen"] for r in raw}
    prices = {str(int(k)): int(v) for k, v in raw.items()}
    if not prices:
        raise ValidationFailed("sku_prices: 至少设置一个规格的拼团价", field="sku_prices")
    skus = {s.id: s for s in await Sku.filter(product_id=data["product_id"], id__in=[int(k) for k in prices])}
    for k, v in prices.items():
        if int(k) not in skus:
            raise ValidationFailed(f"sku_prices.{k}: 规格不属于该商品", field=f"sku_prices.{k}")
        if not 1 <= v <= skus[int(k)].price_fen:
            raise ValidationFailed(f"sku_prices.{k}: 拼团价须在 1 分到原价之间", field=f"sku_prices.{k}")
    return {**{k: data[k] for k in _FIELDS if k in data}, "sku_prices": prices}


async def create_activity(data: dict[str, Any]) -> dict[str, Any]:
    a = await GroupBuyActivity.create(**await _check_activity_data(data))
    return await activity_dict(a)


async def update_activity(activity_id: int, data: dict[str, Any]) -> dict[str, Any]:
    a = await _get_activity(activity_id)
    merged = {k: getattr(a, k) for k in _FIELDS} | {k: v for k, v in data.items() if v is not None}
    if merged["total_limit"] and merged["total_limit"] < a.groups_opened:
        raise ValidationFailed(f"total_limit: 不能小于已开团数 {a.groups_opened}（不再开新团请停止活动）",
                               field="total_limit", groups_opened=a.groups_opened)
    values = await _check_activity_data(merged)
    # The limit is compared in the UPDATE itself: groups opened between the read above and
    # this write would otherwise leave total_limit below groups_opened (attacker pass, session 8).
    guard = {"groups_opened__lte": merged["total_limit"]} if merged["total_limit"] else {}
    if not await GroupBuyActivity.filter(id=a.id, **guard).update(**values):
        opened = (await _get_activity(activity_id)).groups_opened
        raise ValidationFailed(f"total_limit: 不能小于已开团数 {opened}（不再开新团请停止活动）",
                               field="total_limit", groups_opened=opened)
    return await activity_dict(await _get_activity(activity_id))


async def set_activity_status(activity_id: int, status: ActivityStatus) -> dict[str, Any]:
    """draft | stopped -> active (start), active -> stopped (stop). Open groups run to their end."""
    a = await _get_activity(activity_id)
    await GroupBuyActivity.filter(id=a.id).update(status=status)
    return await activity_dict(await _get_activity(activity_id))


async def activity_results(activity_id: int) -> dict[str, Any]:
    a = await _get_activity(activity_id)
    counts = {s: await Group.filter(activity_id=a.id, status=s).count() for s in GroupStatus}
    paid = await GroupSeat.filter(group__activity_id=a.id, status=SeatStatus.paid).count()
    virtual = await Group.filter(activity_id=a.id, status=GroupStatus.succeeded, virtual_seats__gt=0).count()
    return {"activity": await activity_dict(a), "groups_open": counts[GroupStatus.open],
            "groups_succeeded": counts[GroupStatus.succeeded], "groups_failed": counts[GroupStatus.failed],
            "groups_virtually_filled": virtual, "paid_seats": paid}


# -- reading -----------------------------------------------------------------------------------

async def _get_activity(activity_id: int, conn=None) -> GroupBuyActivity:
    a = await GroupBuyActivity.get_or_none(id=activity_id).using_db(conn)
    if a is None:
        raise common.not_found("拼团活动", "activity_not_found", "activity_id")
    return a


async def activity_dict(a: GroupBuyActivity) -> dict[str, Any]:
    return {"id": a.id, "title": a.title, "product_id": a.product_id,
            "sku_prices": {str(k): v for k, v in a.sku_prices.items()}, "group_size": a.group_size,
            "duration_hours": a.duration_hours, "opener_free": a.opener_free, "per_user_limit": a.per_user_limit,
            "total_limit": a.total_limit, "groups_opened": a.groups_opened, "virtual_fill": a.virtual_fill,
            "virtual_fill_percent": a.virtual_fill_percent, "commission_enabled": a.commission_enabled,
            "status": str(a.status), "starts_at": common.iso(a.starts_at), "ends_at": common.iso(a.ends_at)}


async def group_dict(g: Group, now: datetime | None = None) -> dict[str, Any]:
    """A group as members and visitors see it: real members only; virtual seats counted apart."""
    seats = await GroupSeat.filter(group_id=g.id, status__in=list(LIVE_SEATS)).order_by("id")
    users = {u.id: u for u in await User.filter(id__in=[s.user_id for s in seats])}
    members = [{"user_id": s.user_id, "nickname": users[s.user_id].nickname if s.user_id in users else "",
                "avatar_url": users[s.user_id].avatar_url if s.user_id in users else "",
                "is_opener": s.is_opener, "paid": s.status == SeatStatus.paid} for s in seats]
    return {"id": g.id, "activity_id": g.activity_id, "share_code": g.share_code, "status": str(g.status),
            "size": g.size, "seats_taken": g.seats_taken, "seats_paid": g.seats_paid,
            "seats_left": max(0, g.size - g.seats_taken), "virtual_seats": g.virtual_seats,
            "system_filled": g.virtual_seats > 0, "label": "系统成团" if g.virtual_seats > 0 else "",
            "leader_id": g.leader_id, "pickup_point_id": g.pickup_point_id,
            "expires_at": common.iso(g.expires_at), "seconds_left": common.seconds_left(g.expires_at, now)
            if g.status == GroupStatus.open else 0, "members": members}


async def list_activities(now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    items = await GroupBuyActivity.filter(status=ActivityStatus.active, starts_at__lte=now, ends_at__gt=now) \
        .order_by("ends_at").limit(100)
    return {"items": [await activity_dict(a) for a in items]}


async def open_groups(activity_id: int, limit: int = 10, now: datetime | None = None) -> list[Group]:
    """The product's open groups a visitor may join: nearest to full first, then ending soonest."""
    now = now or utcnow()
    groups = await Group.filter(activity_id=activity_id, status=GroupStatus.open, expires_at__gt=now) \
        .order_by("expires_at").limit(200)
    groups = [g for g in groups if g.seats_taken < g.size]
    groups.sort(key=lambda g: (g.size - g.seats_taken, g.expires_at))
    return groups[:limit]


async def activity_detail(activity_id: int) -> dict[str, Any]:
    a = await _get_activity(activity_id)
    return {**await activity_dict(a), "open_groups": [await group_dict(g) for g in await open_groups(a.id)]}


async def get_group(group_id: int | None = None, share_code: str | None = None) -> dict[str, Any]:
    if group_id is None and not share_code:
        raise ValidationFailed("share_code: 请提供团分享码", field="share_code")
    g = await (Group.get_or_none(id=group_id) if group_id else Group.get_or_none(share_code=(share_code or "").upper()))
    if g is None:
        raise common.not_found("拼团", "group_not_found", "share_code" if share_code else "group_id")
    return await group_dict(g)


async def my_groups(user_id: int) -> dict[str, Any]:
    """The user's seats: "paid, waiting for the group" shows seats left and time left."""
    seats = await GroupSeat.filter(user_id=user_id).order_by("-id").limit(50).prefetch_related("group")
    out = []
    for s in seats:
        g = await group_dict(s.group)
        waiting = s.status == SeatStatus.paid and s.group.status == GroupStatus.open
        out.append({"seat_status": str(s.status), "order_id": s.order_id, "is_opener": s.is_opener,
                    "waiting": waiting, "waiting_text": f"已支付，等待成团：还差 {g['seats_left'] + g['seats_taken'] - g['seats_paid']} 人，"
                    f"剩余 {g['seconds_left'] // 3600} 小时 {g['seconds_left'] % 3600 // 60} 分" if waiting else "",
                    "group": g})
    return {"items": out}


async def group_poster_data(group_id: int) -> dict[str, Any] | None:
    """For the poster registry (group-buy invite): exactly the fields of
    ``posters.registry.GroupBuyInvite`` (the root adapts: ``GroupBuyInvite(**data)``): the real
    members' avatars, seats left, end time, the group price (lowest of its SKUs). None: no group."""
    g = await Group.get_or_none(id=group_id).prefetch_related("activity")
    if g is None:
        return None
    a = g.activity
    d = await group_dict(g)
    sku_id, price = min(((int(k), int(v)) for k, v in a.sku_prices.items()), key=lambda kv: kv[1])
    product = await Product.get_or_none(id=a.product_id)
    return {"group_id": g.id, "product_id": a.product_id, "sku_id": sku_id, "title": a.title,
            "image_url": product.main_image if product else "", "group_price_fen": price, "group_size": g.size,
            "seats_left": d["seats_left"], "ends_at": as_utc(g.expires_at), "started_at": as_utc(a.starts_at),
            "member_avatar_urls": tuple(m["avatar_url"] for m in d["members"] if m["avatar_url"]),
            "on_sale": g.status == GroupStatus.open and d["seats_left"] > 0 and as_utc(g.expires_at) > utcnow()}


# -- opening and joining -----------------------------------------------------------------------

async def open_group(activity_id: int, user_id: int, *, leader_id: int | None = None,
                     pickup_point_id: int | None = None, hours: int | None = None, conn=None) -> dict[str, Any]:
    """Open an empty group (a leader for the community, from the bot's 开团): members join it by
    its share code. ``hours`` shortens the group's time limit (never past the activity's own
    duration). The buyer's "open and pay" path is ``join_group(..., open_new=True)``."""
    if conn is None:
        async with in_transaction() as c:
            g = await _new_group(c, await _get_activity(activity_id, c), user_id, leader_id, pickup_point_id, 0, hours)
    else:
        g = await _new_group(conn, await _get_activity(activity_id, conn), user_id, leader_id, pickup_point_id, 0,
                             hours)
    return await group_dict(g)


async def _new_group(conn, a: GroupBuyActivity, user_id: int, leader_id: int | None, pickup_point_id: int | None,
                     seats: int, hours: int | None = None) -> Group:
    common.check_window(a.status, a.starts_at, a.ends_at, what="拼团活动")
    if hours is not None and not 1 <= hours <= a.duration_hours:
        raise ValidationFailed(f"hours: 成团时限应在 1 到 {a.duration_hours} 小时之间（活动规定最长 {a.duration_hours} 小时）",
                               field="hours")
    took = await GroupBuyActivity.filter(id=a.id).using_db(conn).filter(
        **({"groups_opened__lt": a.total_limit} if a.total_limit else {})).update(groups_opened=F("groups_opened") + 1)
    if took != 1:
        raise Conflict("该活动开团数量已满", code="activity_sold_out")
    now = utcnow()
    expires = min(now + timedelta(hours=hours or a.duration_hours), as_utc(a.ends_at))
    for _ in range(5):
        try:
            return await Group.create(activity_id=a.id, share_code=common.share_code(), opener_user_id=user_id,
                                      leader_id=leader_id, pickup_point_id=pickup_point_id, size=a.group_size,
                                      seats_taken=seats, expires_at=expires, using_db=conn)
        except IntegrityError:  # pragma: no cover - a 32^10 collision
            continue
    raise Conflict("请重试", code="share_code_collision")


async def join_group(settings: Settings, user_id: int, idempotency_key: str, *, activity_id: int | None = None,
                     share_code: str | None = None, group_id: int | None = None, open_new: bool = False,
                     sku_id: int, quantity: int = 1, delivery_mode: str, address_id: int | None = None,
                     pickup_point_id: int | None = None, remark: str = "") -> tuple[dict[str, Any], bool]:
    """Open a new group (``open_new``) or join one (share code or group id): one order, one seat
    reserved in the order's transaction. Returns (order with its group, created)."""
    idempotency.check_key(idempotency_key)
    if not open_new and (share_code is None) == (group_id is None):
        raise ValidationFailed("share_code: 参团需要分享码或团编号（二选一）", field="share_code")
    if not open_new:
        g = await (Group.get_or_none(share_code=share_code.upper()) if share_code else Group.get_or_none(id=group_id or 0))
        if g is None:
            raise common.not_found("拼团", "group_not_found", "share_code" if share_code else "group_id")
        activity_id, group_id = g.activity_id, g.id
    elif activity_id is None:
        raise ValidationFailed("activity_id: 开团需要活动", field="activity_id")
    else:
        await _get_activity(activity_id)  # 404 for an unknown activity, before any order lookup
    req = ActivityRequest(ActivityType.group_buy, params={"activity_id": activity_id, "group_id": group_id,
                                                         "open_new": open_new, "settings_timeout": settings.order_pay_timeout_seconds},
                         fingerprint=f"{activity_id}:{'new' if open_new else group_id}")
    order, created = await create_order(settings, user_id, idempotency_key, items=[{"sku_id": sku_id, "quantity": quantity}],
                                        delivery_mode=delivery_mode, address_id=address_id,
                                        pickup_point_id=pickup_point_id, remark=remark, activity=req)
    ref = req.ref or (await Order.filter(id=order["id"]).values_list("activity_ref", flat=True))[0]
    return {"order": order, "group": await get_group(group_id=int(ref))}, created


def _limit_reached(a: GroupBuyActivity) -> Conflict:
    return Conflict(f"每人最多参加 {a.per_user_limit} 个团", code="group_limit_reached", per_user_limit=a.per_user_limit)


async def _live_seats_of(conn, activity_id: int, user_id: int) -> int:
    return await GroupSeat.filter(group__activity_id=activity_id, user_id=user_id,
                                  status__in=list(LIVE_SEATS)).using_db(conn).count()


class GroupBuyPolicy(ActivityPolicy):
    type = ActivityType.group_buy

    async def pays_commission(self, conn, ref: str) -> bool:
        """The activity's "commission on/off" (ref: the group id)."""
        if not ref.isdigit():
            return True
        flags = await Group.filter(id=int(ref)).using_db(conn).values_list("activity__commission_enabled", flat=True)
        return bool(flags[0]) if flags else True

    async def price(self, request: ActivityRequest, user_id: int, lines: dict[int, int],
                    skus: dict[int, dict[str, Any]]) -> dict[int, int]:
        p = request.params
        a = await _get_activity(p["activity_id"])
        common.check_window(a.status, a.starts_at, a.ends_at, what="拼团活动")
        if len(lines) != 1:
            raise ValidationFailed("items: 拼团订单只能有一种商品", field="items")
        sid = next(iter(lines))
        if str(sid) not in a.sku_prices:
            raise ValidationFailed("sku_id: 该规格不参加拼团", field="sku_id")
        now = utcnow()
        timeout = p["settings_timeout"]
        if not p["open_new"]:
            g = await Group.get(id=p["group_id"])
            if g.opener_user_id == user_id or await GroupSeat.filter(group_id=g.id, user_id=user_id,
                                                                      status__in=list(LIVE_SEATS)).exists():
                raise Conflict("您已在这个团里，不能重复参团", code="group_already_joined")
            if g.status != GroupStatus.open or as_utc(g.expires_at) <= now:
                raise GroupExpired()
            if g.seats_taken >= g.size:
                raise GroupFull()
            # The seat must be paid before the group ends: the payment window ends with it.
            timeout = min(timeout, common.seconds_left(g.expires_at, now))
        if await _live_seats_of(None, a.id, user_id) >= a.per_user_limit:
            raise _limit_reached(a)
        if p["open_new"] and a.opener_free and lines[sid] != 1:
            # The opener's free unit is one unit: 150 free units were one seat (attacker pass).
            raise ValidationFailed("quantity: 团长免单仅限 1 件", field="quantity", max_quantity=1)
        request.pay_timeout_seconds = max(1, timeout)
        price = int(a.sku_prices[str(sid)])
        return {sid: 0 if p["open_new"] and a.opener_free else price}

    async def reserve(self, conn, order: Any, request: ActivityRequest) -> None:
        p = request.params
        now = utcnow()
        a = await _get_activity(p["activity_id"], conn)
        # The per-user limit decided on guarded state: price() counts outside the order's
        # transaction, and 12 opens at once by one user made 10 seats (with a free opener's
        # unit, 10 free units; attacker pass, session 8). One user's seats in one activity are
        # taken one transaction at a time, and counted again here.
        if sql.is_pg(conn):
            await sql.fetch(conn, "SELECT pg_advisory_xact_lock(hashtextextended(?, 0))",
                            [f"group_buy:seats:{a.id}:{order.user_id}"])
        if await _live_seats_of(conn, a.id, order.user_id) >= a.per_user_limit:
            raise _limit_reached(a)
        if p["open_new"]:
            g = await _new_group(conn, a, order.user_id, None, order.pickup_point_id, 1)
            group_id = g.id
        else:
            group_id = p["group_id"]
            took = await Group.filter(id=group_id, status=GroupStatus.open, expires_at__gt=now,
                                      seats_taken__lt=F("size")).using_db(conn).update(seats_taken=F("seats_taken") + 1)
            if took != 1:
                g = await Group.get(id=group_id).using_db(conn)
                if g.status != GroupStatus.open or as_utc(g.expires_at) <= now:
                    raise GroupExpired()
                raise GroupFull()
        try:
            await GroupSeat.create(group_id=group_id, user_id=order.user_id, order_id=order.id,
                                   is_opener=p["open_new"], holder_key=f"{group_id}:{order.user_id}", using_db=conn)
        except IntegrityError:
            raise Conflict("您已在这个团里，不能重复参团", code="group_already_joined") from None
        request.ref = str(group_id)
        request.result["group_id"] = group_id

    async def release(self, conn, order_id: int, ref: str, reason: str) -> None:
        """reserved -> released; the group gets the seat back while it is open."""
        seat = await GroupSeat.get_or_none(order_id=order_id).using_db(conn)
        if seat is None:
            return
        moved = await GroupSeat.filter(id=seat.id, status=SeatStatus.reserved).using_db(conn).update(
            status=SeatStatus.released, holder_key=None)
        if moved == 1:
            await Group.filter(id=seat.group_id, status=GroupStatus.open).using_db(conn).update(
                seats_taken=F("seats_taken") - 1)

    async def on_paid(self, conn, order_id: int, ref: str) -> None:
        """reserved -> paid; the last paid seat moves the group open -> succeeded."""
        seat = await GroupSeat.get_or_none(order_id=order_id).using_db(conn)
        if seat is None:
            return
        moved = await GroupSeat.filter(id=seat.id, status=SeatStatus.reserved).using_db(conn).update(
            status=SeatStatus.paid, paid_at=utcnow())
        if moved != 1:
            return
        bumped = await Group.filter(id=seat.group_id, status=GroupStatus.open).using_db(conn).update(
            seats_paid=F("seats_paid") + 1)
        if bumped != 1:
            # The group ended while this payment was on its way: give the money back.
            await common.refund_paid_order(conn, order_id, "拼团已结束，自动退款")
            return
        done = await Group.filter(id=seat.group_id, status=GroupStatus.open, seats_paid__gte=F("size")).using_db(
            conn).update(status=GroupStatus.succeeded, finished_at=utcnow())
        if done == 1:
            await _notify_members(conn, seat.group_id, succeeded=True)

    async def holds_fulfilment(self, order_id: int, ref: str) -> bool:
        """A paid group-buy order waits for its group before fulfilment, and an order of a group
        that failed is never fulfilled: its money goes back (expire_groups, refund_kept_money)."""
        return await Group.filter(id=int(ref or 0), status__in=(GroupStatus.open, GroupStatus.failed)).exists()

    async def on_refunded(self, conn, order_id: int, ref: str) -> None:
        """paid -> released when all of a member's money went back. After a partial refund the
        member still holds paid units, so the seat stays paid: released, the group lost a paid
        seat it still had, sold it again, and at failure the rest of the money was kept."""
        seat = await GroupSeat.get_or_none(order_id=order_id).using_db(conn)
        if seat is None:
            return
        money = await Order.filter(id=order_id).using_db(conn).values("paid_fen", "refunded_fen")
        if money and money[0]["paid_fen"] > money[0]["refunded_fen"]:
            return
        moved = await GroupSeat.filter(id=seat.id, status=SeatStatus.paid).using_db(conn).update(
            status=SeatStatus.released, holder_key=None)
        if moved == 1:
            await Group.filter(id=seat.group_id, status=GroupStatus.open).using_db(conn).update(
                seats_taken=F("seats_taken") - 1, seats_paid=F("seats_paid") - 1)


async def _notify_members(conn, group_id: int, succeeded: bool) -> int:
    g = await Group.get(id=group_id).using_db(conn).prefetch_related("activity")
    seats = await GroupSeat.filter(group_id=group_id, status=SeatStatus.paid).using_db(conn)
    n = 0
    for s in seats:
        if await common.notify_member(conn, s.user_id, f"group:{group_id}",
                                      GROUP_PAGE.format(code=g.share_code), {
                                          "thing1": g.activity.title,
                                          "phrase2": "拼团成功" if succeeded else "拼团失败",
                                          "thing3": "我们将尽快为您发货" if succeeded else "款项将原路退回"},
                                      event="group_succeeded" if succeeded else "group_failed"):
            n += 1
    return n


# -- expiry ------------------------------------------------------------------------------------

async def expire_groups(now: datetime | None = None, batch: int = 200) -> int:
    """Sweep: open groups past expires_at. With virtual fill on and at least X % of the seats
    paid: open -> succeeded with virtual seats (unpaid seats' orders cancelled). Otherwise
    open -> failed, every paid member refunded, unpaid orders cancelled. Safe to rerun: the
    group CAS lets one sweep act; cancelling an order twice is a no-op."""
    from huituan.services.orders.lifecycle import cancel_unpaid

    now = now or utcnow()
    groups = await Group.filter(status=GroupStatus.open, expires_at__lte=now).order_by("expires_at").limit(batch) \
        .prefetch_related("activity")
    done = 0
    for g in groups:
        a = g.activity
        fill = a.virtual_fill and g.seats_paid > 0 and g.seats_paid * 100 >= a.virtual_fill_percent * g.size
        async with in_transaction() as conn:
            if fill:
                moved = await Group.filter(id=g.id, status=GroupStatus.open).using_db(conn).update(
                    status=GroupStatus.succeeded, finished_at=now, virtual_seats=F("size") - F("seats_paid"))
            else:
                moved = await Group.filter(id=g.id, status=GroupStatus.open).using_db(conn).update(
                    status=GroupStatus.failed, finished_at=now)
            if moved != 1:
                continue
            if not fill:
                paid = await GroupSeat.filter(group_id=g.id, status=SeatStatus.paid).using_db(conn) \
                    .values_list("order_id", flat=True)
                for oid in paid:
                    await common.refund_paid_order(conn, oid, "拼团未成团，自动退款")
            await _notify_members(conn, g.id, succeeded=fill)
        unpaid = await GroupSeat.filter(group_id=g.id, status=SeatStatus.reserved).values_list("order_id", flat=True)
        for oid in unpaid:
            await cancel_unpaid(oid, "group_ended")
        done += 1
        log.info("group %s %s at expiry (%s/%s paid)", g.id, "virtually filled" if fill else "failed",
                 g.seats_paid, g.size)
    done += await refund_kept_money(batch)
    if done:
        common.kick()
    return done


async def refund_kept_money(batch: int = 200) -> int:
    """Sweep: a failed group keeps nobody's money. A member whose own refund request was open
    when the group failed (the order was refunding, so the failure's refund could not start)
    is refunded here once that request ends: rejected (the order is paid again) or partial (the
    rest is still paid). Their seat is still paid until all of it is back (on_refunded); the
    CAS paid -> refunding in refund_paid_order lets one sweep act. Returns orders refunded."""
    # Only orders that are paid now: those whose request is still under review (refunding) would
    # otherwise take the batch's places on every sweep and hide the ones that can go.
    kept = GroupSeat.filter(status=SeatStatus.paid, group__status=GroupStatus.failed).values("order_id")
    # With money still in them: a free opener's unit (0 fen) has nothing to give back.
    order_ids = await Order.filter(status=OrderStatus.paid, id__in=Subquery(kept), paid_fen__gt=F("refunded_fen")) \
        .order_by("id").limit(batch).values_list("id", flat=True)
    refunded = 0
    for oid in order_ids:
        async with in_transaction() as conn:
            if await common.refund_paid_order(conn, oid, "拼团未成团，自动退款"):
                refunded += 1
                log.info("failed group's order %s refunded after its own refund request ended", oid)
    return refunded


