"""Leaders (团长): application in the mini-program, operator decision, profile, staff, and the
one-time bind code that links a WeCom user to a leader or an operator (绑定)."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from huituan.core import sql
from huituan.core.clock import utcnow
from huituan.core.errors import Conflict, Forbidden, InvalidState, NotFound, ValidationFailed
from huituan.models.leader import Leader, LeaderStaff, LeaderStatus, PickupPoint, WecomBindCode
from huituan.models.user import Operator, User

_PHONE = re.compile(r"^1\d{10}$")
_ROBOT_KEY = re.compile(r"^[A-Za-z0-9-]{8,128}$")
BIND_CODE_TTL_SECONDS = 600


def mask_phone(phone: str | None) -> str:
    """138****0000: the only form of a phone number a leader or another user sees."""
    if not (phone or "").strip():
        return ""
    # Masked by its digits (spaces, dashes and "+" are formatting): at least four always hidden.
    digits = "".join(ch for ch in phone if ch.isascii() and ch.isdigit())
    if len(digits) >= 11:  # a mainland mobile (or longer): 3 + 4 shown, as WeChat shows them
        return digits[:3] + "****" + digits[-4:]
    if len(digits) >= 8:  # a short number (Hong Kong, a landline): 3 + 4 would show nearly all of it
        return digits[:2] + "****" + digits[-2:]
    if len(digits) >= 7:
        return "****" + digits[-3:]
    return "****"


def leader_dict(leader: Leader) -> dict[str, Any]:
    return {
        "id": leader.id, "user_id": leader.user_id, "name": leader.name, "phone": leader.phone,
        "status": str(leader.status), "commission_bp": leader.commission_bp, "created_at": leader.created_at,
        "approved_at": leader.approved_at, "reject_reason": leader.reject_reason,
        "wecom_linked": bool(leader.wecom_userid), "robot_registered": bool(leader.robot_key),
    }


async def list_leaders(*, status: LeaderStatus | None = None, page: int = 1, page_size: int = 20) -> dict[str, Any]:
    qs = Leader.all()
    if status is not None:
        qs = qs.filter(status=status)
    total = await qs.count()
    leaders = await qs.order_by("-id").offset((page - 1) * page_size).limit(page_size)
    return {"items": [leader_dict(x) for x in leaders], "total": total, "page": page, "page_size": page_size}


async def get_leader(leader_id: int) -> dict[str, Any]:
    leader = await Leader.get_or_none(id=leader_id)
    if leader is None:
        raise NotFound("团长不存在", code="leader_not_found", field="leader_id")
    return leader_dict(leader)


async def create_leader(user_id: int, name: str, phone: str, commission_bp: int | None = None) -> dict[str, Any]:
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


def _required(data: dict[str, Any], name: str, label: str, limit: int) -> str:
    value = str(data.get(name) or "").strip()
    if not value:
        raise ValidationFailed(f"{name}: 请填写{label}", field=name)
    if len(value) > limit:
        raise ValidationFailed(f"{name}: {label}最多 {limit} 个字", field=name)
    return value


async def apply_leader(user_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """A consumer applies (pending) with the pickup point they will run. A rejected applicant may
    apply again: rejected -> pending (compare-and-set). Nobody pays to become a leader."""
    name = _required(data, "name", "姓名", 32)
    phone = _required(data, "phone", "手机号", 20)
    if not _PHONE.match(phone):
        raise ValidationFailed("phone: 手机号格式不正确", field="phone")
    point = {
        "name": _required(data, "point_name", "自提点名称", 64),
        "province": _required(data, "province", "省份", 32),
        "city": _required(data, "city", "城市", 32),
        "district": str(data.get("district") or "").strip()[:32],
        "address": _required(data, "address", "详细地址", 200),
        "latitude": data.get("latitude"), "longitude": data.get("longitude"),
        "business_hours": str(data.get("business_hours") or "").strip()[:64],
        "contact_phone": phone,
    }
    for f, lo, hi in (("latitude", -90, 90), ("longitude", -180, 180)):
        v = point[f]
        if v is not None and not (isinstance(v, int | float) and lo <= v <= hi):
            raise ValidationFailed(f"{f}: 坐标超出范围", field=f)
    async with in_transaction() as conn:
        leader = await Leader.get_or_none(user_id=user_id).using_db(conn)
        if leader is not None:
            if leader.status != LeaderStatus.rejected:
                raise Conflict("您已提交过团长申请", code="leader_exists", status=str(leader.status))
            moved = await Leader.filter(id=leader.id, status=LeaderStatus.rejected).using_db(conn).update(
                status=LeaderStatus.pending, name=name, phone=phone, reject_reason="", rejected_at=None)
            if not moved:
                raise Conflict("申请状态已变化，请刷新", code="leader_exists")
            await PickupPoint.filter(leader_id=leader.id).using_db(conn).update(**point)
        else:
            try:
                leader = await Leader.create(user_id=user_id, name=name, phone=phone, status=LeaderStatus.pending,
                                             using_db=conn)
            except IntegrityError:
                raise Conflict("您已提交过团长申请", code="leader_exists") from None
            await PickupPoint.create(leader_id=leader.id, **point, using_db=conn)
    return await get_profile(user_id)


async def _decide(leader_id: int, to: LeaderStatus, operator_id: int | None, reason: str) -> dict[str, Any]:
    leader = await Leader.get_or_none(id=leader_id)
    if leader is None:
        raise NotFound("团长不存在", code="leader_not_found", field="leader_id")
    now = utcnow()
    values: dict[str, Any] = {"status": to, "decided_by": operator_id}
    if to == LeaderStatus.approved:
        values.update(approved_at=now, reject_reason="")
    else:
        values.update(rejected_at=now, reject_reason=reason[:200])
    changed = await Leader.filter(id=leader_id, status=LeaderStatus.pending).update(**values)
    if not changed:
        raise InvalidState(f"该团长申请已处理（{_STATUS_LABEL.get(str(leader.status), leader.status)}）",
                           code="leader_not_pending", status=str(leader.status))
    await leader.refresh_from_db()
    return leader_dict(leader)


_STATUS_LABEL = {"pending": "待审核", "approved": "已通过", "rejected": "已驳回", "disabled": "已停用"}


async def approve_leader(leader_id: int, operator_id: int | None = None) -> dict[str, Any]:
    """pending -> approved (compare-and-set; a leader already decided is a conflict)."""
    return await _decide(leader_id, LeaderStatus.approved, operator_id, "")


async def reject_leader(leader_id: int, reason: str, operator_id: int | None = None) -> dict[str, Any]:
    """pending -> rejected with the reason the applicant sees."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("reason: 驳回时请填写理由", field="reason")
    return await _decide(leader_id, LeaderStatus.rejected, operator_id, reason)


async def get_profile(user_id: int) -> dict[str, Any]:
    """The leader profile of a user with their points and staff (404 when they never applied)."""
    leader = await Leader.get_or_none(user_id=user_id)
    if leader is None:
        raise NotFound("您还不是团长", code="leader_not_found")
    from huituan.services.pickup_points import pickup_point_dict

    points = await PickupPoint.filter(leader_id=leader.id).order_by("id")
    staff = await LeaderStaff.filter(leader_id=leader.id).order_by("id")
    return {**leader_dict(leader), "pickup_points": [pickup_point_dict(p) for p in points],
            "staff": [staff_dict(s) for s in staff]}


def staff_status(s: LeaderStaff) -> str:
    return "active" if s.accepted_at else "invited"


def staff_dict(s: LeaderStaff) -> dict[str, Any]:
    """A staff member as their leader sees them: invited until they accept."""
    return {"user_id": s.user_id, "name": s.name, "status": staff_status(s),
            "invited_at": s.created_at, "accepted_at": s.accepted_at}


async def approved_leader_of_user(user_id: int) -> Leader:
    leader = await Leader.get_or_none(user_id=user_id)
    if leader is None or leader.status != LeaderStatus.approved:
        raise Forbidden("仅审核通过的团长可以操作", code="not_a_leader")
    return leader


async def add_staff(user_id: int, staff_user_id: int, name: str = "") -> dict[str, Any]:
    """Invite a user to help at the leader's points. They have no powers (verifying pickups,
    seeing the store's pick list) until they accept in the mini-program (accept_staff_invitation)."""
    leader = await approved_leader_of_user(user_id)
    if staff_user_id == user_id:
        raise ValidationFailed("user_id: 团长本人无需添加为店员", field="user_id")
    if not await User.filter(id=staff_user_id).exists():
        raise NotFound("用户不存在", code="user_not_found", field="user_id")
    if await Leader.filter(user_id=staff_user_id, status__in=(LeaderStatus.approved, LeaderStatus.pending)).exists():
        # Another store's leader (or applicant) serves their own store, not this one.
        raise Conflict("该用户是团长（或正在申请团长），不能添加为店员", code="staff_is_a_leader", field="user_id")
    await LeaderStaff.bulk_create([LeaderStaff(leader_id=leader.id, user_id=staff_user_id, name=name.strip()[:32])],
                                  ignore_conflicts=True)
    return await get_profile(user_id)


async def remove_staff(user_id: int, staff_user_id: int) -> dict[str, Any]:
    leader = await approved_leader_of_user(user_id)
    await LeaderStaff.filter(leader_id=leader.id, user_id=staff_user_id).delete()
    return await get_profile(user_id)


# -- the invited user's side ----------------------------------------------------------------

async def staff_invitations(user_id: int) -> dict[str, Any]:
    """The stores that invited ``user_id`` as staff, pending and accepted: the leader's name and
    points (never the leader's phone), how the leader calls them, and whether they accepted."""
    rows = await LeaderStaff.filter(user_id=user_id).order_by("-id")
    leader_ids = [r.leader_id for r in rows] or [0]
    names = dict(await Leader.filter(id__in=leader_ids).values_list("id", "name"))
    points: dict[int, list[str]] = {}
    for leader_id, point_name in await PickupPoint.filter(leader_id__in=leader_ids, is_active=True).order_by(
            "id").values_list("leader_id", "name"):
        points.setdefault(leader_id, []).append(point_name)
    return {"items": [{"leader_id": r.leader_id, "leader_name": names.get(r.leader_id, ""),
                       "pickup_points": points.get(r.leader_id, []), "name": r.name,
                       "status": staff_status(r),
                       "invited_at": r.created_at, "accepted_at": r.accepted_at} for r in rows]}


def _no_invitation() -> NotFound:
    return NotFound("没有这位团长的店员邀请", code="staff_invitation_not_found", field="leader_id")


async def accept_staff_invitation(user_id: int, leader_id: int) -> dict[str, Any]:
    """invited -> active by compare-and-set; accepting again changes nothing."""
    if await Leader.filter(user_id=user_id, status__in=(LeaderStatus.approved, LeaderStatus.pending)).exists():
        # A leader (or applicant) serves their own store (as add_staff refuses to invite them).
        raise Conflict("您是团长（或正在申请团长），不能成为其他团长的店员", code="staff_is_a_leader",
                       field="leader_id")
    moved = await LeaderStaff.filter(leader_id=leader_id, user_id=user_id, accepted_at=None).update(
        accepted_at=utcnow())
    if not moved and not await LeaderStaff.exists(leader_id=leader_id, user_id=user_id):
        raise _no_invitation()
    return await staff_invitations(user_id)


async def leave_staff(user_id: int, leader_id: int) -> dict[str, Any]:
    """Decline an invitation, or stop being a store's staff: either way the row goes."""
    if not await LeaderStaff.filter(leader_id=leader_id, user_id=user_id).delete():
        raise _no_invitation()
    return await staff_invitations(user_id)


async def set_robot(user_id: int, webhook: str) -> dict[str, Any]:
    """The leader registers the group robot of their customer group (its webhook URL or key)."""
    leader = await approved_leader_of_user(user_id)
    webhook = (webhook or "").strip()
    key = webhook.split("key=", 1)[1].split("&", 1)[0] if "key=" in webhook else webhook
    if key and not _ROBOT_KEY.match(key):
        raise ValidationFailed("webhook: 群机器人地址不正确", field="webhook")
    await Leader.filter(id=leader.id).update(robot_key=key)
    return await get_profile(user_id)


# ---- WeCom linking ---------------------------------------------------------------------------

async def issue_bind_code(kind: str, account_id: int) -> str:
    """A one-time code (10 minutes) that links the WeCom user who sends ``绑定 <code>``.
    Kept in the database: ``huituan create-operator`` runs in another process."""
    for _ in range(5):
        code = f"{secrets.randbelow(10**8):08d}"
        await WecomBindCode.bulk_create(
            [WecomBindCode(code=code, kind=kind, account_id=account_id,
                           expires_at=utcnow() + timedelta(seconds=BIND_CODE_TTL_SECONDS))], ignore_conflicts=True)
        if await WecomBindCode.filter(code=code, kind=kind, account_id=account_id, used_at=None).exists():
            return code
    raise Conflict("绑定码生成失败，请重试", code="bind_code_busy")


async def issue_leader_bind_code(user_id: int) -> dict[str, Any]:
    leader = await approved_leader_of_user(user_id)
    code = await issue_bind_code("leader", leader.id)
    return {"code": code, "expires_in": BIND_CODE_TTL_SECONDS, "hint": f"在企业微信中给惠团助手发送：绑定 {code}"}


async def link_wecom(wecom_userid: str, code: str) -> str:
    """Consume a bind code once (compare-and-set on used_at) and link ``wecom_userid``;
    returns "leader" or "operator"."""
    code = (code or "").strip()
    if not code.isdigit() or len(code) != 8:
        raise ValidationFailed("绑定码应为 8 位数字", field="code")
    now = utcnow()
    async with in_transaction() as conn:
        row = await WecomBindCode.get_or_none(code=code).using_db(conn)
        used = await WecomBindCode.filter(code=code, used_at=None, expires_at__gt=now).using_db(conn).update(
            used_at=now, used_by=wecom_userid[:64])
        if not used or row is None:
            raise ValidationFailed("绑定码无效或已过期，请重新获取", field="code", code="bind_code_invalid")
        model = Leader if row.kind == "leader" else Operator
        await model.filter(wecom_userid=wecom_userid).using_db(conn).update(wecom_userid=None)
        await model.filter(id=row.account_id).using_db(conn).update(wecom_userid=wecom_userid)
    return row.kind


_IDENTITY = (
    "SELECT 'operator' AS kind, id, username AS name, display_name, 0 AS user_id FROM operator "
    "WHERE wecom_userid = ? AND is_active = ? "
    "UNION ALL SELECT 'leader' AS kind, id, name, '' AS display_name, user_id FROM leader "
    "WHERE wecom_userid = ? AND status = ?"
)


async def bot_identity(wecom_userid: str) -> tuple[Any, Any]:
    """(operator, leader) linked to a WeCom user, each None when not linked (or inactive,
    or not approved). One query: it runs for every bot message."""
    if not wecom_userid:
        return None, None
    rows = await sql.fetch(None, _IDENTITY, [wecom_userid, True, wecom_userid, str(LeaderStatus.approved)])
    operator = leader = None
    for r in rows:
        if r["kind"] == "operator":
            operator = SimpleNamespace(id=r["id"], username=r["name"], display_name=r["display_name"] or "")
        else:
            leader = SimpleNamespace(id=r["id"], name=r["name"], user_id=r["user_id"])
    return operator, leader
