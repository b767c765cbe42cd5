"""Pickup rules below the edges: nearest points (consent, bounding box), the robot rate limit,
the parsers of chat arguments, leader application decisions, and verification races."""

from __future__ import annotations

import asyncio
import time

import pytest
from hypothesis import event, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from huituan.bot.commands import normalize, resolve, split_command
from huituan.bot.commands.format import parse_yuan
from huituan.core.errors import ValidationFailed
from huituan.models.leader import Leader, LeaderStatus, PickupPoint, PickupTicket
from huituan.models.order import Order, OrderStatus
from huituan.services.pickup.arrival import normalize_code, verify_pickup
from huituan.services.pickup.pushes import robot_slot, split_markdown
from huituan.services.pickup.tickets import parse_cutoff, point_day
from tests.factories import auth, create_order, login, make_product, make_user, pay_order


async def _point(name: str, lat: float, lng: float, status=LeaderStatus.approved) -> PickupPoint:
    user = await make_user()
    leader = await Leader.create(user_id=user.id, name=name, phone="13900000000", status=status)
    return await PickupPoint.create(leader_id=leader.id, name=name, province="浙江省", city="杭州市",
                                    address="x", latitude=lat, longitude=lng)


async def test_nearest_points_need_consent_and_come_nearest_first(client):
    await _point("远", 30.30, 120.10)     # ~3.4 km
    await _point("近", 30.2705, 120.1305)  # ~70 m
    await _point("中", 30.28, 120.14)     # ~1.5 km
    await _point("太远", 31.5, 121.5)     # outside 10 km
    await _point("待审核", 30.27, 120.13, status=LeaderStatus.pending)
    q = {"latitude": "30.27", "longitude": "120.13"}
    resp = await client.get("/api/v1/pickup-points/nearby", params=q)
    assert resp.status == 422 and (await resp.json())["details"]["field"] == "consent"
    resp = await client.get("/api/v1/pickup-points/nearby", params={**q, "consent": "true"})
    data = await resp.json()
    assert resp.status == 200, data
    assert [p["name"] for p in data["items"]] == ["近", "中", "远"]
    assert data["items"][0]["distance_m"] < 100


async def test_default_point_from_a_share_does_not_override_a_choice(client):
    a, b = await _point("甲", 30.0, 120.0), await _point("乙", 30.1, 120.1)
    token, _ = await login(client, "c-1")
    put = lambda pid, src: client.put("/api/v1/me/pickup-point", headers=auth(token),  # noqa: E731
                                      json={"pickup_point_id": pid, "source": src})
    assert (await (await put(a.id, "share")).json())["pickup_point"]["name"] == "甲"
    assert (await (await put(b.id, "share")).json())["pickup_point"]["name"] == "甲"
    assert (await (await put(b.id, "chosen")).json())["pickup_point"]["name"] == "乙"


async def test_a_leader_share_sets_the_default_point_at_login(client):
    a, b = await _point("甲", 30.0, 120.0), await _point("乙", 30.1, 120.1)
    token, _ = await login(client, "c-share", scene=f"pp={a.id}&r=1")
    me = await (await client.get("/api/v1/me/pickup-point", headers=auth(token))).json()
    assert me["pickup_point"]["name"] == "甲" and me["leader_id"] == a.leader_id
    await login(client, "c-share", scene=f"pp={b.id}")  # a later share does not take over
    me = await (await client.get("/api/v1/me/pickup-point", headers=auth(token))).json()
    assert me["pickup_point"]["name"] == "甲"


async def test_application_rejected_with_reason_then_reapplied(client):
    from tests.miniapp_api.admin.conftest import operator_headers

    admin = await operator_headers(client)
    token, _ = await login(client, "applicant")
    form = {"name": "孙团长", "phone": "13900000009", "point_name": "花园", "province": "浙江省", "city": "杭州市",
            "address": "花园路 1 号", "latitude": 30.1, "longitude": 120.1}
    resp = await client.post("/api/v1/leader/apply", headers=auth(token), json=form)
    leader = await resp.json()
    assert resp.status == 201 and leader["status"] == "pending"
    assert (await client.post("/api/v1/leader/apply", headers=auth(token), json=form)).status == 409
    # a pending leader's point is not offered to buyers
    assert (await (await client.get("/api/v1/pickup-points")).json())["items"] == []
    resp = await client.post(f"/api/admin/v1/leaders/{leader['id']}/reject", headers=admin, json={"reason": "资料不全"})
    assert resp.status == 200 and (await resp.json())["reject_reason"] == "资料不全"
    me = await (await client.get("/api/v1/leader/me", headers=auth(token))).json()
    assert me["status"] == "rejected" and me["reject_reason"] == "资料不全"
    assert (await client.post("/api/v1/leader/wecom-bind-code", headers=auth(token))).status == 403
    resp = await client.post("/api/v1/leader/apply", headers=auth(token), json={**form, "point_name": "花园二期"})
    assert resp.status == 201 and (await resp.json())["status"] == "pending"
    assert (await PickupPoint.get(leader_id=leader["id"])).name == "花园二期"


async def test_robot_rate_limit_is_20_a_minute_per_robot(rt):
    now = int(time.time() * 1000)
    waits = [await robot_slot(rt.redis, "sandbox-robot-a", 20, now + i) for i in range(25)]
    assert waits[:20] == [0] * 20 and all(w > 59_000 for w in waits[20:])
    assert await robot_slot(rt.redis, "sandbox-robot-b", 20, now + 30) == 0  # per robot
    assert await robot_slot(rt.redis, "sandbox-robot-a", 20, now + 60_001) == 0  # the window moved


def test_long_lists_split_under_the_robot_limit():
    parts = split_markdown("### 标题", [f"> {i}. 商品名称很长很长很长" * 3 for i in range(300)])
    assert len(parts) > 1 and all(len(p.encode()) <= 4000 for p in parts)
    assert sum(p.count("\n> ") for p in parts) == 300


def test_point_day_follows_the_cutoff():
    from datetime import datetime

    from huituan.core.clock import CHINA_TZ

    before = datetime(2026, 12, 1, 21, 59, tzinfo=CHINA_TZ)
    after = datetime(2026, 12, 1, 22, 0, tzinfo=CHINA_TZ)
    assert point_day("22:00", before) == "2026-12-01"
    assert point_day("22:00", after) == "2026-12-02"


@hsettings(max_examples=300, deadline=None)
@given(st.text(max_size=12))
def test_cutoff_parser_accepts_only_real_times(text):
    try:
        hhmm = parse_cutoff(text)
    except ValidationFailed as err:
        event("refused")
        assert "截单时间" in err.message
        return
    event("accepted")
    h, m = hhmm.split(":")
    assert len(hhmm) == 5 and 0 <= int(h) <= 23 and 0 <= int(m) <= 59


@hsettings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=10), st.integers(0, 10**8).map(str),
                 st.decimals(0, 10**6, places=2, allow_nan=False).map(str)))
def test_amount_parser_gives_positive_fen_or_a_chinese_reason(text):
    try:
        fen = parse_yuan(text)
    except ValidationFailed as err:
        event("refused")
        assert err.details.get("field") == "amount" and "金额" in err.message or "大于 0" in err.message
        return
    event("accepted")
    assert isinstance(fen, int) and fen > 0


@hsettings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_command_reading_never_fails(text):
    head, args = split_command(text)
    key, args2 = resolve(text)
    assert "\u3000" not in normalize(text)
    try:
        code = normalize_code(text)
        assert code.isdigit()
    except ValidationFailed:
        pass


@pytest.mark.postgres
async def test_two_verifications_at_once_complete_the_order_once(client, rt):
    """Leader and staff scan the same code at the same moment: one wins, the other is told
    when and by whom; the order completes once (one ORDER_COMPLETED, one commission clock)."""
    token, leader = await login(client, "leader-race")
    ldr = await Leader.create(user_id=leader["id"], name="周团长", phone="13900000000", status=LeaderStatus.approved)
    point = await PickupPoint.create(leader_id=ldr.id, name="点", province="浙江省", city="杭州市", address="x",
                                     cutoff_time="23:59")
    staff_token, staff = await login(client, "staff-race")
    await client.post("/api/v1/leader/staff", headers=auth(token), json={"user_id": staff["id"], "name": "店员"})
    resp = await client.post(f"/api/v1/me/staff-invitations/{ldr.id}/accept", headers=auth(staff_token))
    assert resp.status == 200, await resp.text()
    product = await make_product()
    raced = 0
    for i in range(6):
        ctoken, _ = await login(client, f"race-{i}")
        order = await create_order(client, ctoken, [(product.sku_list[0], 1)], delivery_mode="pickup",
                                   pickup_point_id=point.id)
        await pay_order(client, ctoken, order["id"])
        code = (await PickupTicket.get(order_id=order["id"])).code
        results = await asyncio.gather(verify_pickup(leader["id"], code, "周团长", redis=rt.redis),
                                       verify_pickup(staff["id"], code, "店员", redis=rt.redis), return_exceptions=True)
        wins = [r for r in results if isinstance(r, dict)]
        losses = [r for r in results if not isinstance(r, dict)]
        assert len(wins) == 1 and len(losses) == 1, results
        assert "不能重复核销" in losses[0].message
        raced += losses[0].code == "pickup_already_verified"
        assert (await Order.get(id=order["id"])).status == OrderStatus.completed
    assert raced == 6


@hsettings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=20), min_size=1, max_size=4))
def test_csv_cells_never_run_as_formulas_and_read_back(cells):
    import csv
    import io

    from huituan.services.pickup.day import _csv

    text = _csv([cells])
    assert text.startswith("\ufeff")
    back = next(csv.reader(io.StringIO(text[1:], newline="")))
    starts = ("=", "+", "-", "@", "\t", "\r")  # also after leading whitespace (session 7)
    for written, read in zip(cells, back, strict=True):
        if written[:1] in starts or written.lstrip()[:1] in starts:
            event("formula neutralised")
            assert read == "'" + written
        else:
            assert read == written


@hsettings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=40), st.integers(-5, 2**63).map(lambda n: f"pp={n}&r=1")))
def test_share_scene_gives_a_point_id_or_nothing(scene):
    from huituan.services.pickup_points import parse_point_scene

    got = parse_point_scene(scene)
    event("point" if got else "none")
    assert got is None or 0 < got < 2**62


async def test_leader_commission_stays_under_the_platform_cap(client):
    from huituan.models.commission import CommissionRecord, DistributionSettings
    from huituan.services.distribution_settings import get_settings
    from huituan.services.leader_store import set_product_rate

    point = await _point("封顶", 30.0, 120.0)
    await PickupPoint.filter(id=point.id).update(cutoff_time="23:59")
    product = await make_product(skus=[{"price_fen": 999}])
    await set_product_rate(product.id, 3000)
    await get_settings()
    await DistributionSettings.filter(id=1).update(commission_cap_bp=1000)
    from huituan.services.distribution_settings import invalidate_cache

    invalidate_cache()  # the test changes the row behind the cache
    token, _ = await login(client, "c-cap")
    order = await create_order(client, token, [(product.sku_list[0], 3)], delivery_mode="pickup",
                               pickup_point_id=point.id)
    await pay_order(client, token, order["id"])
    (rec,) = await CommissionRecord.filter(level=0)
    assert rec.amount_fen == 299  # 30 % would be 899; the cap is floor(10 % of 2997)


async def test_store_poster_data_for_the_poster_kind(client):
    from huituan.services.leader_store import store_poster_data

    point = await _point("海报点", 30.0, 120.0)
    await make_product(title="樱桃", main_image="https://img.test/cherry.jpg")
    data = await store_poster_data(point.leader_id)
    assert data["pickup_point_name"] == "海报点" and data["on_sale"] is True
    assert data["image_url"] == "https://img.test/cherry.jpg"
    assert await store_poster_data(987654) is None


async def test_a_leader_who_is_also_the_promoter_earns_once_per_line(client):
    from huituan.models.commission import CommissionRecord

    point = await _point("推手团长", 30.0, 120.0)
    await PickupPoint.filter(id=point.id).update(cutoff_time="23:59")
    leader_user_id = (await Leader.get(id=point.leader_id)).user_id
    product = await make_product(skus=[{"price_fen": 1000}])
    token, _ = await login(client, "c-promoted", scene=f"r={leader_user_id}")
    order = await create_order(client, token, [(product.sku_list[0], 1)], delivery_mode="pickup",
                               pickup_point_id=point.id)
    await pay_order(client, token, order["id"])
    recs = await CommissionRecord.filter(order_id=order["id"], beneficiary_id=leader_user_id)
    assert [r.level for r in recs] == [1]  # the promoter commission, not a second leader record


async def test_leader_store_poster_is_served(client):
    point = await _point("海报小店", 30.0, 120.0)
    await make_product(title="樱桃")
    token, _ = await login(client, "poster-viewer")
    resp = await client.get("/api/v1/posters/leader_store", headers=auth(token), params={"target": str(point.leader_id)})
    assert resp.status == 200, await resp.text()
    assert resp.content_type.startswith("image/")


@pytest.mark.postgres
async def test_a_shortage_never_refunds_an_order_picked_up_at_the_same_moment(client, rt):
    """Attacker pass, session 8: the report read the waiting orders, a pickup completed one of
    them, and the report's refund then took the completed order's money back (the customer kept
    the goods and the money). The refund now moves only from a status where the goods still
    wait; whichever comes first wins, and the loser says so."""
    from huituan.core.errors import HuituanError
    from huituan.models.order import Refund
    from huituan.services.pickup import shortage

    token, leader = await login(client, "leader-short-race")
    ldr = await Leader.create(user_id=leader["id"], name="郑团长", phone="13900000000", status=LeaderStatus.approved)
    point = await PickupPoint.create(leader_id=ldr.id, name="点", province="浙江省", city="杭州市", address="x",
                                     cutoff_time="23:59")
    product = await make_product(skus=[{"price_fen": 1000, "stock": 1000}])
    outcomes = {"verified_first": 0, "refunded_first": 0}
    for round_ in range(6):
        orders = []
        for i in range(3):
            ctoken, _ = await login(client, f"short-race-{round_}-{i}")
            order = await create_order(client, ctoken, [(product.sku_list[0], 1)], delivery_mode="pickup",
                                       pickup_point_id=point.id)
            await pay_order(client, ctoken, order["id"])
            orders.append(order["id"])
        codes = [(await PickupTicket.get(order_id=oid)).code for oid in orders]
        async def pick_up(code: str, delay: float):
            await asyncio.sleep(delay)  # later each round: the report's refunds land first sometimes
            return await verify_pickup(leader["id"], code, "郑团长", redis=rt.redis)

        results = await asyncio.gather(
            shortage.report_shortage(rt, leader["id"], product.id, 3),
            *[pick_up(code, round_ * round_ * 0.004 * (i + 1)) for i, code in enumerate(codes)],
            return_exceptions=True)
        assert not any(isinstance(r, Exception) and not isinstance(r, HuituanError) for r in results), results
        for oid in orders:
            order = await Order.get(id=oid)
            verified = (await PickupTicket.get(order_id=oid)).verified_at is not None
            refunds = await Refund.filter(order_id=oid).count()
            assert not (verified and refunds), (round_, oid, order.status)  # never both
            outcomes["verified_first" if verified else "refunded_first"] += 1
        await Refund.filter(order_id__in=orders).delete()  # next round: no open refunds in the way
        await Order.filter(id__in=orders).update(status=OrderStatus.completed)
    # Both orders of events happened: the race was run, not one side every time.
    assert outcomes["verified_first"] and outcomes["refunded_first"], outcomes


@pytest.mark.postgres
async def test_pickups_during_the_arrival_announcement_never_deadlock(client, rt):
    """Attacker pass, session 8: 核销 locked ticket then order, 到货 order then ticket; at once
    they deadlocked on PostgreSQL (a 500 for one side). Both take the order first now."""
    from huituan.core.errors import HuituanError
    from huituan.services.pickup.arrival import announce_arrival

    token, leader = await login(client, "leader-arrive-race")
    ldr = await Leader.create(user_id=leader["id"], name="吴团长", phone="13900000000", status=LeaderStatus.approved)
    point = await PickupPoint.create(leader_id=ldr.id, name="点", province="浙江省", city="杭州市", address="x",
                                     cutoff_time="23:59")
    product = await make_product(skus=[{"price_fen": 500, "stock": 1000}])
    moved = verified = 0
    for round_ in range(5):
        codes, day = [], None
        for i in range(6):
            ctoken, _ = await login(client, f"arrive-race-{round_}-{i}")
            order = await create_order(client, ctoken, [(product.sku_list[0], 1)], delivery_mode="pickup",
                                       pickup_point_id=point.id)
            await pay_order(client, ctoken, order["id"])
            ticket = await PickupTicket.get(order_id=order["id"])
            codes.append(ticket.code)
            day = ticket.day
        async def pick_up(code: str, delay: float):
            await asyncio.sleep(delay)  # later each round: the announcement gets to some orders first
            return await verify_pickup(leader["id"], code, "吴团长", redis=rt.redis)

        results = await asyncio.gather(announce_arrival(leader["id"], day),
                                       *[pick_up(c, round_ * round_ * 0.003 * (i + 1)) for i, c in enumerate(codes)],
                                       return_exceptions=True)
        unexpected = [r for r in results if isinstance(r, Exception) and not isinstance(r, HuituanError)]
        assert not unexpected, unexpected
        moved += results[0]["orders"] if isinstance(results[0], dict) else 0
        verified += sum(isinstance(r, dict) and "order_no" in r for r in results[1:])
    assert moved and verified, (moved, verified)  # both sides acted on the same orders' rows
