"""The leader store (团长小店): platform products a leader offers (on/off per leader) and the
leader commission (global, per leader, per product), paid into the leader's wallet through
the ledger as a pending commission record (level 0) and settled by the common settlement
after pickup plus the freeze days; refunds reduce it by the common rules.

A leader's own goods (sold by the leader as the seller) are not handled here and never go
through the platform wallet: that needs a licensed payment split.
"""

from __future__ import annotations

from typing import Any

from tortoise.transactions import in_transaction

from huituan.core.errors import NotFound, ValidationFailed
from huituan.core.inbound import ID_MAX, ascii_int
from huituan.core.money import percent_of
from huituan.models.catalog import Product, Sku
from huituan.models.commission import CommissionRecord
from huituan.models.leader import Leader, LeaderCommissionRule, LeaderProduct, LeaderStatus, PickupPoint
from huituan.models.order import Order, OrderItem
from huituan.models.sharing import ShareTargetKind
from huituan.models.wallet import EntryKind
from huituan.services import outbox
from huituan.services.distribution_settings import get_settings_cached
from huituan.services.wallet import ledger

LEADER_LEVEL = 0


async def global_rate_bp(conn=None) -> int:
    """The global leader rate of the distribution settings (operators edit it)."""
    return (await get_settings_cached(conn)).leader_commission_bp


async def rates_for_items(leader_bp: int | None, product_ids: list[int], conn=None) -> dict[int, int]:
    """product id -> rate in basis points: the product rule, else the leader's, else the global."""
    rules = {r.product_id: r.rate_bp for r in await LeaderCommissionRule.filter(
        product_id__in=product_ids or [0]).using_db(conn)}
    base = leader_bp if leader_bp is not None else await global_rate_bp(conn)
    return {pid: rules.get(pid, base) for pid in product_ids}


async def credit_leader_commission(order_id: int, leader_id: int, leader_user_id: int, leader_bp: int | None,
                                   conn) -> list[CommissionRecord]:
    """One pending record per line for the leader of the order's pickup point (idempotent per
    order). Products the leader switched off earn nothing."""
    if await CommissionRecord.filter(order_id=order_id, level=LEADER_LEVEL).using_db(conn).exists():
        return []
    items = await OrderItem.filter(order_id=order_id).using_db(conn).order_by("id")
    if not items:
        return []
    off = set(await LeaderProduct.filter(leader_id=leader_id, enabled=False,
                                         product_id__in=[i.product_id for i in items]).using_db(conn)
              .values_list("product_id", flat=True))
    rates = await rates_for_items(leader_bp, [i.product_id for i in items], conn)
    buyer_id = (await Order.filter(id=order_id).using_db(conn).values_list("user_id", flat=True))[0]
    # A leader who is also the buyer's promoter already has this line's record (one record per
    # line and beneficiary): they keep the promoter commission on it, never both.
    promoted = set(await CommissionRecord.filter(order_id=order_id, beneficiary_id=leader_user_id).using_db(conn)
                   .values_list("order_item_id", flat=True))
    planned = []
    for item in items:
        if item.product_id in off or item.id in promoted:
            continue
        rate = rates[item.product_id]
        amount = percent_of(item.paid_fen, rate)  # floor to the fen; the remainder stays with the platform
        if amount > 0:
            planned.append((item, rate, amount))
    # The platform cap covers everybody's commission on the order: the leader gets at most what
    # the promoters (already written by the same ORDER_PAID) left under it, shrunk in proportion
    # and floored like the promoters' cap.
    settings = await get_settings_cached(conn)
    promoters = sum(await CommissionRecord.filter(order_id=order_id).using_db(conn).values_list("amount_fen", flat=True))
    room = max(0, percent_of(sum(i.paid_fen for i in items), settings.commission_cap_bp) - promoters)
    total = sum(p[2] for p in planned)
    records = []
    for item, rate, amount in planned:
        if total > room:
            amount = amount * room // total
        if amount <= 0:
            continue
        records.append(await CommissionRecord.create(
            order_id=order_id, order_item_id=item.id, product_id=item.product_id, buyer_id=buyer_id,
            beneficiary_id=leader_user_id, level=LEADER_LEVEL, base_fen=item.paid_fen, rate_bp=rate,
            original_amount_fen=amount, amount_fen=amount, using_db=conn))
    if records:
        def plan(_w):
            return [ledger.Posting(r.beneficiary_id, "pending", r.amount_fen, EntryKind.commission_pending,
                                   f"commission:{r.id}:pending", "commission", r.id) for r in records]

        await ledger.apply(conn, [leader_user_id], plan)
    return records


# ---- the store's products --------------------------------------------------------------------

_TITLE_MAX = Product._meta.fields_map["title"].max_length


async def find_product(text: str) -> Product:
    """A product named in a chat command: by id, exact title, or the one title containing it."""
    t = (text or "").strip()
    if not t:
        raise ValidationFailed("请写上商品名称", field="product")
    if len(t) > _TITLE_MAX:
        raise ValidationFailed(f"商品名称过长（最多 {_TITLE_MAX} 个字）", field="product")
    product_id = ascii_int(t, low=1, high=ID_MAX)
    if product_id is not None:
        p = await Product.get_or_none(id=product_id)
        if p is not None:
            return p
    p = await Product.filter(title=t).first()
    if p is not None:
        return p
    found = await Product.filter(title__icontains=t).order_by("id").limit(6)
    if len(found) == 1:
        return found[0]
    if not found:
        raise NotFound(f"没有找到商品「{t[:20]}」，请检查名称", code="product_not_found", field="product")
    names = "、".join(p.title for p in found[:5])
    raise ValidationFailed(f"「{t[:20]}」对应多个商品：{names}，请写完整名称", field="product",
                           code="product_ambiguous")


async def queue_product_poster(leader_id: int, product_id: int, wecom_userid: str, request_key: str) -> None:
    """海报: the leader's share poster of a product on sale, queued as an image to the leader's
    WeCom chat (outbox wecom_poster; the caller kicks the outbox). ``request_key`` names the
    request (the bot's MsgId): the same request never queues a second poster, a new one does.
    A product off sale, or switched off in the leader's store, is refused here, in the reply,
    not later in chat."""
    leader = await Leader.get_or_none(id=leader_id, status=LeaderStatus.approved)
    if leader is None:
        raise NotFound("团长不存在", code="leader_not_found")
    product = await Product.get_or_none(id=product_id)
    if product is None:
        raise NotFound("没有找到该商品", code="product_not_found", field="product")
    if not product.on_sale or not await Sku.filter(product_id=product_id, on_sale=True).exists():
        raise ValidationFailed(f"「{product.title}」已下架，不能生成海报", field="product", code="product_off_sale")
    await _ensure_in_store(leader_id, product, "生成海报")
    await outbox.queue_wecom_poster(wecom_userid, leader.user_id, ShareTargetKind.product.value, product_id,
                                    f"wecom_poster:product:{product_id}:{leader_id}:{request_key}"[:191])


async def _ensure_in_store(leader_id: int, product: Product, action: str) -> None:
    """A product the leader switched off in their store is not theirs to promote (its orders
    earn them nothing): no poster or group of it goes out in their name. 422 saying how to
    switch it on."""
    if await LeaderProduct.filter(leader_id=leader_id, product_id=product.id, enabled=False).exists():
        raise ValidationFailed(f"「{product.title}」已在您的小店下架，发送「上架 {product.title}」后再{action}",
                               field="product", code="product_switched_off")


async def set_product_enabled(leader_id: int, product_id: int, enabled: bool) -> None:
    """Switch a platform product on or off in one leader store (upsert, last write wins)."""
    changed = await LeaderProduct.filter(leader_id=leader_id, product_id=product_id).update(enabled=enabled)
    if not changed:
        await LeaderProduct.bulk_create([LeaderProduct(leader_id=leader_id, product_id=product_id, enabled=enabled)],
                                        ignore_conflicts=True)
        await LeaderProduct.filter(leader_id=leader_id, product_id=product_id).update(enabled=enabled)


async def store_products(leader_id: int, *, include_off: bool = False, limit: int = 200) -> list[dict[str, Any]]:
    """Products on sale in the leader store (no row = on), with whether the leader switched them."""
    leader = await Leader.get_or_none(id=leader_id)
    if leader is None or leader.status != LeaderStatus.approved:
        raise NotFound("团长小店不存在", code="leader_not_found", field="leader_id")
    switches = dict(await LeaderProduct.filter(leader_id=leader_id).values_list("product_id", "enabled"))
    products = await Product.filter(on_sale=True).order_by("-sort", "-id").limit(limit)
    rates = await rates_for_items(leader.commission_bp, [p.id for p in products])
    out = []
    for p in products:
        enabled = switches.get(p.id, True)
        if not enabled and not include_off:
            continue
        out.append({"product_id": p.id, "title": p.title, "price_from_fen": p.price_from_fen,
                    "main_image": p.main_image, "enabled": enabled, "leader_rate_bp": rates[p.id]})
    return out


async def leader_store(leader_id: int) -> dict[str, Any]:
    leader = await Leader.get_or_none(id=leader_id)
    items = await store_products(leader_id)
    for it in items:
        it.pop("leader_rate_bp", None)
    return {"leader_id": leader_id, "leader_name": leader.name if leader else "", "items": items}


async def set_leader_rate(leader_id: int, rate_bp: int | None) -> None:
    if rate_bp is not None and not 0 <= rate_bp <= 3000:
        raise ValidationFailed("commission_bp: 团长佣金比例应在 0 到 3000 基点之间", field="commission_bp")
    if not await Leader.filter(id=leader_id).update(commission_bp=rate_bp):
        raise NotFound("团长不存在", code="leader_not_found", field="leader_id")


async def set_product_rate(product_id: int, rate_bp: int | None) -> dict[str, Any]:
    """Per-product leader rate (None removes it)."""
    if not await Product.filter(id=product_id).exists():
        raise NotFound("商品不存在", code="product_not_found", field="product_id")
    if rate_bp is None:
        await LeaderCommissionRule.filter(product_id=product_id).delete()
    else:
        if not 0 <= rate_bp <= 3000:
            raise ValidationFailed("rate_bp: 团长佣金比例应在 0 到 3000 基点之间", field="rate_bp")
        if not await LeaderCommissionRule.filter(product_id=product_id).update(rate_bp=rate_bp):
            await LeaderCommissionRule.bulk_create([LeaderCommissionRule(product_id=product_id, rate_bp=rate_bp)],
                                                   ignore_conflicts=True)
            await LeaderCommissionRule.filter(product_id=product_id).update(rate_bp=rate_bp)
    return {"product_id": product_id, "rate_bp": rate_bp, "global_rate_bp": await global_rate_bp()}


async def first_sku_id(product_id: int) -> int | None:
    ids = await Sku.filter(product_id=product_id).order_by("id").limit(1).values_list("id", flat=True)
    return ids[0] if ids else None


async def store_poster_data(leader_id: int) -> dict[str, Any] | None:
    """What a leader store poster shows (the fields of posters.registry.LeaderStore): None for
    an unknown leader; on_sale False unless approved with an active point."""
    leader = await Leader.get_or_none(id=leader_id)
    if leader is None:
        return None
    point = await PickupPoint.filter(leader_id=leader_id, is_active=True).order_by("id").first()
    first = await Product.filter(on_sale=True).exclude(
        id__in=await LeaderProduct.filter(leader_id=leader_id, enabled=False).values_list("product_id", flat=True)
    ).order_by("-sort", "-id").first()
    return {"leader_id": leader.id, "leader_user_id": leader.user_id, "store_name": f"{leader.name}的小店",
            "pickup_point_name": point.name if point else "", "address": point.address if point else "",
            "image_url": first.main_image if first else "",
            "on_sale": leader.status == LeaderStatus.approved and point is not None}


async def leader_open_group(leader_id: int, product_id: int, size: int | None = None,
                            hours: int | None = None, poster_to: str | None = None) -> dict[str, Any]:
    """开团: the leader opens an empty group of the product's running group-buy activity at
    their first point; members join by its share code. ``size`` picks among the product's
    activities; ``hours`` shortens the group's time limit, up to the activity's duration.
    ``poster_to`` (a WeCom userid): the group's share poster, made for the leader, is queued in
    the same transaction as an image to that member (outbox wecom_poster, one per group; the
    caller kicks the outbox after this returns). Nothing is written when a check fails."""
    from huituan.core.clock import utcnow
    from huituan.models.group_buy import ActivityStatus, GroupBuyActivity
    from huituan.services.activities import group_buy

    leader = await Leader.get_or_none(id=leader_id, status=LeaderStatus.approved)
    if leader is None:
        raise NotFound("团长不存在", code="leader_not_found")
    product = await Product.get_or_none(id=product_id)
    now = utcnow()
    running = await GroupBuyActivity.filter(product_id=product_id, status=ActivityStatus.active, starts_at__lte=now,
                                            ends_at__gt=now).order_by("group_size", "id")
    title = product.title if product else str(product_id)
    if product is not None:
        await _ensure_in_store(leader_id, product, "开团")
    if not running:
        raise ValidationFailed(f"「{title}」没有进行中的拼团活动，请联系运营创建后再开团", field="product",
                               code="no_group_buy_activity")
    sizes = "、".join(str(a.group_size) for a in running)
    if size is not None:
        running = [a for a in running if a.group_size == size]
        if not running:
            raise ValidationFailed(f"「{title}」没有 {size} 人团，可开：{sizes} 人团", field="size")
    activity = running[0]
    if hours is not None and not 1 <= hours <= activity.duration_hours:
        raise ValidationFailed(f"该拼团的成团时限最长 {activity.duration_hours} 小时，不能设为 {hours} 小时",
                               field="hours")
    point = await PickupPoint.filter(leader_id=leader_id, is_active=True).order_by("id").first()
    async with in_transaction() as conn:
        group = await group_buy.open_group(activity.id, leader.user_id, leader_id=leader_id,
                                           pickup_point_id=point.id if point else None, hours=hours, conn=conn)
        if poster_to:
            await outbox.queue_wecom_poster(poster_to, leader.user_id, ShareTargetKind.group_buy.value, group["id"],
                                            f"wecom_poster:group_buy:{group['id']}", conn=conn)
    price = min((int(v) for v in (activity.sku_prices or {}).values()), default=product.price_from_fen if product else 0)
    return {"group": group, "activity_id": activity.id, "title": activity.title or title, "group_size": activity.group_size,
            "duration_hours": hours or activity.duration_hours, "group_price_fen": price}
