"""Every leader and operator command through the real callback (acting as WeCom), with bad
arguments, unlinked users, role refusals, replays and typos."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from huituan.models.catalog import Product
from huituan.models.commission import CommissionRecord
from huituan.models.group_buy import Group
from huituan.models.leader import Leader, LeaderProduct, PickupPoint, WecomBindCode
from huituan.models.outbox import OutboxKind, OutboxMessage, OutboxStatus
from huituan.models.wallet import Withdrawal
from huituan.posters import template_store
from huituan.services import outbox
from huituan.services.leaders import issue_bind_code
from tests.bot.wecom_helpers import apply_leader, link_leader, linked_operator, sandbox_outbox, say
from tests.factories import auth, create_order, login, make_product, pay_order
from tests.miniapp_api.admin.conftest import operator_headers
from tests.miniapp_api.poster_helpers import decode_poster, share_code_of


@pytest.fixture
def settings(make_settings):
    # 开团 and 海报 render posters: a thread pool, not worker processes, in tests
    return make_settings(poster_render_mode="thread")


@pytest.fixture
async def day(client):
    """An operator and an approved, linked leader with a group robot and one paid order."""
    op = await linked_operator(client, "ops-li")
    token, leader = await apply_leader(client, "leader-wang", "王团长", "13900000001", "幸福里", "文三路 1 号",
                                       30.27, 120.13)
    assert "已通过" in await say(client, "ops-li", f"通过 团长 {leader['id']}")
    await link_leader(client, token, "wx-wang")
    berry = await make_product(title="草莓", skus=[{"price_fen": 1000, "name": "小盒"}])
    await make_product(title="鸡蛋", skus=[{"price_fen": 500, "name": "10枚"}])
    point = await PickupPoint.get(leader_id=leader["id"])
    await PickupPoint.filter(id=point.id).update(cutoff_time="23:59")
    ctoken, _ = await login(client, "c-1")
    order = await create_order(client, ctoken, [(berry.sku_list[0], 2)], delivery_mode="pickup",
                               pickup_point_id=point.id)
    await pay_order(client, ctoken, order["id"])
    return {"op": op, "token": token, "leader": leader, "point": point, "berry": berry, "order": order}


async def test_unlinked_user_is_told_how_to_link_and_a_bad_code_links_nothing(client, day):
    for text in ("今日", "帮助", "核销 12345678", "hexiao"):
        reply = await say(client, "stranger", text)
        assert "尚未绑定惠团账号" in reply and "绑定 <绑定码>" in reply
    assert "绑定码应为 8 位数字" in await say(client, "stranger", "绑定 12ab")
    assert "绑定码无效或已过期" in await say(client, "stranger", "绑定 00000000")
    assert "请在「绑定」后面加上" in await say(client, "stranger", "绑定")
    # a code works once
    code = await issue_bind_code("leader", day["leader"]["id"])
    assert "绑定成功" in await say(client, "wx-new", f"绑定 {code}")
    assert "绑定码无效或已过期" in await say(client, "wx-other", f"绑定 {code}")
    assert (await Leader.get(id=day["leader"]["id"])).wecom_userid == "wx-new"
    assert await WecomBindCode.filter(used_at__isnull=False).count() >= 1


async def test_help_lists_what_this_person_may_do_and_explains_one(client, day):
    leader_help = await say(client, "wx-wang", "帮助")
    for name in ("今日", "分拣单", "开团", "海报", "到货", "核销", "报损", "钱包", "提现", "团队", "上架", "下架",
                 "截单", "群发"):
        assert f"· {name}" in leader_help, name
    assert "待审核" not in leader_help and "通过" not in leader_help
    ops_help = await say(client, "ops-li", "帮助")
    for name in ("待审核", "通过", "驳回", "今日数据", "订单", "任务"):
        assert f"· {name}" in ops_help, name
    assert "· 核销" not in ops_help
    one = await say(client, "wx-wang", "帮助 核销")
    assert "用法：核销 <提货码>" in one and "例如：核销 12345678" in one and "提货" in one
    assert "仅限运营使用" in await say(client, "wx-wang", "帮助 待审核")
    assert "您是不是想找「核销」" in await say(client, "wx-wang", "帮助 核锁")


async def test_leader_using_an_operator_command_is_refused(client, day):
    reply = await say(client, "wx-wang", f"通过 团长 {day['leader']['id']}")
    assert "「通过」是运营指令，您的账号不能使用" in reply
    assert "是运营指令" in await say(client, "wx-wang", "待审核")
    assert "是团长指令" in await say(client, "ops-li", "核销 12345678")


async def test_typos_pinyin_full_width_and_spacing(client, day):
    assert "您是不是想用「核销」" in await say(client, "wx-wang", "核锁 12345678")
    assert "提货码不存在" in await say(client, "wx-wang", "核消 12345678")  # 同音字: the same pinyin
    assert "【分拣单】" in await say(client, "wx-wang", "分捡单")  # 同音字
    assert "您是不是想用「分拣单」" in await say(client, "wx-wang", "分检表")
    assert "您是不是想用「钱包」" in await say(client, "wx-wang", "qianbaoo")
    assert "您的佣金钱包" in await say(client, "wx-wang", "qianbao")  # pinyin
    assert "您的佣金钱包" in await say(client, "wx-wang", "　钱包　")  # full-width spaces
    assert "汇总单" in await say(client, "wx-wang", "／今日")
    assert "每天 21:30" in await say(client, "wx-wang", "截单　２１：３０")
    assert "提货码不存在" in await say(client, "wx-wang", "核销１２３４５６７８")  # glued, full-width digits
    assert "没有看懂「发个红包」" in await say(client, "wx-wang", "发个红包")


async def test_replayed_msgid_is_answered_once(client, day):
    first = await say(client, "wx-wang", "下架 草莓", msg_id="900000000000000001")
    assert "已从您的小店下架" in first
    await LeaderProduct.filter(leader_id=day["leader"]["id"]).update(enabled=True)
    again = await say(client, "wx-wang", "下架 草莓", msg_id="900000000000000001")
    assert again == first
    assert await LeaderProduct.get(leader_id=day["leader"]["id"]).values_list("enabled", flat=True) is True


async def test_store_commands_and_bad_products(client, day):
    assert "已从您的小店下架" in await say(client, "wx-wang", "下架 草莓")
    resp = await client.get(f"/api/v1/leaders/{day['leader']['id']}/store")
    assert [i["title"] for i in (await resp.json())["items"]] == ["鸡蛋"]
    assert "已在您的小店上架" in await say(client, "wx-wang", "上架 草莓")
    assert "没有找到商品「榴莲」" in await say(client, "wx-wang", "上架 榴莲")
    assert "请写上商品名称" in await say(client, "wx-wang", "下架")
    # 开团 / 海报: an unknown product is refused clearly, nothing changes and no poster is queued
    assert "没有找到商品「榴莲」" in await say(client, "wx-wang", "开团 榴莲 3 24")
    assert "用法：开团" in await say(client, "wx-wang", "开团")
    assert "没有找到商品「榴莲」" in await say(client, "wx-wang", "海报 榴莲")
    await Product.filter(id=day["berry"].id).update(on_sale=False)
    assert "「草莓」已下架，不能生成海报" in await say(client, "wx-wang", "海报 草莓")
    assert await OutboxMessage.filter(kind=OutboxKind.wecom_poster).count() == 0
    assert await Group.all().count() == 0


async def test_day_commands(client, day):
    text = await say(client, "wx-wang", "今日")
    assert "订单 1 笔，商品 2 件" in text and "草莓（小盒） × 2" in text
    assert "日期格式应为 YYYY-MM-DD" in await say(client, "wx-wang", "今日 明年")
    assert "提货码" in await say(client, "wx-wang", "分拣单")
    assert "请在「核销」后面加上" in await say(client, "wx-wang", "核销")
    assert "提货码应为 6 到 12 位数字" in await say(client, "wx-wang", "核销 abc")
    assert "用法：报损" in await say(client, "wx-wang", "报损 草莓")
    assert "数量「x」不正确" in await say(client, "wx-wang", "报损 草莓 x")
    assert "请写上截单时间" in await say(client, "wx-wang", "截单")
    for bad in ("25:00", "12:60", "abc", "-1:00"):
        assert "不正确" in await say(client, "wx-wang", f"截单 {bad}")
    assert (await PickupPoint.get(id=day["point"].id)).cutoff_time == "23:59"
    assert "已通知 1 位顾客" in await say(client, "wx-wang", "到货")


async def test_money_and_team_commands(client, day):
    pending = sum(r.amount_fen for r in await CommissionRecord.filter(level=0))
    assert pending == 100  # 5 % of 2000
    assert "冻结中：¥1.00" in await say(client, "wx-wang", "钱包")
    for bad in ("abc", "-5", "0", "1.234", "1e3"):
        reply = await say(client, "wx-wang", f"提现 {bad}")
        assert "不正确" in reply or "必须大于 0" in reply, (bad, reply)
    assert "可用余额不足" in await say(client, "wx-wang", "提现 1")  # everything is still frozen
    assert await Withdrawal.all().count() == 0
    assert "请写上提现金额" in await say(client, "wx-wang", "提现")
    team = await say(client, "wx-wang", "团队")
    assert "幸福里" in team and "店员：暂无" in team
    # An invited staff member is shown as waiting for their answer until they accept.
    staff_token, staff = await login(client, "team-staff")
    await client.post("/api/v1/leader/staff", headers=auth(day["token"]), json={"user_id": staff["id"], "name": "小林"})
    assert "店员：小林（已邀请，待对方接受）" in await say(client, "wx-wang", "团队")
    leader_id = (await (await client.get("/api/v1/me/staff-invitations", headers=auth(staff_token))).json())["items"][0]["leader_id"]
    assert (await client.post(f"/api/v1/me/staff-invitations/{leader_id}/accept", headers=auth(staff_token))).status == 200
    assert "店员：小林\n" in await say(client, "wx-wang", "团队") + "\n"


async def test_group_push_needs_a_robot_and_is_split_and_rate_limited(client, day, rt):
    assert "还没有登记客户群的群机器人" in await say(client, "wx-wang", "群发")
    resp = await client.put("/api/v1/leader/robot", headers=auth(day["token"]), json={
        "webhook": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=sandbox-robot-wang"})
    assert resp.status == 200, await resp.text()
    for i in range(60):
        await make_product(title=f"团购商品{i:02d}号" + "很长的名字" * 8)
    reply = await say(client, "wx-wang", "群发")
    assert "已把 62 件商品发到顾客群" in reply
    pushes = [p for p in (await sandbox_outbox(client))["robot_pushes"] if p["key"] == "sandbox-robot-wang"]
    assert len(pushes) >= 2 and all(len(p["content"].encode()) <= 4096 for p in pushes)
    assert "（续）" in pushes[1]["content"]


async def test_operator_review_commands(client, day, rt):
    assert "团长申请 0 个" in await say(client, "ops-li", "待审核")
    assert "用法：通过 团长|提现|退款" in await say(client, "ops-li", "通过")
    assert "用法：通过" in await say(client, "ops-li", "通过 店铺 1")
    assert "编号「abc」不正确" in await say(client, "ops-li", "通过 团长 abc")
    assert "团长不存在" in await say(client, "ops-li", "通过 团长 999")
    assert "提现记录不存在" in await say(client, "ops-li", "通过 提现 999")
    assert "没有找到退款 R404" in await say(client, "ops-li", "驳回 退款 R404 重复申请")
    assert "已处理" in await say(client, "ops-li", f"通过 团长 {day['leader']['id']}")
    text = await say(client, "ops-li", "今日数据")
    assert "团长：1 位" in text and "付款：1 笔" in text


async def test_operator_approves_and_rejects_refunds_in_chat(client, day, rt):
    from huituan.models.order import Refund, RefundStatus

    berry = day["berry"]
    for code, verb in (("c-r1", "通过"), ("c-r2", "驳回")):
        ctoken, _ = await login(client, code)
        order = await create_order(client, ctoken, [(berry.sku_list[0], 1)], delivery_mode="pickup",
                                   pickup_point_id=day["point"].id)
        await pay_order(client, ctoken, order["id"])
        resp = await client.post(f"/api/v1/orders/{order['id']}/refunds", headers=auth(ctoken),
                                 json={"reason": "不想要了"})
        assert resp.status == 201, await resp.text()
    first, second = await Refund.all().order_by("id")
    assert "退款 2 笔" in await say(client, "ops-li", "待审核")
    assert "已通过退款" in await say(client, "ops-li", f"通过 退款 {first.refund_no}")
    assert "驳回时请写上理由" in await say(client, "ops-li", f"驳回 退款 {second.id}")
    assert "理由：超过售后期" in await say(client, "ops-li", f"驳回 退款 {second.id} 超过售后期")
    assert (await Refund.get(id=first.id)).status == RefundStatus.processing
    assert (await Refund.get(id=second.id)).status == RefundStatus.rejected


async def test_open_group_uses_the_running_group_buy_activity(client, day):
    from datetime import timedelta

    from huituan.core.clock import utcnow
    from huituan.models.group_buy import ActivityStatus, GroupBuyActivity

    assert "没有进行中的拼团活动" in await say(client, "wx-wang", "开团 草莓")
    berry = day["berry"]
    await GroupBuyActivity.create(title="草莓 3 人团", product_id=berry.id,
                                  sku_prices={str(berry.sku_list[0].id): 800}, group_size=3, duration_hours=24,
                                  status=ActivityStatus.active, starts_at=utcnow() - timedelta(hours=1),
                                  ends_at=utcnow() + timedelta(days=3))
    assert "没有 5 人团，可开：3 人团" in await say(client, "wx-wang", "开团 草莓 5")
    assert "成团时限最长 24 小时" in await say(client, "wx-wang", "开团 草莓 3 48")
    assert "人数「1」不正确" in await say(client, "wx-wang", "开团 草莓 1")
    assert await Group.all().count() == 0  # refusals change nothing
    # a shorter time limit than the activity's is the leader's choice
    reply = await say(client, "wx-wang", "开团 草莓 3 12")
    assert "已开团：草莓 3 人团，3 人团，拼团价 ¥8.00，12 小时内成团" in reply, reply
    short = await Group.get()
    assert timedelta(hours=11, minutes=59) < short.expires_at - short.created_at <= timedelta(hours=12, seconds=5)
    await short.delete()
    reply = await say(client, "wx-wang", "开团 草莓 3 24")
    assert "已开团：草莓 3 人团，3 人团，拼团价 ¥8.00，24 小时内成团" in reply, reply
    group = await Group.get()
    assert group.share_code in reply and group.leader_id == day["leader"]["id"]
    assert group.pickup_point_id == day["point"].id
    assert "拼团海报生成中，稍后以图片发送给您" in reply and "/api/v1/posters" not in reply


async def poster_images(client, rt, touser: str) -> list[tuple[dict, bytes]]:
    """Run the outbox (what the reply kicked, then a sweep) and return the image messages to
    ``touser`` with the bytes the sandbox received."""
    await outbox.wait_idle()
    await outbox.deliver_pending(rt)
    out = []
    for m in (await sandbox_outbox(client))["wecom_messages"]:
        if m["msgtype"] == "image" and m["touser"] == touser:
            out.append((m, await (await client.get(f"/sandbox/wecom/media/{m['media_id']}")).read()))
    return out


async def assert_is_poster(client, body: bytes, kind: str, target_id: int, sharer_id: int) -> None:
    """The image is the poster of its template (size, format) and its code resolves to the target."""
    _, _, spec = await template_store.resolve(kind, None)
    with Image.open(io.BytesIO(body)) as img:
        assert img.size == (spec["canvas"]["width"], spec["canvas"]["height"])
        assert img.format.lower() == spec.get("format", "jpeg")
    share = await (await client.get(f"/api/v1/share/{share_code_of(decode_poster(body))}")).json()
    assert share["target"] == {"kind": kind, "id": target_id} and share["sharer"]["id"] == sharer_id


async def test_open_group_and_poster_send_the_poster_as_an_image(client, rt, day):
    from datetime import timedelta

    from huituan.core.clock import utcnow
    from huituan.models.group_buy import ActivityStatus, GroupBuyActivity

    berry = day["berry"]
    leader = await Leader.get(id=day["leader"]["id"])
    await GroupBuyActivity.create(title="草莓 3 人团", product_id=berry.id,
                                  sku_prices={str(berry.sku_list[0].id): 800}, group_size=3, duration_hours=24,
                                  status=ActivityStatus.active, starts_at=utcnow() - timedelta(hours=1),
                                  ends_at=utcnow() + timedelta(days=3))
    # 开团: the reply says the poster is on its way; after the outbox ran, one image came: the group's poster
    reply = await say(client, "wx-wang", "开团 草莓 3 24")
    assert "已开团" in reply and "拼团海报生成中，稍后以图片发送给您" in reply, reply
    group = await Group.get()
    [(msg, body)] = await poster_images(client, rt, "wx-wang")
    assert msg["image"]["size"] == len(body)
    await assert_is_poster(client, body, "group_buy", group.id, leader.user_id)
    # a second outbox run sends nothing more
    assert await outbox.deliver_pending(rt) == 0
    assert len(await poster_images(client, rt, "wx-wang")) == 1
    # 海报: the product's share poster, once per message (a replayed MsgId queues nothing more)
    reply = await say(client, "wx-wang", "海报 草莓", msg_id="900000000000000777")
    assert reply == "「草莓」的分享海报生成中，稍后以图片发送给您，长按保存后即可转发到群里。"
    assert await say(client, "wx-wang", "海报 草莓", msg_id="900000000000000777") == reply
    images = await poster_images(client, rt, "wx-wang")
    assert len(images) == 2
    await assert_is_poster(client, images[1][1], "product", berry.id, leader.user_id)
    assert await outbox.deliver_pending(rt) == 0
    rows = await OutboxMessage.filter(kind=OutboxKind.wecom_poster).values_list("status", flat=True)
    assert sorted(rows) == [OutboxStatus.sent, OutboxStatus.sent]
    # A product the leader switched off in their store is not theirs to promote: refused in the
    # reply, no poster queued; switched on again, the poster goes out.
    assert "下架" in await say(client, "wx-wang", "下架 草莓")
    reply = await say(client, "wx-wang", "海报 草莓", msg_id="900000000000000778")
    assert reply.endswith("「草莓」已在您的小店下架，发送「上架 草莓」后再生成海报"), reply
    groups = await Group.all().count()
    reply = await say(client, "wx-wang", "开团 草莓", msg_id="900000000000000780")
    assert reply.endswith("「草莓」已在您的小店下架，发送「上架 草莓」后再开团"), reply
    assert await Group.all().count() == groups
    assert await OutboxMessage.filter(kind=OutboxKind.wecom_poster).count() == 2
    await say(client, "wx-wang", "上架 草莓")
    assert "分享海报生成中" in await say(client, "wx-wang", "海报 草莓", msg_id="900000000000000779")
    assert len(await poster_images(client, rt, "wx-wang")) == 3


async def test_operators_see_unmatched_payments_in_the_queue(client, rt):
    from huituan.services.orders.payments import handle_pay_notify
    from tests.services.orders.helpers import pay_resource

    unknown = {"order_no": "202612020000009999999999", "payable_fen": 4990}
    await linked_operator(client, "ops-li")
    assert "未匹配支付" not in await say(client, "ops-li", "待审核")  # nothing waits: no line
    await handle_pay_notify(rt, pay_resource(unknown))
    assert "未匹配支付 1 笔（到账但找不到订单）" in await say(client, "ops-li", "待审核")


async def test_arguments_no_column_can_hold_get_a_plain_reply_not_an_error(client, rt, caplog):
    """Attacker pass, session 7: 驳回 退款 <23 digits>, 通过 退款 R<100 digits>, 海报 and 上架 with
    300 characters all answered 「系统开小差了」 with an ERROR traceback."""
    admin = await operator_headers(client)
    token, leader = await apply_leader(client, "l-bounds", "赵团长", "13900000031", "竹园", "竹路 3 号", 30.1, 120.1)
    assert (await client.post(f"/api/admin/v1/leaders/{leader['id']}/approve", headers=admin)).status == 200
    await link_leader(client, token, "wx-zhao")
    await linked_operator(client, "ops-bounds", "ops-bounds")
    with caplog.at_level("WARNING"):
        for sender, text in (("ops-bounds", "驳回 退款 99999999999999999999999 不行"),
                             ("ops-bounds", "通过 退款 R" + "9" * 100),
                             ("wx-zhao", "海报 " + "西" * 300), ("wx-zhao", "上架 " + "x" * 300)):
            reply = await say(client, sender, text)
            assert "开小差" not in reply and reply, (text[:12], reply)
            assert "没有找到" in reply or "过长" in reply, (text[:12], reply)
    assert not [r for r in caplog.records if r.levelname == "ERROR"], [r.getMessage() for r in caplog.records]
    # An API-style field prefix never reaches chat.
    reply = await say(client, "wx-zhao", "汇总 9999-12-31")
    assert reply.startswith("日期超出范围"), reply
