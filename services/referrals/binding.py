"""Binding a user to the promoter who shared with them.

Modes (DistributionSettings.bind_mode):
- ``first``: bind only while the user has no active binding;
- ``new_users_only``: bind only accounts created within ``new_user_window_seconds`` of the scan;
- ``override``: every scan of another promoter's share rebinds.
An active binding lasts ``binding_valid_days`` (0 = permanent); once expired it attributes no
more commission and a later share may rebind. No self-binding, no loops, disabled or
ineligible promoters cannot bind. Every change writes a ReferralAudit row with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, unquote

from tortoise.transactions import in_transaction

from huituan.core import sql
from huituan.core.clock import as_utc, utcnow
from huituan.core.errors import NotFound, ValidationFailed
from huituan.core.inbound import ID_MAX, ascii_int, text_problem
from huituan.models.commission import BindMode
from huituan.models.referral import BindingAction, BindingStatus, ReferralAudit, ReferralBinding
from huituan.models.user import User
from huituan.services.distribution_settings import get_settings
from huituan.services.promoters import is_promoter

MAX_CHAIN = 64  # ancestors walked when checking for loops
# PostgreSQL advisory lock (transaction scope) that serialises every loop check with its write.
# One key for all bindings: a loop can close anywhere along a chain (A->B while C->A while
# B->C), so locking only the two users of one binding would not be enough. Bindings are rare
# (a login with a share code, an operator's change) and the lock lives until that commit.
LOOP_LOCK_KEY = 0x68756974_62696E64  # "huitbind"



def _q(q, conn):
    return q.using_db(conn) if conn is not None else q


@dataclass
class BindResult:
    bound: bool
    action: str  # bind | rebind | skipped
    reason: str
    promoter_id: int | None = None


def parse_scene(scene: str | None) -> int | None:
    """The sharer's user id from a share scene: ``r=123`` (optionally among other
    ``k=v`` pairs joined by ``&``, URL-encoded or not). None when there is none;
    ``r=²`` or ``r=١٢`` (digits that are not ASCII) is no id: None, never an error."""
    if not scene or text_problem(scene) is not None:
        return None
    text = unquote(scene.strip())
    for key, value in parse_qsl(text, keep_blank_values=False):
        if key in ("r", "ref"):
            user_id = ascii_int(value, low=1, high=ID_MAX - 1)
            if user_id is not None:
                return user_id
    return None


def _active(b: ReferralBinding | None, now: datetime) -> bool:
    return b is not None and binding_is_active(b.status, b.expires_at, now)


def binding_is_active(status: str, expires_at: datetime | None, now: datetime) -> bool:
    """A binding attributes commission while active and not past its expiry."""
    return status == BindingStatus.active and (expires_at is None or expires_at > now)


async def referrer_of(user_id: int, conn=None, now: datetime | None = None) -> int | None:
    """The promoter ``user_id`` is actively bound to, if any."""
    b = await _q(ReferralBinding.get_or_none(user_id=user_id), conn)
    return b.promoter_id if _active(b, now or utcnow()) else None


async def _serialize_binding_changes(conn) -> None:
    """Hold the binding lock until ``conn``'s transaction ends (PostgreSQL). SQLite has one
    writer at a time and our engine one connection: its transactions are serial already."""
    if sql.is_pg(conn):
        await conn.execute_query("SELECT pg_advisory_xact_lock($1)", [LOOP_LOCK_KEY])


async def _creates_loop(user_id: int, promoter_id: int, conn, now: datetime) -> bool:
    """Whether binding ``user_id`` to ``promoter_id`` closes a chain back to ``user_id``. Call
    it after _serialize_binding_changes, in the transaction that then writes the binding: two
    concurrent binds (A->B and B->A) would otherwise each see no loop and both commit."""
    current: int | None = promoter_id
    for _ in range(MAX_CHAIN):
        if current is None:
            return False
        if current == user_id:
            return True
        current = await referrer_of(current, conn, now)
    return True  # a chain this long is treated as a loop


async def bind_user(user_id: int, promoter_id: int, *, scene: str = "", is_new: bool = False,
                    conn=None, now: datetime | None = None) -> BindResult:
    """Bind ``user_id`` to ``promoter_id`` following the bind mode. Runs in ``conn`` when given
    (the login transaction), otherwise in its own transaction."""
    if conn is None:
        async with in_transaction() as c:
            return await bind_user(user_id, promoter_id, scene=scene, is_new=is_new, conn=c, now=now)
    now = now or utcnow()
    settings = await get_settings(conn)
    if not settings.enabled:
        return BindResult(False, "skipped", "distribution_disabled")
    if promoter_id == user_id:
        return BindResult(False, "skipped", "self_binding")
    user = await _q(User.get_or_none(id=user_id), conn)
    if user is None:
        return BindResult(False, "skipped", "user_not_found")
    if not await is_promoter(promoter_id, settings, conn):
        return BindResult(False, "skipped", "not_a_promoter")
    existing = await _q(ReferralBinding.get_or_none(user_id=user_id), conn)
    active = _active(existing, now)
    if active and existing.promoter_id == promoter_id:
        return BindResult(False, "skipped", "already_bound", promoter_id)
    if settings.bind_mode == BindMode.new_users_only:
        created = as_utc(user.created_at)
        if (now - created).total_seconds() > settings.new_user_window_seconds:
            return BindResult(False, "skipped", "not_a_new_user")
    if active and settings.bind_mode != BindMode.override:
        return BindResult(False, "skipped", "already_bound")
    await _serialize_binding_changes(conn)
    if await _creates_loop(user_id, promoter_id, conn, now):
        return BindResult(False, "skipped", "would_create_loop")
    expires = now + timedelta(days=settings.binding_valid_days) if settings.binding_valid_days > 0 else None
    reason = f"scene ({settings.bind_mode})"
    if existing is None:
        # Two first binds of one user can race (two shares opened at once, or a share during
        # login): the UNIQUE user_id lets one insert win. ON CONFLICT DO NOTHING, because on
        # PostgreSQL an error would abort the caller's transaction (the login's, for one).
        await ReferralBinding.bulk_create(
            [ReferralBinding(user_id=user_id, promoter_id=promoter_id, status=BindingStatus.active,
                             scene=scene[:128], bound_at=now, expires_at=expires)],
            ignore_conflicts=True, using_db=conn)
        won = await _q(ReferralBinding.filter(user_id=user_id, promoter_id=promoter_id, bound_at=now), conn).exists()
        if not won:
            return BindResult(False, "skipped", "changed_concurrently")
        action = BindingAction.bind
    else:
        # Compare-and-set on the binding as read (its promoter and when it was made): a
        # concurrent rebind makes this one a no-op. Not on its status: the expiry job turning an
        # already-lapsed binding "expired" meanwhile changes nothing this rebind depends on, and
        # refused every share opened during the sweep (attacker pass, session 8).
        n = await _q(ReferralBinding.filter(id=existing.id, promoter_id=existing.promoter_id,
                                            bound_at=existing.bound_at), conn).update(
            promoter_id=promoter_id, status=BindingStatus.active, scene=scene[:128], bound_at=now, expires_at=expires)
        if not n:
            return BindResult(False, "skipped", "changed_concurrently")
        action = BindingAction.rebind
        reason = ("override" if active else "previous binding expired") + f" ({settings.bind_mode})"
    await ReferralAudit.create(user_id=user_id, action=action,
                               old_promoter_id=existing.promoter_id if existing else None,
                               new_promoter_id=promoter_id, reason=reason, scene=scene[:128], using_db=conn)
    return BindResult(True, str(action), reason, promoter_id)


async def bind_from_scene(user_id: int, scene: str | None, *, is_new: bool = False, conn=None) -> BindResult:
    promoter_id = parse_scene(scene)
    if promoter_id is None:
        return BindResult(False, "skipped", "no_share_code")
    return await bind_user(user_id, promoter_id, scene=scene or "", is_new=is_new, conn=conn)


async def manual_bind(user_id: int, promoter_id: int | None, operator_id: int, reason: str) -> dict[str, Any]:
    """Operator sets (or, with None, removes) a user's binding; audited with the reason."""
    if not reason.strip():
        raise ValidationFailed("reason: 请填写修改原因", field="reason")
    now = utcnow()
    async with in_transaction() as conn:
        if not await User.filter(id=user_id).using_db(conn).exists():
            raise NotFound("用户不存在", code="user_not_found", field="user_id")
        if promoter_id is not None:
            if promoter_id == user_id:
                raise ValidationFailed("promoter_id: 不能绑定自己", field="promoter_id")
            if not await User.filter(id=promoter_id).using_db(conn).exists():
                raise ValidationFailed("promoter_id: 推手不存在", field="promoter_id")
            await _serialize_binding_changes(conn)
            if await _creates_loop(user_id, promoter_id, conn, now):
                raise ValidationFailed("promoter_id: 会形成循环推荐关系", field="promoter_id")
        settings = await get_settings(conn)
        existing = await ReferralBinding.get_or_none(user_id=user_id).using_db(conn)
        old = existing.promoter_id if existing else None
        expires = now + timedelta(days=settings.binding_valid_days) if settings.binding_valid_days > 0 else None
        if promoter_id is None:
            if existing is not None:
                await ReferralBinding.filter(id=existing.id).using_db(conn).delete()
        elif existing is None:
            await ReferralBinding.create(user_id=user_id, promoter_id=promoter_id, status=BindingStatus.active,
                                         scene="manual", bound_at=now, expires_at=expires, using_db=conn)
        else:
            await ReferralBinding.filter(id=existing.id).using_db(conn).update(
                promoter_id=promoter_id, status=BindingStatus.active, scene="manual", bound_at=now,
                expires_at=expires)
        await ReferralAudit.create(user_id=user_id, action=BindingAction.manual, old_promoter_id=old,
                                   new_promoter_id=promoter_id, reason=reason[:200], operator_id=operator_id,
                                   using_db=conn)
    return {"user_id": user_id, "promoter_id": promoter_id, "previous_promoter_id": old}


async def expire_bindings(now: datetime | None = None, batch: int = 1000) -> int:
    """Job: active bindings past their expiry -> expired, each with an audit row."""
    now = now or utcnow()
    done = 0
    while True:
        async with in_transaction() as conn:
            rows = await ReferralBinding.filter(status=BindingStatus.active, expires_at__lte=now).using_db(
                conn).limit(batch).values("id", "user_id", "promoter_id")
            if not rows:
                return done
            for r in rows:
                n = await ReferralBinding.filter(id=r["id"], status=BindingStatus.active,
                                                 promoter_id=r["promoter_id"], expires_at__lte=now).using_db(
                    conn).update(status=BindingStatus.expired)
                if n:
                    done += 1
                    await ReferralAudit.create(user_id=r["user_id"], action=BindingAction.expire,
                                               old_promoter_id=r["promoter_id"], new_promoter_id=None,
                                               reason="binding validity ran out", using_db=conn)
        if len(rows) < batch:
            return done


def _mask(name: str) -> str:
    if not name:
        return "微信用户"
    return name[0] + "*" * max(1, min(len(name) - 1, 3))


async def list_audit(user_id: int | None = None, page: int = 1, page_size: int = 20) -> dict[str, Any]:
    q = ReferralAudit.all()
    if user_id is not None:
        q = q.filter(user_id=user_id)
    total = await q.count()
    rows = await q.order_by("-id").offset((page - 1) * page_size).limit(page_size)
    return {"total": total, "items": [
        {"id": a.id, "user_id": a.user_id, "action": str(a.action), "old_promoter_id": a.old_promoter_id,
         "new_promoter_id": a.new_promoter_id, "reason": a.reason, "scene": a.scene,
         "operator_id": a.operator_id, "created_at": a.created_at.isoformat()} for a in rows]}
