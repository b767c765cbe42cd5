"""Admin distribution API: settings, promoter review, levels, product rules, withdrawal
review, ledger per user, bindings and their audit log."""

from __future__ import annotations

from huituan.models.referral import ReferralAudit
from tests.factories import auth, keyed, login, make_product, make_user
from tests.services.commission.helpers import fund

P = "/api/admin/v1/distribution"


async def test_settings_roundtrip_and_validation(client, admin):
    data = await (await client.get(f"{P}/settings", headers=admin)).json()
    assert data["bind_mode"] == "first" and data["freeze_days"] == 7
    resp = await client.patch(f"{P}/settings", headers=admin, json={"bind_mode": "override", "level1_bp": 1500})
    data = await resp.json()
    assert resp.status == 200 and data["bind_mode"] == "override" and data["level1_bp"] == 1500
    resp = await client.patch(f"{P}/settings", headers=admin, json={"level1_bp": 9000, "level2_bp": 2000})
    data = await resp.json()
    assert resp.status == 422 and data["details"]["field"] == "level2_bp"
    resp = await client.patch(f"{P}/settings", headers=admin, json={"freeze_days": -1})
    assert resp.status == 422
    token, _ = await login(client, code="notop")
    assert (await client.get(f"{P}/settings", headers=auth(token))).status == 403


async def test_promoter_review_and_levels(client, admin):
    await client.patch(f"{P}/settings", headers=admin, json={"promote_mode": "approved"})
    token, me = await login(client, code="applicant")
    await client.post("/api/v1/promoter/apply", headers=auth(token), json={"real_name": "赵六"})
    lst = await (await client.get(f"{P}/promoters?status=applied", headers=admin)).json()
    assert [p["user_id"] for p in lst["items"]] == [me["id"]]
    resp = await client.post(f"{P}/promoters/{me['id']}/review", headers=admin, json={"approve": True})
    assert resp.status == 200 and (await resp.json())["status"] == "approved"
    resp = await client.post(f"{P}/promoters/{me['id']}/review", headers=admin, json={"approve": True})
    assert resp.status == 409
    me_status = await (await client.get("/api/v1/promoter/me", headers=auth(token))).json()
    assert me_status["is_promoter"]
    resp = await client.post(f"{P}/levels", headers=admin, json={"name": "银牌", "rank": 1, "level1_bp": 1200,
                                                                   "level2_bp": 600, "min_direct_invites": 3})
    lvl = await resp.json()
    assert resp.status == 201, lvl
    resp = await client.post(f"{P}/promoters/{me['id']}/status", headers=admin,
                             json={"status": "approved", "level_id": lvl["id"]})
    assert resp.status == 200 and (await resp.json())["level_id"] == lvl["id"]
    assert (await (await client.get(f"{P}/levels", headers=admin)).json())["items"][0]["name"] == "银牌"
    # Promoters see a level's name: a second level of the same name is refused, created or renamed.
    gold = {"name": "金牌", "rank": 2, "level1_bp": 1500, "level2_bp": 700}
    resp = await client.post(f"{P}/levels", headers=admin, json=gold | {"name": "银牌"})
    answer = await resp.json()
    assert resp.status == 409 and answer["error"] == "level_name_taken" and answer["details"]["field"] == "name"
    gold_id = (await (await client.post(f"{P}/levels", headers=admin, json=gold)).json())["id"]
    resp = await client.put(f"{P}/levels/{gold_id}", headers=admin, json=gold | {"name": "银牌"})
    assert resp.status == 409 and (await resp.json())["details"]["field"] == "name"
    resp = await client.put(f"{P}/levels/{gold_id}", headers=admin, json=gold | {"level1_bp": 1600})
    assert resp.status == 200 and (await resp.json())["name"] == "金牌"  # its own name is not a conflict


async def test_product_rule(client, admin):
    product = await make_product()
    resp = await client.put(f"{P}/products/{product.id}/rule", headers=admin,
                            json={"mode": "fixed", "level1_value": 300, "level2_value": 100})
    assert resp.status == 200
    assert (await (await client.get(f"{P}/products/{product.id}/rule", headers=admin)).json())["mode"] == "fixed"
    # A binding changed for no user names the user (attacker pass, session 7).
    resp = await client.put(f"{P}/bindings/999999", headers=admin, json={"promoter_id": None, "reason": "x"})
    answer = await resp.json()
    assert resp.status == 404 and answer["details"]["field"] == "user_id", answer
    # A rule for no product was stored (attacker pass, session 7).
    resp = await client.put(f"{P}/products/999999/rule", headers=admin, json={"mode": "none"})
    answer = await resp.json()
    assert resp.status == 404 and answer["details"]["field"] == "product_id", answer


async def test_withdrawal_review_and_ledger(client, admin, rt):
    await client.patch(f"{P}/settings", headers=admin, json={"withdraw_auto_approve_fen": 0})
    token, me = await login(client, code="wr")
    await fund(rt, me["id"], 3_000)
    w = await (await client.post("/api/v1/promoter/withdrawals", headers=keyed(token),
                                 json={"amount_fen": 1_000})).json()
    assert w.get("status") == "requested", w
    lst = await (await client.get(f"{P}/withdrawals?status=requested", headers=admin)).json()
    assert [x["id"] for x in lst["items"]] == [w["id"]]
    resp = await client.post(f"{P}/withdrawals/{w['id']}/review", headers=admin, json={"approve": False})
    assert resp.status == 422  # a rejection needs a reason
    resp = await client.post(f"{P}/withdrawals/{w['id']}/review", headers=admin,
                             json={"approve": False, "note": "信息不符"})
    assert resp.status == 200 and (await resp.json())["status"] == "rejected"
    ledger = await (await client.get(f"{P}/ledger/{me['id']}", headers=admin)).json()
    assert ledger["balances"]["available_fen"] == 3_000
    assert {e["kind"] for e in ledger["items"]} >= {"withdraw_hold", "withdraw_return", "commission_settle"}
    assert (await client.post(f"{P}/withdrawals/999/review", headers=admin, json={"approve": True})).status == 404
    # A user with no entries yet: an empty ledger. No such user: 404 naming user_id (was an empty 200).
    fresh = await make_user()
    empty = await (await client.get(f"{P}/ledger/{fresh.id}", headers=admin)).json()
    assert empty["total"] == 0 and empty["items"] == [] and empty["balances"]["available_fen"] == 0
    resp = await client.get(f"{P}/ledger/999999", headers=admin)
    answer = await resp.json()
    assert resp.status == 404 and answer["details"]["field"] == "user_id", answer


async def test_manual_binding_and_audit(client, admin):
    a, u = await make_user(), await make_user()
    resp = await client.put(f"{P}/bindings/{u.id}", headers=admin, json={"promoter_id": a.id, "reason": "补录"})
    assert resp.status == 200, await resp.text()
    resp = await client.put(f"{P}/bindings/{u.id}", headers=admin, json={"promoter_id": u.id, "reason": "x"})
    assert resp.status == 422
    audit = await (await client.get(f"{P}/bindings/audit?user_id={u.id}", headers=admin)).json()
    assert audit["items"][0]["action"] == "manual" and audit["items"][0]["reason"] == "补录"
    assert await ReferralAudit.filter(user_id=u.id).count() == 1
