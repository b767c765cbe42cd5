"""ORDER_PAID: snapshot the order's promoters and write one pending record per item per
beneficiary, each with its ledger entry in the payment's transaction."""

from __future__ import annotations

from datetime import datetime

from huituan.core import sql
from huituan.core.clock import utcnow
from huituan.core.money import percent_of
from huituan.models.commission import (
    CommissionMode,
    CommissionRecord,
    DistributionSettings,
    ProductCommissionRule,
)
from huituan.models.order import ActivityType, Order, OrderItem
from huituan.models.referral import ReferralBinding
from huituan.models.wallet import EntryKind
from huituan.services.distribution_settings import get_settings_cached
from huituan.services.orders import activity
from huituan.services.promoters import is_promoter, rates_for
from huituan.services.referrals.binding import binding_is_active, referrer_of
from huituan.services.wallet import ledger


def activity_enabled(settings: DistributionSettings, activity: str) -> bool:
    return {
        ActivityType.normal: settings.activity_normal,
        ActivityType.group_buy: settings.activity_group_buy,
        ActivityType.bargain: settings.activity_bargain,
        ActivityType.flash_sale: settings.activity_flash_sale,
    }.get(activity, False)


async def _beneficiaries(buyer_id: int, settings: DistributionSettings, conn, now) -> tuple[int | None, int | None, bool]:
    """(level 1, level 2, self purchase). Two levels, never more."""
    self_purchase = settings.self_purchase_rebate and await is_promoter(buyer_id, settings, conn)
    if self_purchase:
        l1: int | None = buyer_id
    else:
        l1 = await referrer_of(buyer_id, conn, now)
    l2 = await referrer_of(l1, conn, now) if l1 is not None else None
    if l1 is not None and not await is_promoter(l1, settings, conn):
        l1 = None  # a disabled/ineligible promoter earns nothing; the level does not shift up
    if l2 is not None and (l2 == buyer_id or not await is_promoter(l2, settings, conn)):
        l2 = None
    return l1, l2, bool(self_purchase)


def item_commission(base_fen: int, quantity: int, level: int, rate_bp: int,
                    rule: ProductCommissionRule | None) -> tuple[int, int | None, int | None]:
    """(amount, rate_bp, fixed_per_unit) for one beneficiary on one item.

    Rounding: percent_of floors to the fen; the remainder stays with the platform
    (docs/ARCHITECTURE.md, Money). A fixed amount per unit is capped at what was paid for the line.
    """
    if rule is not None and rule.mode == CommissionMode.none:
        return 0, None, None
    if rule is not None and rule.mode == CommissionMode.fixed:
        per_unit = rule.level1_value if level == 1 else rule.level2_value
        return min(per_unit * quantity, base_fen), None, per_unit
    if rule is not None and rule.mode == CommissionMode.percent:
        rate_bp = rule.level1_value if level == 1 else rule.level2_value
    return percent_of(base_fen, rate_bp), rate_bp, None  # floor to the fen here


def cap_order_commission(amounts: list[int], paid_goods_fen: int, cap_bp: int) -> list[int]:
    """The platform cap, applied after the per-item rules (rates, product rules, the line
    ceiling): both levels of one order together earn at most ``cap_bp`` of what was paid for its
    goods (``OrderItem.paid_fen`` summed: after discounts, without shipping).

    Over the cap every amount shrinks in proportion, ``floor(amount x cap / total)``: floored to
    the fen, so the capped amounts never sum above the cap; the fen of rounding stay with the
    platform (docs/ARCHITECTURE.md, Money). Under the cap nothing changes."""
    cap = percent_of(paid_goods_fen, cap_bp)  # floor to the fen
    total = sum(amounts)
    if total <= cap:
        return list(amounts)
    return [a * cap // total for a in amounts]


_PAID_CONTEXT = (
    "SELECT o.user_id, o.activity_type, o.activity_ref, "
    "(SELECT a.id FROM order_attribution a WHERE a.order_id = o.id) AS attribution_id, "
    "b.promoter_id AS bound_promoter_id, b.status AS binding_status, b.expires_at AS binding_expires_at "
    'FROM "order" o LEFT JOIN referral_binding b ON b.user_id = o.user_id WHERE o.id = ?'
)
_ATTRIBUTION_INSERT = ("INSERT INTO order_attribution (order_id, buyer_id, level1_id, level2_id, self_purchase,"
                       " created_at) VALUES (?, ?, ?, ?, ?, ?)")
_EXPIRES_FIELD = ReferralBinding._meta.fields_map["expires_at"]


async def on_order_paid(order_id: int, conn, now: datetime | None = None) -> list[CommissionRecord]:
    """Idempotent per order (OrderAttribution is unique per order).

    One read gives the order, whether it is attributed already and the buyer's binding. The
    rules come from get_settings_cached: a change of the distribution settings applies to
    orders paid up to CACHE_SECONDS later in other processes (see services.distribution_settings).
    """
    now = now or utcnow()
    rows = await sql.fetch(conn, _PAID_CONTEXT, [order_id])
    if not rows:
        await Order.get(id=order_id).using_db(conn)  # raises DoesNotExist, as the ORM read did
    ctx = rows[0]
    if ctx["attribution_id"] is not None:
        return []
    buyer_id = ctx["user_id"]
    settings = await get_settings_cached(conn)
    if settings.self_purchase_rebate:
        l1, l2, self_purchase = await _beneficiaries(buyer_id, settings, conn, now)
    else:
        binding_active = ctx["bound_promoter_id"] is not None and binding_is_active(
            ctx["binding_status"], _EXPIRES_FIELD.to_python_value(ctx["binding_expires_at"]), now)
        if not binding_active:
            l1, l2, self_purchase = None, None, False  # what _beneficiaries finds, without asking
        else:
            l1, l2, self_purchase = await _beneficiaries(buyer_id, settings, conn, now)
    await sql.execute(conn, _ATTRIBUTION_INSERT,
                      [order_id, buyer_id, l1, l2, self_purchase, utcnow()])
    if not settings.enabled or not activity_enabled(settings, ctx["activity_type"]) or (l1 is None and l2 is None):
        return []
    if not await activity.pays_commission(conn, ctx["activity_type"], ctx["activity_ref"] or ""):
        return []  # the activity's own switch (e.g. a group-buy with commission off)
    items = await OrderItem.filter(order_id=order_id).using_db(conn).order_by("id")
    rules = {r.product_id: r for r in await ProductCommissionRule.filter(
        product_id__in=[i.product_id for i in items]).using_db(conn)}
    rates = {}
    for uid in {l1, l2} - {None}:
        rates[uid] = await rates_for(uid, settings, conn)
    planned: list[tuple[OrderItem, int, int, int, int | None, int | None]] = []
    for item in items:
        remaining = item.paid_fen  # total commission on a line never exceeds what was paid for it
        for level, uid in ((1, l1), (2, l2)):
            if uid is None or remaining <= 0:
                continue
            rate = rates[uid][0] if level == 1 else rates[uid][1]
            amount, rate_bp, fixed = item_commission(item.paid_fen, item.quantity, level, rate,
                                                     rules.get(item.product_id))
            amount = min(amount, remaining)
            if amount <= 0:
                continue
            remaining -= amount
            planned.append((item, level, uid, amount, rate_bp, fixed))
    amounts = cap_order_commission([p[3] for p in planned], sum(i.paid_fen for i in items),
                                   settings.commission_cap_bp)
    records: list[CommissionRecord] = []
    for (item, level, uid, _, rate_bp, fixed), amount in zip(planned, amounts):
        if amount <= 0:
            continue
        rec = await CommissionRecord.create(
            order_id=order_id, order_item_id=item.id, product_id=item.product_id, buyer_id=buyer_id,
            beneficiary_id=uid, level=level, self_purchase=self_purchase and level == 1,
            base_fen=item.paid_fen, rate_bp=rate_bp, fixed_per_unit_fen=fixed, original_amount_fen=amount,
            amount_fen=amount, using_db=conn)
        records.append(rec)
    if records:
        def plan(_w):
            return [ledger.Posting(r.beneficiary_id, "pending", r.amount_fen, EntryKind.commission_pending,
                                   f"commission:{r.id}:pending", "commission", r.id) for r in records]

        await ledger.apply(conn, [r.beneficiary_id for r in records], plan, now=now)
    return records
