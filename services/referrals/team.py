"""A promoter's team: level-1 and level-2 invitees, masked names, who has bought."""

from __future__ import annotations

from typing import Any

from huituan.models.order import Order
from huituan.models.referral import BindingStatus, ReferralBinding
from huituan.models.user import User
from huituan.services.promoters import SPENT_STATUSES


def mask_name(name: str) -> str:
    """张三丰 -> 张**; empty -> 微信用户. Team members never see each other's full names."""
    if not name:
        return "微信用户"
    return name[0] + "*" * max(1, min(len(name) - 1, 3))


async def my_team(user_id: int, level: int = 1, page: int = 1, page_size: int = 20) -> dict[str, Any]:
    direct = ReferralBinding.filter(promoter_id=user_id, status=BindingStatus.active)
    if level == 1:
        q = direct
    else:
        ids = await direct.values_list("user_id", flat=True)
        q = ReferralBinding.filter(promoter_id__in=list(ids) or [0], status=BindingStatus.active)
    total = await q.count()
    rows = await q.order_by("-bound_at", "-id").offset((page - 1) * page_size).limit(page_size)
    uids = [b.user_id for b in rows]
    users = {u.id: u for u in await User.filter(id__in=uids or [0])}
    buyers = set(await Order.filter(user_id__in=uids or [0], status__in=SPENT_STATUSES)
                 .distinct().values_list("user_id", flat=True))
    level1_count = await direct.count()
    return {
        "level": level, "total": total, "level1_count": level1_count,
        "items": [{
            "user_id": b.user_id,
            "nickname": mask_name(users[b.user_id].nickname if b.user_id in users else ""),
            "avatar_url": users[b.user_id].avatar_url if b.user_id in users else "",
            "has_bought": b.user_id in buyers,
            "bound_at": b.bound_at.isoformat(),
            "expires_at": b.expires_at.isoformat() if b.expires_at else None,
        } for b in rows],
    }
