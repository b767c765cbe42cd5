"""Leaders (团长): registration by an operator, approval, the list operators review."""

from __future__ import annotations

from typing import Any

from tortoise.exceptions import IntegrityError

from huituan.core.clock import utcnow
from huituan.core.errors import Conflict, NotFound
from huituan.models.leader import Leader, LeaderStatus
from huituan.models.user import User


def leader_dict(leader: Leader) -> dict[str, Any]:
    return {
        "id": leader.id, "user_id": leader.user_id, "name": leader.name, "phone": leader.phone,
        "status": str(leader.status), "commission_bp": leader.commission_bp, "created_at": leader.created_at,
        "approved_at": leader.approved_at,
    }



async def list_leaders(*, status: LeaderStatus | None = None, page: int = 1, page_size: int = 20) -> dict[str, Any]:
    qs = Leader.all()
    if status is not None:
        qs = qs.filter(status=status)
    total = await qs.count()
    leaders = await qs.order_by("-id").offset((page - 1) * page_size).limit(page_size)
    return {"items": [leader_dict(x) for x in leaders], "total": total, "page": page, "page_size": page_size}


async def create_leader(user_id: int, name: str, phone: str, commission_bp: int = 0) -> dict[str, Any]:
    """An operator registers a leader directly: created approved."""
    if not await User.filter(id=user_id).exists():
        raise NotFound("用户不存在", code="user_not_found", field="user_id")
    if await Leader.filter(user_id=user_id).exists():
        raise Conflict("该用户已经是团长", code="leader_exists", field="user_id")
    try:
        leader = await Leader.create(user_id=user_id, name=name.strip(), phone=phone.strip(),
                                     commission_bp=commission_bp, status=LeaderStatus.approved,
                                     approved_at=utcnow())
    except IntegrityError:
        raise Conflict("该用户已经是团长", code="leader_exists", field="user_id") from None
    return leader_dict(leader)


async def approve_leader(leader_id: int) -> dict[str, Any]:
    """pending -> approved (compare-and-set; a leader already decided is a conflict)."""
    leader = await Leader.get_or_none(id=leader_id)
    if leader is None:
        raise NotFound("团长不存在", code="leader_not_found", field="leader_id")
    changed = await Leader.filter(id=leader_id, status=LeaderStatus.pending).update(
        status=LeaderStatus.approved, approved_at=utcnow())
    if not changed:
        raise Conflict("该团长申请已处理", code="leader_not_pending", status=str(leader.status))
    await leader.refresh_from_db()
    return leader_dict(leader)
