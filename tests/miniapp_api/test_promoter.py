"""Promoter endpoints over HTTP: status, team, records, wallet, withdrawals, transfer notify."""

from __future__ import annotations

import pytest

from huituan.models.wallet import Withdrawal
from huituan.services.wallet.ledger import get_balances
from huituan.services.wallet.verify import verify_ledger
from tests.factories import auth, keyed, login, make_user, token_for
from tests.services.commission.helpers import bind, fund, paid_order, set_settings


async def test_status_team_records_wallet(client, rt):
    token, me = await login(client, code="promoter")
    resp = await client.get("/api/v1/promoter/me", headers=auth(token))
    data = await resp.json()
    assert resp.status == 200 and data["is_promoter"] and data["share_scene"] == f"r={me['id']}"
    # given two invitees, one of whom has bought, and a level-2 invitee
    buyer = await make_user(nickname="张三丰")
    idle = await make_user(nickname="李四")
    await bind(buyer, me["id"])
    await bind(idle, me["id"])
    grandchild = await make_user()
    await bind(grandchild, buyer)
    await paid_order(rt, buyer, [(10_000, 1)])
    resp = await client.get("/api/v1/promoter/team?level=1", headers=auth(token))
    team = await resp.json()
    assert resp.status == 200 and team["total"] == 2
    by_id = {m["user_id"]: m for m in team["items"]}
    assert by_id[buyer.id]["nickname"] == "张**" and by_id[buyer.id]["has_bought"]
    assert not by_id[idle.id]["has_bought"]
    team2 = await (await client.get("/api/v1/promoter/team?level=2", headers=auth(token))).json()
    assert [m["user_id"] for m in team2["items"]] == [grandchild.id]
    recs = await (await client.get("/api/v1/promoter/commissions", headers=auth(token))).json()
    assert recs["total"] == 1 and recs["items"][0]["status"] == "pending" and recs["items"][0]["amount_fen"] == 1000
    wallet = await (await client.get("/api/v1/promoter/wallet", headers=auth(token))).json()
    assert wallet["pending_fen"] == 1000 and not wallet["can_withdraw"]


async def test_withdraw_confirm_and_history(client, rt):
    token, me = await login(client, code="w1")
    await fund(rt, me["id"], 5_000)
    resp = await client.post("/api/v1/promoter/withdrawals", headers=keyed(token), json={"amount_fen": 2_000})
    w = await resp.json()
    assert resp.status == 201, w
    assert w["status"] == "paying" and w["package_info"]
    resp = await client.post(f"/sandbox/pay/transfers/{w['out_bill_no']}/confirm", json={})
    assert resp.status == 200
    got = await (await client.get(f"/api/v1/promoter/withdrawals/{w['id']}", headers=auth(token))).json()
    assert got["status"] == "paid" and got["package_info"] is None
    hist = await (await client.get("/api/v1/promoter/withdrawals", headers=auth(token))).json()
    assert [x["id"] for x in hist["items"]] == [w["id"]]


@pytest.mark.parametrize("body,status,field", [
    ({"amount_fen": 50}, 422, "amount_fen"),
    ({"amount_fen": 10.5}, 422, "amount_fen"),
    ({"amount_fen": "100"}, 422, "amount_fen"),
    ({"amount_fen": 1_001}, 409, "amount_fen"),
    ({}, 422, "amount_fen"),
])
async def test_bad_withdrawals_are_refused_in_chinese(client, rt, body, status, field):
    token, me = await login(client, code="w2")
    await fund(rt, me["id"], 1_000)
    resp = await client.post("/api/v1/promoter/withdrawals", headers=keyed(token), json=body)
    data = await resp.json()
    assert resp.status == status, data
    assert data["details"].get("field") == field
    assert any("\u4e00" <= ch <= "\u9fff" for ch in data["message"])
    assert await Withdrawal.all().count() == 0
    assert (await get_balances(me["id"])).available == 1_000


async def test_withdrawal_during_debt_is_refused(client, rt):
    from tests.services.commission.helpers import refund
    token, me = await login(client, code="w3")
    order = await fund(rt, me["id"], 1_000)
    await set_settings(withdraw_auto_approve_fen=0)
    resp = await client.post("/api/v1/promoter/withdrawals", headers=keyed(token), json={"amount_fen": 1_000})
    assert resp.status == 201
    await refund(rt, order)
    await fund(rt, me["id"], 300)
    resp = await client.post("/api/v1/promoter/withdrawals", headers=keyed(token), json={"amount_fen": 100})
    data = await resp.json()
    assert resp.status == 409 and data["error"] == "wallet_in_debt"


async def test_someone_elses_withdrawal_is_not_found(client, rt):
    token, me = await login(client, code="w4")
    await fund(rt, me["id"], 1_000)
    w = await (await client.post("/api/v1/promoter/withdrawals", headers=keyed(token),
                                 json={"amount_fen": 500})).json()
    other = await make_user()
    resp = await client.get(f"/api/v1/promoter/withdrawals/{w['id']}", headers=auth(token_for(other)))
    assert resp.status == 404


async def test_transfer_notify_with_bad_signature_changes_nothing(client, rt):
    token, me = await login(client, code="w5")
    await fund(rt, me["id"], 1_000)
    w = await (await client.post("/api/v1/promoter/withdrawals", headers=keyed(token),
                                 json={"amount_fen": 500})).json()
    resp = await client.post("/api/v1/pay/transfer-notify", data=b'{"resource": {}}', headers={
        "Wechatpay-Signature": "bad", "Wechatpay-Timestamp": "1", "Wechatpay-Nonce": "n",
        "Wechatpay-Serial": "x", "Content-Type": "application/json"})
    assert resp.status == 401 and (await resp.json())["code"] == "FAIL"
    assert (await Withdrawal.get(id=w["id"])).status == "paying"
    assert await verify_ledger() == []


async def test_apply_in_approved_mode(client):
    await set_settings(promote_mode="approved")
    token, _ = await login(client, code="w6")
    resp = await client.post("/api/v1/promoter/apply", headers=auth(token), json={"real_name": "王五"})
    data = await resp.json()
    assert resp.status == 201 and data["status"] == "applied" and not data["is_promoter"]
    resp = await client.post("/api/v1/promoter/apply", headers=auth(token), json={})
    assert resp.status == 409


async def test_bind_endpoint(client):
    _, sharer = await login(client, code="s1")
    token, me = await login(client, code="s2")
    resp = await client.post("/api/v1/referrals/bind", headers=auth(token), json={"scene": f"r={sharer['id']}"})
    data = await resp.json()
    assert resp.status == 200 and data["bound"] and data["promoter_id"] == sharer["id"]
