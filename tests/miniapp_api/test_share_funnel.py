"""The share funnel after a scripted sequence: 2 opens, 1 new user, 1 bind, 2 orders of which
1 refunded; counted per code, per channel and in the 7/30-day summary. The older ``r=`` scene
keeps binding; the material library hands out the promoter's own code."""

from __future__ import annotations

import pytest

from huituan.models.referral import ReferralBinding
from tests.factories import auth, login, make_product, make_user, token_for
from tests.miniapp_api.admin.conftest import operator_headers
from tests.services.commission.helpers import paid_order, refund


@pytest.fixture
def settings(make_settings):
    return make_settings(poster_render_mode="thread", poster_request_cache_seconds=0)


async def test_funnel_counts_after_the_scripted_sequence(client, rt):
    promoter = await make_user(nickname="推手小惠")
    product = await make_product()
    resp = await client.get(f"/api/v1/posters/product?target={product.id}", headers=auth(token_for(promoter)))
    assert resp.status == 200
    code = resp.headers["X-Share-Code"]

    # 1st open: someone not logged in yet
    first = await (await client.get(f"/api/v1/share/{code}")).json()
    assert first["bind"] is None and first["sharer"]["nickname"] == "推手小惠"
    # they log in with the scene: a new user, bound to the promoter
    token, user = await login(client, code="funnel-new-user", scene=code)
    assert (await ReferralBinding.get(user_id=user["id"])).promoter_id == promoter.id
    # 2nd open: the same person, now logged in; already bound, so no second bind
    second = await (await client.get(f"/api/v1/share/{code}", headers=auth(token))).json()
    assert second["bind"] == {"bound": False, "action": "skipped", "reason": "already_bound"}
    # two orders, one of them refunded in full
    kept = await paid_order(rt, user["id"], [(10_000, 1)])
    gone = await paid_order(rt, user["id"], [(20_000, 2)])
    await refund(rt, gone)
    # an order of someone bound by another way is not this code's
    other = await make_user()
    await ReferralBinding.create(user_id=other.id, promoter_id=promoter.id, status="active", scene="r=1",
                                 bound_at=kept.created_at)
    await paid_order(rt, other, [(5_000, 1)])

    resp = await client.get("/api/v1/promoter/shares", headers=auth(token_for(promoter)))
    data = await resp.json()
    assert resp.status == 200, data
    expected = {"opens": 2, "new_users": 1, "binds": 1, "orders": 2, "refunded_orders": 1,
                "paid_fen": 10_000, "commission_fen": 1_000}  # 10 % level 1 of the kept order
    [row] = data["codes"]
    assert row["code"] == code and row["target"] == {"kind": "product", "id": product.id}
    assert {k: row[k] for k in expected} == expected
    channels = {c["channel"]: c for c in data["channels"]}
    assert {k: channels["poster"][k] for k in expected} == expected
    assert channels["moments"]["opens"] == 0 and channels["link"]["orders"] == 0
    for window in ("total", "last_7_days", "last_30_days"):
        assert {k: data["summary"][window][k] for k in expected} == expected


async def test_the_older_r_scene_still_binds(client):
    promoter = await make_user()
    _, user = await login(client, code="old-style", scene=f"r={promoter.id}")
    assert (await ReferralBinding.get(user_id=user["id"])).promoter_id == promoter.id
    later = await make_user()
    resp = await client.post("/api/v1/referrals/bind", json={"scene": f"r={promoter.id}"}, headers=auth(token_for(later)))
    assert (await resp.json())["bound"] is True


async def test_bind_endpoint_takes_a_share_code_scene(client):
    promoter = await make_user()
    product = await make_product()
    resp = await client.get(f"/api/v1/posters/product?target={product.id}", headers=auth(token_for(promoter)))
    code = resp.headers["X-Share-Code"]
    viewer = await make_user()
    resp = await client.post("/api/v1/referrals/bind", json={"scene": code}, headers=auth(token_for(viewer)))
    assert (await resp.json())["bound"] is True
    shares = await (await client.get("/api/v1/promoter/shares", headers=auth(token_for(promoter)))).json()
    assert shares["codes"][0]["binds"] == 1


async def test_material_library_fills_in_the_promoters_own_code(client):
    admin = await operator_headers(client)
    product = await make_product(title="五常大米")
    resp = await client.post("/api/admin/v1/share-materials", headers=admin, json={
        "product_id": product.id, "title": "大米文案", "texts": ["新米到了！扫码下单 {url}", "分享码 {code}"],
        "images": ["https://img.test/rice.jpg"]})
    assert resp.status == 201, await resp.text()
    bad = await client.post("/api/admin/v1/share-materials", headers=admin, json={"texts": ["x"]})
    assert bad.status == 422 and (await bad.json())["details"]["field"] == "product_id"
    bad = await client.post("/api/admin/v1/share-materials", headers=admin,
                            json={"product_id": product.id, "images": ["ftp://x"]})
    assert bad.status == 422 and (await bad.json())["details"]["field"] == "images.0"
    promoter = await make_user()
    resp = await client.get(f"/api/v1/promoter/materials?product_id={product.id}", headers=auth(token_for(promoter)))
    data = await resp.json()
    assert resp.status == 200, data
    code = data["share_code"]
    assert data["items"][0]["texts"] == [f"新米到了！扫码下单 {data['share_url']}", f"分享码 {code}"]
    assert data["share_url"].endswith(f"?s={code}")
    assert data["poster_url"] == f"/api/v1/posters/product?target={product.id}"
    share = await (await client.get(f"/api/v1/share/{code}")).json()
    assert share["channel"] == "moments" and share["sharer"]["id"] == promoter.id
    resp = await client.get("/api/v1/promoter/materials?product_id=999999", headers=auth(token_for(promoter)))
    assert resp.status == 404 and (await resp.json())["details"]["field"] == "product_id"
    resp = await client.get("/api/v1/promoter/materials", headers=auth(token_for(promoter)))
    assert resp.status == 422 and (await resp.json())["details"]["field"] == "product_id"
