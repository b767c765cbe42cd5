"""The leader centre over HTTP: store switches (and what they do to commission), the day as
CSV, arrival, damage reports, who may act at a point."""

from __future__ import annotations

from huituan.models.commission import CommissionRecord
from huituan.models.leader import PickupPoint
from huituan.models.order import Refund
from tests.bot.wecom_helpers import POINT_FORM, apply_leader
from tests.factories import auth, create_order, login, make_product, pay_order
from tests.miniapp_api.admin.conftest import operator_headers


async def test_leader_centre_over_http(client):
    admin = await operator_headers(client)
    token, leader = await apply_leader(client, "l-http", "李团长", "13900000011", "桂花园", "桂花路 1 号", 30.2, 120.2)
    # a pending leader may not act yet
    assert (await client.get("/api/v1/leader/day", headers=auth(token))).status == 403
    assert (await client.post(f"/api/admin/v1/leaders/{leader['id']}/approve", headers=admin)).status == 200
    point = await PickupPoint.get(leader_id=leader["id"])
    await PickupPoint.filter(id=point.id).update(cutoff_time="23:59")
    apples = await make_product(title="苹果", skus=[{"price_fen": 2000, "name": "5斤"}])
    pears = await make_product(title="梨", skus=[{"price_fen": 1000, "name": "3斤"}])
    # the leader switches pears off: not in the store, no leader commission on them
    resp = await client.put(f"/api/v1/leader/store/products/{pears.id}", headers=auth(token), json={"enabled": False})
    assert resp.status == 200 and {i["title"]: i["enabled"] for i in (await resp.json())["items"]}["梨"] is False
    store = await (await client.get(f"/api/v1/leaders/{leader['id']}/store")).json()
    assert [i["title"] for i in store["items"]] == ["苹果"]

    ctoken, _ = await login(client, "c-http")
    order = await create_order(client, ctoken, [(apples.sku_list[0], 2), (pears.sku_list[0], 1)],
                               delivery_mode="pickup", pickup_point_id=point.id)
    await pay_order(client, ctoken, order["id"])
    recs = await CommissionRecord.filter(level=0)
    assert [(r.product_id, r.amount_fen) for r in recs] == [(apples.id, 200)]  # 5 % of 4000; pears off
    codes = await (await client.get("/api/v1/me/pickup-codes", headers=auth(ctoken))).json()
    assert codes["items"][0]["qr_text"] == "huituan:pickup:" + codes["items"][0]["code"]
    day = codes["items"][0]["day"]

    csv_text = await (await client.get("/api/v1/leader/day/summary.csv", headers=auth(token),
                                       params={"day": day})).text()
    assert csv_text.startswith("\ufeff商品,规格,数量") and "苹果,5斤,2,40.00" in csv_text
    # another user is not the leader of this point
    stranger, _ = await login(client, "stranger")
    assert (await client.post("/api/v1/leader/verify", headers=auth(stranger),
                              json={"code": codes["items"][0]["code"]})).status == 403
    resp = await client.post("/api/v1/leader/arrival", headers=auth(token), json={"day": day})
    assert (await resp.json())["consumers"] == 1
    resp = await client.post("/api/v1/leader/shortages", headers=auth(token),
                             json={"product_id": apples.id, "quantity": 1, "kind": "damage", "note": "压坏了"})
    report = await resp.json()
    assert resp.status == 201, report
    assert report["refunded_fen"] == 2000 and report["refunds"][0]["quantity"] == 1
    assert (await Refund.get()).amount_fen == 2000
    listed = await (await client.get("/api/admin/v1/shortage-reports", headers=admin)).json()
    assert listed["total"] == 1 and listed["items"][0]["kind"] == "damage" and listed["items"][0]["note"] == "压坏了"


async def test_a_leader_cannot_be_made_someone_elses_staff_and_acts_on_their_own_point(client):
    """Attacker pass, session 7: leader 1 added leader 2 as staff; leader 2's day and 到货 then
    went to leader 1's point (the lowest id among own and staff points)."""
    from huituan.core.clock import utcnow
    from huituan.models.leader import Leader, LeaderStaff

    admin = await operator_headers(client)
    t1, l1 = await apply_leader(client, "l-one", "李团长", "13900000021", "桂花园", "桂花路 1 号", 30.2, 120.2)
    t2, l2 = await apply_leader(client, "l-two", "王团长", "13900000022", "梅园", "梅花路 2 号", 30.3, 120.3)
    for leader in (l1, l2):
        assert (await client.post(f"/api/admin/v1/leaders/{leader['id']}/approve", headers=admin)).status == 200
    two = await Leader.get(id=l2["id"])
    one = await Leader.get(id=l1["id"])
    for user_id, code in ((two.user_id, "staff_is_a_leader"), (one.user_id, "validation_error")):
        resp = await client.post("/api/v1/leader/staff", headers=auth(t1), json={"user_id": user_id, "name": "x"})
        answer = await resp.json()
        assert resp.status in (409, 422) and answer["error"] == code and answer["details"]["field"] == "user_id", answer
    assert await LeaderStaff.all().count() == 0
    # Even if a leader serves another store as staff (added before they applied), their own comes first.
    await LeaderStaff.create(leader_id=one.id, user_id=two.user_id, name="早先的店员", accepted_at=utcnow())
    day = await (await client.get("/api/v1/leader/day", headers=auth(t2))).json()
    assert day["pickup_point_id"] == (await PickupPoint.get(leader_id=two.id)).id, day
    other = (await PickupPoint.get(leader_id=one.id)).id
    named = await client.get("/api/v1/leader/day", headers=auth(t2), params={"pickup_point_id": other})
    assert named.status == 200 and (await named.json())["pickup_point_id"] == other  # naming it is how they act there


async def test_guessing_pickup_codes_is_stopped(client):
    """Attacker pass, session 7: 60 random codes in a row, no limit; a customer's code is what
    collects the goods. Past 20 wrong codes in 10 minutes the actor is refused, the right code
    included, until the window ends."""
    from huituan.services.pickup.arrival import VERIFY_MISSES_MAX

    admin = await operator_headers(client)
    token, leader = await apply_leader(client, "l-guess", "钱团长", "13900000041", "菊园", "菊路 4 号", 30.4, 120.4)
    assert (await client.post(f"/api/admin/v1/leaders/{leader['id']}/approve", headers=admin)).status == 200
    point = await PickupPoint.get(leader_id=leader["id"])
    await PickupPoint.filter(id=point.id).update(cutoff_time="23:59")
    product = await make_product()
    ctoken, _ = await login(client, "c-guess")
    order = await create_order(client, ctoken, [(product.sku_list[0], 1)], delivery_mode="pickup",
                               pickup_point_id=point.id)
    await pay_order(client, ctoken, order["id"])
    codes = await (await client.get("/api/v1/me/pickup-codes", headers=auth(ctoken))).json()
    right = codes["items"][0]["code"]
    wrong = [f"{(int(right) + 1 + i) % 10**8:08d}" for i in range(VERIFY_MISSES_MAX)]
    for code in wrong:
        resp = await client.post("/api/v1/leader/verify", headers=auth(token), json={"code": code})
        assert resp.status == 404, await resp.json()
    resp = await client.post("/api/v1/leader/verify", headers=auth(token), json={"code": right})
    answer = await resp.json()
    assert resp.status == 429 and answer["error"] == "pickup_verify_throttled" and answer["details"]["field"] == "code"
    assert "分钟后再试" in answer["message"]
    # The limit is the actor's: the customer's order is still there to collect.
    from huituan.models.order import Order

    assert (await Order.get(id=order["id"])).status != "completed"


async def test_a_shortage_of_a_product_not_waiting_at_the_point_names_the_product(client):
    admin = await operator_headers(client)
    token, leader = await apply_leader(client, "l-short", "孙团长", "13900000051", "兰园", "兰路 5 号", 30.5, 120.5)
    assert (await client.post(f"/api/admin/v1/leaders/{leader['id']}/approve", headers=admin)).status == 200
    resp = await client.post("/api/v1/leader/shortages", headers=auth(token), json={"product_id": 999999, "quantity": 1})
    answer = await resp.json()
    assert resp.status == 422 and answer["details"]["field"] == "product_id", answer  # it blamed quantity


async def test_concurrent_shortage_reports_at_one_point_make_one_report(client):
    """A double tap (or the bot and the mini-program at once) made two reports from the same
    waiting units; the second was stored with every refund failed. One report runs at a time
    per point: the others are 409 shortage_in_progress, and a report after it sees what is left."""
    import asyncio

    from huituan.models.leader import ShortageReport

    admin = await operator_headers(client)
    token, leader = await apply_leader(client, "l-twice", "钱团长", "13900000061", "竹园", "竹路 6 号", 30.6, 120.6)
    assert (await client.post(f"/api/admin/v1/leaders/{leader['id']}/approve", headers=admin)).status == 200
    point = await PickupPoint.get(leader_id=leader["id"])
    await PickupPoint.filter(id=point.id).update(cutoff_time="23:59")
    melons = await make_product(title="西瓜", skus=[{"price_fen": 3000, "name": "1个"}])
    for i in range(3):
        ctoken, _ = await login(client, f"c-twice-{i}")
        order = await create_order(client, ctoken, [(melons.sku_list[0], 1)], delivery_mode="pickup",
                                   pickup_point_id=point.id)
        await pay_order(client, ctoken, order["id"])

    async def report():
        resp = await client.post("/api/v1/leader/shortages", headers=auth(token),
                                 json={"product_id": melons.id, "quantity": 1})
        return resp.status, await resp.json()

    answers = await asyncio.gather(*[report() for _ in range(6)])
    statuses = sorted(status for status, _ in answers)
    assert statuses == [201] + [409] * 5, answers
    assert all(body["error"] == "shortage_in_progress" for status, body in answers if status == 409)
    [done] = [body for status, body in answers if status == 201]
    assert done["refunded_quantity"] == 1 and done["failed"] == []
    assert await ShortageReport.all().count() == 1 and await Refund.all().count() == 1
    # The lock is gone with the report: the next one runs, from the two units still waiting.
    status, again = await report()
    assert status == 201 and again["refunded_quantity"] == 1 and again["failed"] == [], again
    resp = await client.post("/api/v1/leader/shortages", headers=auth(token),
                             json={"product_id": melons.id, "quantity": 2})
    assert resp.status == 422 and (await resp.json())["details"]["available"] == 1


async def test_staff_act_only_after_accepting_the_invitation(client):
    """A leader invites; the user accepts (or declines, or later leaves) in the mini-program.
    Until then they have no powers at the store; nothing is accepted on anyone's behalf."""
    admin = await operator_headers(client)
    token, leader = await apply_leader(client, "l-invite", "周团长", "13900000071", "松园", "松路 7 号", 30.7, 120.7)
    assert (await client.post(f"/api/admin/v1/leaders/{leader['id']}/approve", headers=admin)).status == 200
    staff_token, staff = await login(client, "staff-invited")
    other_token, _ = await login(client, "someone-else")
    url = f"/api/v1/me/staff-invitations/{leader['id']}"

    # Nothing to accept or decline before an invitation; naming a leader who did not invite is 404.
    for method, path in (("POST", url + "/accept"), ("DELETE", url)):
        resp = await client.request(method, path, headers=auth(staff_token))
        answer = await resp.json()
        assert resp.status == 404 and answer["details"]["field"] == "leader_id", answer
    resp = await client.post("/api/v1/leader/staff", headers=auth(token), json={"user_id": staff["id"], "name": "小吴"})
    assert [s["status"] for s in (await resp.json())["staff"]] == ["invited"]
    assert (await client.get("/api/v1/leader/day", headers=auth(staff_token))).status == 403
    # Only the invited user can accept it.
    assert (await client.post(url + "/accept", headers=auth(other_token))).status == 404
    for _ in range(2):  # accepting twice changes nothing
        resp = await client.post(url + "/accept", headers=auth(staff_token))
        assert resp.status == 200 and (await resp.json())["items"][0]["status"] == "active"
    assert (await client.get("/api/v1/leader/day", headers=auth(staff_token))).status == 200
    profile = await (await client.get("/api/v1/leader/me", headers=auth(token))).json()
    assert profile["staff"][0]["status"] == "active" and profile["staff"][0]["accepted_at"]
    # Leaving takes the powers with it.
    resp = await client.delete(url, headers=auth(staff_token))
    assert resp.status == 200 and (await resp.json())["items"] == []
    assert (await client.get("/api/v1/leader/day", headers=auth(staff_token))).status == 403
    assert (await (await client.get("/api/v1/leader/me", headers=auth(token))).json())["staff"] == []

    # Invited, then applied to lead a store of their own: they cannot accept (their own store first).
    await client.post("/api/v1/leader/staff", headers=auth(token), json={"user_id": staff["id"], "name": "小吴"})
    resp = await client.post("/api/v1/leader/apply", headers=auth(staff_token),
                             json={"name": "吴团长", "phone": "13900000072", "point_name": "柏园",
                                   "address": "柏路 8 号", "latitude": 30.8, "longitude": 120.8, **POINT_FORM})
    assert resp.status == 201, await resp.json()
    resp = await client.post(url + "/accept", headers=auth(staff_token))
    answer = await resp.json()
    assert resp.status == 409 and answer["error"] == "staff_is_a_leader" and answer["details"]["field"] == "leader_id"


async def test_staff_of_a_leader_no_longer_approved_cannot_verify(client):
    """Attacker pass, session 8: the leader's own verify was refused once they were disabled,
    their staff's still completed orders."""
    from huituan.models.leader import Leader, LeaderStatus, PickupTicket

    admin = await operator_headers(client)
    token, leader = await apply_leader(client, "l-gone", "冯团长", "13900000081", "杉园", "杉路 9 号", 30.9, 120.9)
    assert (await client.post(f"/api/admin/v1/leaders/{leader['id']}/approve", headers=admin)).status == 200
    point = await PickupPoint.get(leader_id=leader["id"])
    await PickupPoint.filter(id=point.id).update(cutoff_time="23:59")
    staff_token, staff = await login(client, "staff-gone")
    await client.post("/api/v1/leader/staff", headers=auth(token), json={"user_id": staff["id"], "name": "小冯"})
    assert (await client.post(f"/api/v1/me/staff-invitations/{leader['id']}/accept", headers=auth(staff_token))).status == 200
    product = await make_product(skus=[{"price_fen": 800}])
    ctoken, _ = await login(client, "c-gone")
    order = await create_order(client, ctoken, [(product.sku_list[0], 1)], delivery_mode="pickup",
                               pickup_point_id=point.id)
    await pay_order(client, ctoken, order["id"])
    code = (await PickupTicket.get(order_id=order["id"])).code
    await Leader.filter(id=leader["id"]).update(status=LeaderStatus.disabled)
    for who in (token, staff_token):
        resp = await client.post("/api/v1/leader/verify", headers=auth(who), json={"code": code})
        assert resp.status == 403, await resp.json()
    assert (await PickupTicket.get(order_id=order["id"])).verified_at is None
