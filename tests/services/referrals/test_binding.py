"""Referral binding: modes, validity, self/loop/disabled guards, audit, login attribution."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from huituan.models.promoter import Promoter, PromoterStatus
from huituan.models.referral import BindingStatus, ReferralAudit, ReferralBinding
from huituan.models.user import User
from huituan.services.referrals import bind_user, expire_bindings, manual_bind, parse_scene, referrer_of
from tests.factories import login, make_user
from tests.services.commission.helpers import set_settings


async def test_parse_scene():
    assert parse_scene("r=12") == 12
    assert parse_scene("p=5&r=12") == 12
    assert parse_scene("p%3D5%26r%3D7") == 7
    assert parse_scene("r=abc") is None and parse_scene("") is None and parse_scene(None) is None


async def test_first_mode_binds_once_and_audits(rt):
    a, b, u = await make_user(), await make_user(), await make_user()
    r = await bind_user(u.id, a.id, scene="r=1")
    assert r.bound and r.action == "bind"
    r = await bind_user(u.id, b.id)
    assert not r.bound and r.reason == "already_bound"
    assert await referrer_of(u.id) == a.id
    audit = await ReferralAudit.filter(user_id=u.id)
    assert [(x.action, x.new_promoter_id) for x in audit] == [("bind", a.id)]


async def test_override_mode_rebinds_and_audits(rt):
    await set_settings(bind_mode="override")
    a, b, u = await make_user(), await make_user(), await make_user()
    await bind_user(u.id, a.id)
    r = await bind_user(u.id, b.id)
    assert r.bound and r.action == "rebind"
    audit = await ReferralAudit.filter(user_id=u.id).order_by("id")
    assert [(x.action, x.old_promoter_id, x.new_promoter_id) for x in audit] == [
        ("bind", None, a.id), ("rebind", a.id, b.id)]


async def test_new_users_only(rt):
    await set_settings(bind_mode="new_users_only", new_user_window_seconds=60)
    a = await make_user()
    old = await make_user()
    await User.filter(id=old.id).update(created_at=datetime.now(UTC) - timedelta(hours=1))
    new = await make_user()
    assert not (await bind_user(old.id, a.id)).bound
    assert (await bind_user(new.id, a.id)).bound


async def test_no_self_binding_no_loops_no_disabled_promoters(rt):
    a, b, c = await make_user(), await make_user(), await make_user()
    assert (await bind_user(a.id, a.id)).reason == "self_binding"
    await bind_user(b.id, a.id)
    await bind_user(c.id, b.id)
    assert (await bind_user(a.id, c.id)).reason == "would_create_loop"
    await Promoter.create(user_id=c.id, status=PromoterStatus.disabled)
    d = await make_user()
    assert (await bind_user(d.id, c.id)).reason == "not_a_promoter"


async def test_approved_mode_requires_approval(rt):
    await set_settings(promote_mode="approved")
    a, u = await make_user(), await make_user()
    assert (await bind_user(u.id, a.id)).reason == "not_a_promoter"
    await Promoter.create(user_id=a.id, status=PromoterStatus.approved)
    assert (await bind_user(u.id, a.id)).bound


async def test_validity_expiry_job_and_rebind_after_expiry(rt):
    await set_settings(binding_valid_days=30)
    a, b, u = await make_user(), await make_user(), await make_user()
    await bind_user(u.id, a.id)
    binding = await ReferralBinding.get(user_id=u.id)
    assert binding.expires_at is not None
    assert await expire_bindings(now=datetime.now(UTC) + timedelta(days=29)) == 0
    assert await expire_bindings(now=datetime.now(UTC) + timedelta(days=31)) == 1
    assert (await ReferralBinding.get(user_id=u.id)).status == BindingStatus.expired
    assert await referrer_of(u.id) is None
    r = await bind_user(u.id, b.id)
    assert r.bound and r.action == "rebind"
    actions = await ReferralAudit.filter(user_id=u.id).order_by("id").values_list("action", flat=True)
    assert actions == ["bind", "expire", "rebind"]


async def test_manual_change_is_audited_with_operator_and_reason(rt):
    a, b, u = await make_user(), await make_user(), await make_user()
    await bind_user(u.id, a.id)
    out = await manual_bind(u.id, b.id, operator_id=9, reason="客服核实")
    assert out["previous_promoter_id"] == a.id
    last = await ReferralAudit.filter(user_id=u.id).order_by("-id").first()
    assert (last.action, last.operator_id, last.reason) == ("manual", 9, "客服核实")


async def test_login_with_kept_share_code_binds_the_new_user(client):
    sharer_token, sharer = await login(client, code="sharer")
    # browse first, register later: the client keeps the scene from the first open until login
    _, newbie = await login(client, code="newbie", scene=f"r={sharer['id']}")
    assert await referrer_of(newbie["id"]) == sharer["id"]


@pytest.mark.postgres
async def test_concurrent_first_binds_leave_one_binding_and_no_error(rt):
    """Two shares opened at once for an unbound user (each in its own transaction, as a
    login's bind is): one wins, the other is skipped; neither transaction fails."""
    import asyncio

    from tortoise.transactions import in_transaction

    from huituan.models.referral import ReferralBinding

    promoters = [await make_user() for _ in range(8)]
    for _ in range(5):
        u = await make_user()

        async def bind_in_tx(promoter):
            async with in_transaction() as conn:
                return await bind_user(u.id, promoter.id, scene=f"r={promoter.id}", conn=conn)

        results = await asyncio.gather(*(bind_in_tx(p) for p in promoters))
        assert sum(r.bound for r in results) == 1
        assert await ReferralBinding.filter(user_id=u.id).count() == 1


@pytest.mark.postgres
async def test_shares_opened_while_the_expiry_job_runs_rebind(rt):
    """Attacker pass, session 8: a lapsed binding read as "active but past its expiry", then
    marked expired by the job before the rebind's compare-and-set; every such share was refused
    as changed_concurrently and the new promoter lost the attribution."""
    import asyncio

    await set_settings(binding_valid_days=1)
    old, new = await make_user(), await make_user()
    users = [await make_user() for _ in range(10)]
    for u in users:
        await bind_user(u.id, old.id)
    await ReferralBinding.filter(user_id__in=[u.id for u in users]).update(
        expires_at=datetime.now(UTC) - timedelta(seconds=1))
    results = await asyncio.gather(expire_bindings(), expire_bindings(), *[bind_user(u.id, new.id) for u in users])
    binds = results[2:]
    assert all(r.bound for r in binds), [r.reason for r in binds]
    for u in users:
        assert await referrer_of(u.id) == new.id
