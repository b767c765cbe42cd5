"""A leader's whole day end to end, through the mini-program API, the WeCom bot (acting as
WeCom: encrypted callbacks) and the WeChat sandbox: consumers order for pickup at two points,
the cutoff pushes the summary, summary and pick list match the orders exactly, the arrival
notifies exactly those consumers once, each code verifies once, a shortage refunds exactly
the short lines, the leader commission settles and the ledger verifies."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from datetime import timedelta

from huituan.core.clock import CHINA_TZ, utcnow
from huituan.models.commission import CommissionRecord, CommissionStatus
from huituan.models.leader import Leader, LeaderStatus, PickupPoint, PickupTicket, ShortageReport
from huituan.models.order import Order, OrderItem, OrderStatus, Refund
from huituan.models.user import User
from huituan.services import notifications, outbox
from huituan.services.commission.settlement import settle_commissions
from huituan.services.pickup.pushes import push_cutoff_summaries
from huituan.services.wallet.ledger import get_balances
from huituan.services.wallet.verify import verify_ledger
from tests.bot.wecom_helpers import apply_leader, link_leader, linked_operator, sandbox_outbox, say
from tests.factories import auth, create_order, login, make_product, pay_order
from tests.miniapp_api.admin.conftest import operator_headers


async def _consumer(client, code: str, phone: str):
    token, user = await login(client, code)
    await User.filter(id=user["id"]).update(phone=phone)
    return token, user


async def test_a_leader_day_end_to_end(client, rt):
    # Given an operator linked to WeCom, products, and two leaders who applied in the mini-program
    await linked_operator(client, "ops-li")
    admin = await operator_headers(client, "ops-api", "password-456")
    berry = await make_product(title="草莓", skus=[{"price_fen": 1000, "name": "小盒"}, {"price_fen": 1500, "name": "大盒"}])
    eggs = await make_product(title="鸡蛋", skus=[{"price_fen": 500, "name": "10枚"}])
    t1, l1 = await apply_leader(client, "leader-wang", "王团长", "13900000001", "幸福里", "文三路 1 号", 30.27, 120.13)
    t2, l2 = await apply_leader(client, "leader-zhao", "赵团长", "13900000002", "阳光苑", "文二路 9 号", 30.28, 120.14)
    _, l3 = await apply_leader(client, "leader-qian", "钱团长", "13900000003", "远方", "远方路 1 号", 31.0, 121.0)

    queue = await say(client, "ops-li", "待审核")
    assert "团长申请 3 个" in queue and "幸福里" in queue
    # the operator approves by bot and by the admin API, and rejects with a reason
    assert "已通过团长 王团长" in await say(client, "ops-li", f"通过 团长 {l1['id']}")
    resp = await client.post(f"/api/admin/v1/leaders/{l2['id']}/approve", headers=admin)
    assert resp.status == 200, await resp.text()
    assert "驳回时请写上理由" in await say(client, "ops-li", f"驳回 团长 {l3['id']}")
    assert "理由：不在服务范围" in await say(client, "ops-li", f"驳回 团长 {l3['id']} 不在服务范围")
    assert (await Leader.get(id=l3["id"])).reject_reason == "不在服务范围"
    assert "已处理" in await say(client, "ops-li", f"通过 团长 {l3['id']}")
    # leader 2 earns 10 %, eggs earn 2 % for every leader, the rest the global 5 %
    resp = await client.patch("/api/admin/v1/distribution/settings", headers=admin, json={"leader_commission_bp": 500})
    assert resp.status == 200 and (await resp.json())["leader_commission_bp"] == 500
    assert (await client.put(f"/api/admin/v1/leaders/{l2['id']}/commission", headers=admin,
                             json={"commission_bp": 1000})).status == 200
    assert (await client.put(f"/api/admin/v1/products/{eggs.id}/leader-commission", headers=admin,
                             json={"rate_bp": 200})).status == 200

    await link_leader(client, t1, "wx-wang")
    await link_leader(client, t2, "wx-zhao")
    p1 = (await PickupPoint.get(leader_id=l1["id"])).id
    p2 = (await PickupPoint.get(leader_id=l2["id"])).id
    # a cutoff like 25:00 is refused and changes nothing; a good one is kept
    assert "截单时间「25:00」不正确" in await say(client, "wx-wang", "截单 25:00")
    assert (await PickupPoint.get(id=p1)).cutoff_time == "22:00"
    assert "每天 23:59" in await say(client, "wx-wang", "截单 ２３：５９")
    assert "每天 23:59" in await say(client, "wx-zhao", "截单 23:59")

    # When consumers order for pickup at the two points and pay through the sandbox
    small, big = berry.sku_list
    egg = eggs.sku_list[0]
    plan = {
        ("c-a", "13811110001", p1): [(small, 1), (egg, 2)],
        ("c-b", "13811110002", p1): [(big, 1)],
        ("c-c", "13811110003", p1): [(small, 2), (egg, 1)],  # paid last at point 1
        ("c-d", "13811110004", p2): [(small, 3)],
        ("c-e", "13811110005", p2): [(egg, 4), (big, 1)],
    }
    orders = {}
    for (code, phone, point), lines in plan.items():
        token, user = await _consumer(client, code, phone)
        # The consumer accepts the "goods arrived" notice in the mini-program (one consent,
        # one message): the mini-program asks for the templates the API names.
        ask = (await (await client.get("/api/v1/notifications/subscriptions", headers=auth(token))).json())["ask"]
        ready_tpl = notifications.template_id("order_ready_for_pickup")
        assert ready_tpl in ask
        resp = await client.post("/api/v1/notifications/subscriptions", headers=auth(token),
                                 json={"result": {ready_tpl: "accept"}})
        assert resp.status < 300, await resp.text()
        order = await create_order(client, token, lines, delivery_mode="pickup", pickup_point_id=point)
        await pay_order(client, token, order["id"])
        orders[code] = {"token": token, "user": user, "order": order, "point": point, "phone": phone}
    # an unpaid order is not part of the day
    token_x, _ = await _consumer(client, "c-x", "13811110009")
    await create_order(client, token_x, [(small, 5)], delivery_mode="pickup", pickup_point_id=p1)

    tickets = {t.order_id: t for t in await PickupTicket.all()}
    assert len(tickets) == 5
    day = tickets[orders["c-a"]["order"]["id"]].day

    # Then at the cutoff the leader gets the summary once (WeCom app message)
    at_cutoff = utcnow().astimezone(CHINA_TZ).replace(hour=23, minute=59, second=30).astimezone(utcnow().tzinfo)
    if at_cutoff.astimezone(CHINA_TZ).date().isoformat() == day:
        assert await push_cutoff_summaries(rt, now=at_cutoff) == 2
        assert await push_cutoff_summaries(rt, now=at_cutoff) == 0
        sent = (await sandbox_outbox(client))["wecom_messages"]
        to_wang = [m for m in sent if m["touser"] == "wx-wang"]
        assert len(to_wang) == 1 and "已截单" in to_wang[0]["content"]
        assert "草莓（小盒） × 3" in to_wang[0]["content"]

    # The summary (bot, API) matches the orders exactly
    expected_p1 = {("草莓", "小盒"): 3, ("草莓", "大盒"): 1, ("鸡蛋", "10枚"): 3}
    text = await say(client, "wx-wang", f"汇总 {day}")
    assert "订单 3 笔，商品 7 件" in text
    for (title, sku), q in expected_p1.items():
        assert f"{title}（{sku}） × {q}" in text
    resp = await client.get("/api/v1/leader/day", headers=auth(t2), params={"day": day})
    rep = await resp.json()
    assert resp.status == 200, rep
    assert {(s["title"], s["sku_name"]): s["quantity"] for s in rep["summary"]} == {
        ("草莓", "小盒"): 3, ("草莓", "大盒"): 1, ("鸡蛋", "10枚"): 4}
    assert rep["orders"] == 2 and rep["amount_fen"] == 3 * 1000 + 4 * 500 + 1500
    # and the pick list: per consumer, codes and masked phones only
    picks = await say(client, "wx-wang", f"分拣单 {day}")
    for code in ("c-a", "c-b", "c-c"):
        o = orders[code]
        masked = o["phone"][:3] + "****" + o["phone"][-4:]
        assert f"{masked} 提货码 {tickets[o['order']['id']].code}" in picks
        assert o["phone"] not in picks
    assert tickets[orders["c-d"]["order"]["id"]].code not in picks
    csv_text = await (await client.get("/api/v1/leader/day/picklist.csv", headers=auth(t1),
                                       params={"day": day})).text()
    assert csv_text.count("\n") == 1 + 5  # header + one row per line (c-a 2, c-b 1, c-c 2)
    assert "138****0001" in csv_text and "13811110001" not in csv_text
    page = await (await client.get("/api/v1/leader/day/print", headers=auth(t1), params={"day": day})).text()
    assert "<h2>分拣单</h2>" in page and "138****0003" in page

    # Arrival notifies exactly the consumers of that point, once each, with their code
    before = len((await sandbox_outbox(client))["subscribe_messages"])
    reply = await say(client, "wx-wang", "到货")
    assert "已通知 3 位顾客" in reply
    assert "没有需要通知的订单" in await say(client, "wx-wang", "到货")
    sent = (await sandbox_outbox(client))["subscribe_messages"][before:]
    openids = {c: (await User.get(id=o["user"]["id"])).openid for c, o in orders.items()}
    assert sorted(m["touser"] for m in sent) == sorted(openids[c] for c in ("c-a", "c-b", "c-c"))
    for code in ("c-a", "c-b", "c-c"):
        msg = next(m for m in sent if m["touser"] == openids[code])
        assert tickets[orders[code]["order"]["id"]].code in msg["data"]["thing4"]["value"]
    assert await Order.filter(pickup_point_id=p1, status=OrderStatus.ready_for_pickup).count() == 3
    assert await Order.filter(pickup_point_id=p2, status=OrderStatus.paid).count() == 2

    # A shortage refunds exactly the short lines: 1 small box, taken from the order paid last
    assert "待提货的只有 4 件" in await say(client, "wx-wang", "报损 草莓 5")
    assert await Refund.all().count() == 0
    reply = await say(client, "wx-wang", "报损 草莓 1")
    assert "已为 1 笔订单退款 ¥10.00" in reply, reply
    refund = await Refund.get()
    c_c = orders["c-c"]["order"]["id"]
    berry_line = await OrderItem.get(order_id=c_c, sku_id=small.id)
    assert refund.order_id == c_c and refund.items == [{"item_id": berry_line.id, "quantity": 1, "amount_fen": 1000}]
    await outbox.wait_idle()
    resp = await client.post(f"/sandbox/pay/refunds/{refund.refund_no}/complete", json={"status": "SUCCESS"})
    assert resp.status == 200, await resp.text()
    await outbox.wait_idle()
    assert (await Order.get(id=c_c)).status == OrderStatus.ready_for_pickup
    assert (await Order.get(id=c_c)).refunded_fen == 1000
    report = await ShortageReport.get()
    assert report.refunded_quantity == 1 and report.refunded_fen == 1000
    text = await say(client, "wx-wang", f"汇总 {day}")
    assert "草莓（小盒） × 2" in text

    # Each code verifies once, only at its own point
    other = tickets[orders["c-d"]["order"]["id"]].code
    assert "不属于您的自提点" in await say(client, "wx-wang", f"核销 {other}")
    for code in ("c-a", "c-b", "c-c"):
        tcode = tickets[orders[code]["order"]["id"]].code
        assert "核销成功" in await say(client, "wx-wang", f"核销 {tcode}")
        again = await say(client, "wx-wang", f"核销{tcode}")
        assert re.search(r"已于 \d\d-\d\d \d\d:\d\d 由 王团长 核销", again), again
    # point 2: the leader's staff verifies by scanning in the mini-program
    staff_token, staff = await login(client, "staff-zhao")
    resp = await client.post("/api/v1/leader/staff", headers=auth(t2), json={"user_id": staff["id"], "name": "小周"})
    assert resp.status == 200 and (await resp.json())["staff"][0]["status"] == "invited"
    # Invited is not yet staff: no verifying until the user accepts in the mini-program.
    first = "huituan:pickup:" + tickets[orders["c-d"]["order"]["id"]].code
    resp = await client.post("/api/v1/leader/verify", headers=auth(staff_token), json={"code": first})
    assert resp.status == 403 and (await resp.json())["error"] == "not_a_leader"
    invitations = await (await client.get("/api/v1/me/staff-invitations", headers=auth(staff_token))).json()
    [invitation] = invitations["items"]
    assert invitation["status"] == "invited" and invitation["name"] == "小周" and invitation["pickup_points"]
    assert "phone" not in json.dumps(invitation)  # the leader's number is not shown to the invitee
    resp = await client.post(f"/api/v1/me/staff-invitations/{invitation['leader_id']}/accept", headers=auth(staff_token))
    assert resp.status == 200 and (await resp.json())["items"][0]["status"] == "active"
    for code in ("c-d", "c-e"):
        scanned = "huituan:pickup:" + tickets[orders[code]["order"]["id"]].code
        resp = await client.post("/api/v1/leader/verify", headers=auth(staff_token), json={"code": scanned})
        assert resp.status == 200, await resp.text()
        resp = await client.post("/api/v1/leader/verify", headers=auth(staff_token), json={"code": scanned})
        assert resp.status == 409 and "不能重复核销" in (await resp.json())["message"]
    assert await Order.filter(status=OrderStatus.completed).count() == 5
    # every pickup was reported to WeChat (self pickup upload, then the receipt reminder)
    from huituan.models.outbox import OutboxMessage
    from huituan.services.orders.wechat_shipping import confirm_key, shipping_key

    for o in orders.values():
        assert await OutboxMessage.filter(dedupe_key=shipping_key(o["order"]["id"])).exists()
        assert await OutboxMessage.filter(dedupe_key=confirm_key(o["order"]["id"])).exists()

    # The leader commission settles after the freeze and the ledger verifies
    recs = await CommissionRecord.filter(level=0).order_by("id")
    wang = (await Leader.get(id=l1["id"])).user_id
    zhao = (await Leader.get(id=l2["id"])).user_id
    # point 1: small 1000 + eggs 1000 (2 %) | big 1500 | small 2000 -> 1000 after the refund + eggs 500 (2 %)
    assert sum(r.amount_fen for r in recs if r.beneficiary_id == wang) == 50 + 20 + 75 + 50 + 10
    # point 2 at 10 %: small 3000 | eggs 2000 at 2 % + big 1500
    assert sum(r.amount_fen for r in recs if r.beneficiary_id == zhao) == 300 + 40 + 150
    await settle_commissions(now=utcnow() + timedelta(days=60))
    assert all(r.status == CommissionStatus.settled for r in await CommissionRecord.filter(level=0))
    assert (await get_balances(wang)).available == 205
    assert (await get_balances(zhao)).available == 490
    assert "可提现：¥2.05" in await say(client, "wx-wang", "钱包")
    assert await verify_ledger() == []
    # and the operator's command says so too, from its own process
    env = {**os.environ, "HUITUAN_DATABASE_URL": rt.settings.database_url, "HUITUAN_REDIS_URL": "memory://"}
    done = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "huituan.cli", "ledger", "verify"],
                                   env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "账本核对通过" in done.stdout, done.stdout + done.stderr
    assert (await Leader.get(id=l3["id"])).status == LeaderStatus.rejected
