"""Who may promote (everyone / approved / spend threshold), applications and levels."""

from __future__ import annotations

from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.functions import Sum

from huituan.core.clock import utcnow
from huituan.core.errors import Conflict, InvalidState, NotFound, ValidationFailed
from huituan.models.commission import DistributionSettings, PromoteMode
from huituan.models.order import Order, OrderStatus
from huituan.models.promoter import Promoter, PromoterLevel, PromoterStatus
from huituan.models.referral import BindingStatus, ReferralBinding
from huituan.models.user import User
from huituan.services.distribution_settings import get_settings

# Orders whose money the buyer actually spent (paid and not wholly refunded).
SPENT_STATUSES = (OrderStatus.paid, OrderStatus.shipped, OrderStatus.ready_for_pickup, OrderStatus.completed,
                  OrderStatus.refunding, OrderStatus.partly_refunded)


def _q(q, conn):
    return q.using_db(conn) if conn is not None else q


async def spend_of(user_ids: list[int], conn=None) -> int:
    """Lifetime paid spend of ``user_ids`` net of refunds, in fen."""
    if not user_ids:
        return 0
    rows = await _q(Order.filter(user_id__in=user_ids, status__in=SPENT_STATUSES), conn) \
        .annotate(p=Sum("paid_fen"), r=Sum("refunded_fen")).values("p", "r")
    if not rows:
        return 0
    return int(rows[0]["p"] or 0) - int(rows[0]["r"] or 0)


async def is_promoter(user_id: int, settings: DistributionSettings | None = None, conn=None) -> bool:
    """May ``user_id`` bind new users and earn commission under the current promote mode?"""
    settings = settings or await get_settings(conn)
    user = await _q(User.get_or_none(id=user_id), conn)
    if user is None or user.is_disabled:
        return False
    p = await _q(Promoter.get_or_none(user_id=user_id), conn)
    if p is not None and p.status == PromoterStatus.disabled:
        return False
    if settings.promote_mode == PromoteMode.everyone:
        return True
    if p is not None and p.status == PromoterStatus.approved:
        return True
    if settings.promote_mode == PromoteMode.spend_threshold:
        return await spend_of([user_id], conn) >= settings.promote_spend_threshold_fen
    return False


async def rates_for(user_id: int, settings: DistributionSettings, conn=None) -> tuple[int, int]:
    """(level-1 bp, level-2 bp) of ``user_id``: their promoter level's, else the global rates."""
    p = await _q(Promoter.get_or_none(user_id=user_id), conn)
    if p is not None and p.level_id:
        lvl = await _q(PromoterLevel.get_or_none(id=p.level_id, is_active=True), conn)
        if lvl is not None:
            return lvl.level1_bp, lvl.level2_bp
    return settings.level1_bp, settings.level2_bp


async def promoter_status(user_id: int) -> dict[str, Any]:
    settings = await get_settings()
    p = await Promoter.get_or_none(user_id=user_id)
    level = None
    if p is not None and p.level_id:
        lvl = await PromoterLevel.get_or_none(id=p.level_id)
        if lvl is not None:
            level = {"id": lvl.id, "name": lvl.name, "rank": lvl.rank}
    spend = await spend_of([user_id])
    return {
        "is_promoter": await is_promoter(user_id, settings),
        "promote_mode": str(settings.promote_mode),
        "status": str(p.status) if p else None,
        "level": level,
        "own_spend_fen": spend,
        "spend_threshold_fen": settings.promote_spend_threshold_fen,
        "can_apply": settings.promote_mode == PromoteMode.approved
        and (p is None or p.status == PromoterStatus.rejected),
        "share_scene": share_scene(user_id),
    }


def share_scene(user_id: int) -> str:
    """The scene a promoter's links and posters carry (see services.referrals.parse_scene)."""
    return f"r={user_id}"


async def apply(user_id: int, real_name: str = "", phone: str = "", note: str = "") -> dict[str, Any]:
    """Apply to become a promoter (mode `approved`). none/rejected -> applied."""
    settings = await get_settings()
    if settings.promote_mode != PromoteMode.approved:
        raise InvalidState("当前无需申请，满足条件即可成为推手", code="apply_not_needed")
    now = utcnow()
    p = await Promoter.get_or_none(user_id=user_id)
    if p is None:
        try:
            await Promoter.create(user_id=user_id, status=PromoterStatus.applied, real_name=real_name, phone=phone,
                                  apply_note=note, applied_at=now)
        except IntegrityError:
            raise Conflict("已提交申请", code="already_applied") from None
    else:
        n = await Promoter.filter(id=p.id, status=PromoterStatus.rejected).update(
            status=PromoterStatus.applied, real_name=real_name, phone=phone, apply_note=note, applied_at=now)
        if not n:
            raise Conflict("已提交申请或已是推手", code="already_applied")
    return await promoter_status(user_id)


async def review(user_id: int, approve: bool, operator_id: int, note: str = "") -> dict[str, Any]:
    """applied -> approved | rejected."""
    new = PromoterStatus.approved if approve else PromoterStatus.rejected
    n = await Promoter.filter(user_id=user_id, status=PromoterStatus.applied).update(
        status=new, reviewed_by=operator_id, review_note=note, reviewed_at=utcnow())
    if not n:
        if not await Promoter.exists(user_id=user_id):
            raise NotFound("没有该推手申请", code="promoter_not_found")
        raise InvalidState("该申请已处理", code="already_reviewed")
    return await promoter_to_dict(user_id)


async def set_status(user_id: int, status: PromoterStatus, operator_id: int, note: str = "",
                     level_id: int | None = None) -> dict[str, Any]:
    """Operator sets a promoter's status (e.g. disable) and/or level directly."""
    if level_id is not None and not await PromoterLevel.exists(id=level_id):
        raise ValidationFailed("level_id: 等级不存在", field="level_id")
    if not await User.exists(id=user_id):
        raise NotFound("用户不存在", code="user_not_found", field="user_id")
    values: dict[str, Any] = {"status": status, "reviewed_by": operator_id, "review_note": note,
                              "reviewed_at": utcnow()}
    if level_id is not None:
        values["level_id"] = level_id
    try:
        await Promoter.create(user_id=user_id, **values)
    except IntegrityError:
        await Promoter.filter(user_id=user_id).update(**values)
    return await promoter_to_dict(user_id)


async def promoter_to_dict(user_id: int) -> dict[str, Any]:
    p = await Promoter.get_or_none(user_id=user_id)
    if p is None:
        raise NotFound("推手不存在", code="promoter_not_found")
    return {"user_id": p.user_id, "status": str(p.status), "level_id": p.level_id, "real_name": p.real_name,
            "phone": p.phone, "apply_note": p.apply_note, "review_note": p.review_note,
            "applied_at": p.applied_at.isoformat() if p.applied_at else None}


async def list_promoters(status: str | None = None, page: int = 1, page_size: int = 20) -> dict[str, Any]:
    q = Promoter.all()
    if status:
        q = q.filter(status=status)
    total = await q.count()
    rows = await q.order_by("-id").offset((page - 1) * page_size).limit(page_size)
    return {"total": total, "items": [await promoter_to_dict(p.user_id) for p in rows]}


# -- levels -------------------------------------------------------------------------------

def level_to_dict(lvl: PromoterLevel) -> dict[str, Any]:
    return {"id": lvl.id, "name": lvl.name, "rank": lvl.rank, "level1_bp": lvl.level1_bp,
            "level2_bp": lvl.level2_bp, "min_direct_invites": lvl.min_direct_invites,
            "min_team_spend_fen": lvl.min_team_spend_fen, "min_own_spend_fen": lvl.min_own_spend_fen,
            "is_active": lvl.is_active}


async def list_levels() -> list[dict[str, Any]]:
    return [level_to_dict(x) for x in await PromoterLevel.all().order_by("rank")]


def _rates_guard(values: dict[str, Any]) -> dict[str, Any]:
    """The filter that keeps ``level1_bp + level2_bp <= 100 %`` true at the moment of the write:
    a rate not being changed is compared in the UPDATE itself, never read first (two edits of
    one rate each could otherwise both pass and together exceed 100 %)."""
    l1, l2 = values.get("level1_bp"), values.get("level2_bp")
    if l1 is not None and l2 is not None:
        if l1 + l2 > 10_000:
            raise ValidationFailed("level2_bp: 一级与二级佣金比例之和不能超过 100%", field="level2_bp")
        return {}
    if l1 is not None:
        return {"level2_bp__lte": 10_000 - l1}
    if l2 is not None:
        return {"level1_bp__lte": 10_000 - l2}
    return {}


async def _name_taken(values: dict[str, Any], level_id: int | None) -> bool:
    name = values.get("name")
    return name is not None and await PromoterLevel.filter(name=name).exclude(id=level_id or 0).exists()


def _name_conflict() -> Conflict:
    return Conflict("name: 该等级名称已被其他等级使用", code="level_name_taken", field="name")


async def save_level(values: dict[str, Any], level_id: int | None = None) -> dict[str, Any]:
    guard = _rates_guard(values)
    if await _name_taken(values, level_id):
        raise _name_conflict()
    try:
        if level_id is None:
            if guard:
                raise ValidationFailed("level1_bp: 新建等级需同时给出一级与二级比例", field="level1_bp")
            lvl = await PromoterLevel.create(**values)
        else:
            if not await PromoterLevel.filter(id=level_id, **guard).update(**values):
                if not await PromoterLevel.exists(id=level_id):
                    raise NotFound("等级不存在", code="level_not_found")
                raise ValidationFailed("level2_bp: 一级与二级佣金比例之和不能超过 100%", field="level2_bp")
            lvl = await PromoterLevel.get(id=level_id)
    except IntegrityError:
        # Both are unique: the name checked above can still be taken by a concurrent save.
        if await _name_taken(values, level_id):
            raise _name_conflict() from None
        raise Conflict("rank: 该排序已被其他等级使用", code="rank_taken", field="rank") from None
    return level_to_dict(lvl)


async def evaluate_level(user_id: int, conn=None) -> int | None:
    """Upgrade (never downgrade) ``user_id`` to the best active level whose conditions all hold:
    direct invites, team spend (level-1 and level-2 invitees), own spend. Returns the level id.

    The write is a compare-and-set on the level read (promoter.level_id = what we saw): of two
    completions evaluating at once, one that decided on older figures cannot overwrite a higher
    level the other just wrote; it re-reads and only ever moves up."""
    levels = await _q(PromoterLevel.filter(is_active=True).order_by("-rank"), conn)
    if not levels:
        return None
    direct = await _q(ReferralBinding.filter(promoter_id=user_id, status=BindingStatus.active), conn) \
        .values_list("user_id", flat=True)
    second = await _q(ReferralBinding.filter(promoter_id__in=list(direct), status=BindingStatus.active), conn) \
        .values_list("user_id", flat=True) if direct else []
    team_spend = await spend_of(list(direct) + list(second), conn)
    own = await spend_of([user_id], conn)
    best = next((lvl for lvl in levels if len(direct) >= lvl.min_direct_invites
                 and team_spend >= lvl.min_team_spend_fen and own >= lvl.min_own_spend_fen), None)
    ranks = {x.id: x.rank for x in await _q(PromoterLevel.all(), conn).only("id", "rank")}
    for _ in range(5):
        p = await _q(Promoter.get_or_none(user_id=user_id), conn)
        current_rank = ranks.get(p.level_id, -10**9) if p is not None and p.level_id else -10**9
        if best is None or best.rank <= current_rank:
            return p.level_id if p else None
        if p is None:
            settings = await get_settings(conn)
            if settings.promote_mode == PromoteMode.approved:
                return None  # levels belong to approved promoters in that mode
            # A concurrent evaluation may create the row too: ON CONFLICT DO NOTHING, then the
            # compare-and-set below decides on the row that exists.
            await Promoter.bulk_create([Promoter(user_id=user_id, status=PromoterStatus.approved)],
                                       ignore_conflicts=True, using_db=conn)
            continue
        if p.status == PromoterStatus.disabled:
            return p.level_id
        moved = await _q(Promoter.filter(id=p.id, level_id=p.level_id), conn).update(level_id=best.id)
        if moved:
            return best.id
    return (await _q(Promoter.get(user_id=user_id), conn)).level_id
