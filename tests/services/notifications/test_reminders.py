"""Every reminder job: given the situation, the job queues the message, the sandbox gets it
with fields formatted to WeChat's rules, and a second run sends nothing new."""

from __future__ import annotations

from datetime import timedelta

from huituan.core.clock import china_date, china_day_bounds, china_display, utcnow
from huituan.jobs import notifications as jobs
from huituan.models.commission import CommissionRecord, CommissionStatus
from huituan.models.order import DeliveryMode, OrderStatus
from huituan.models.user import Operator
from huituan.models.wallet import Withdrawal, WithdrawalStatus
from huituan.services.notifications.subscriptions import grant
from tests.factories import make_user
from tests.services.notifications.helpers import buyer_with_order, sandbox, sent_with, values


async def _twice(rt, client, job, template_id: str) -> list[dict]:
    """Run the job, collect what the sandbox got for the template; run again: nothing new."""
    await job(rt)
    first = await sent_with(client, template_id)
    await job(rt)
    assert await sent_with(client, template_id) == first, "a second run sent something new"
    return first


async def test_unpaid_order_is_reminded_before_it_closes(rt, client):
    # given an unpaid order closing in two minutes, and another with plenty of time
    deadline = utcnow() + timedelta(seconds=120)
    user, order = await buyer_with_order(client, "unpaid-1", templates=("sandbox-tpl-order-unpaid",),
                                         title="云南高山红富士苹果 家庭装 10 斤 精选大果", price_fen=5990,
                                         pay_deadline=deadline)
    await buyer_with_order(client, "unpaid-2", templates=("sandbox-tpl-order-unpaid",))
    # when the job runs (twice)
    [message] = await _twice(rt, client, jobs.remind_unpaid_orders, "sandbox-tpl-order-unpaid")
    # then the buyer was told, with each value in its WeChat shape
    assert values(message) == {
        "character_string1": order.order_no,
        "thing2": "云南高山红富士苹果 家庭装 10 斤…",  # 20 characters at most, cut on a whole character
        "amount3": "59.90元",
        "time4": china_display(deadline),
        "thing5": "订单即将关闭，请尽快完成支付",
    }
    assert message["page"] == f"pages/order/detail?id={order.id}"


async def test_shipped_and_ready_orders_get_their_message_from_the_sweep(rt, client):
    # given orders moved by another process without their message (shipped, ready for pickup)
    _, shipped = await buyer_with_order(client, "ship-1", templates=("sandbox-tpl-order-shipped",),
                                        status=OrderStatus.shipped, shipped_at=utcnow(),
                                        express_company="顺丰速运", express_no="SF 1234-5678 单号")
    _, ready = await buyer_with_order(client, "ready-1", templates=("sandbox-tpl-order-ready",),
                                      status=OrderStatus.ready_for_pickup, delivery_mode=DeliveryMode.pickup,
                                      ready_at=utcnow())
    [s] = await _twice(rt, client, jobs.remind_fulfilled_orders, "sandbox-tpl-order-shipped")
    assert values(s) == {"character_string1": shipped.order_no, "thing2": "赣南脐橙 5 斤装", "thing3": "顺丰速运",
                         "character_string4": "SF 1234-5678"}  # no Chinese in a character_string
    [r] = await sent_with(client, "sandbox-tpl-order-ready")
    assert values(r)["character_string1"] == ready.order_no and values(r)["thing3"] == "自提点"


async def test_not_picked_up_is_reminded_daily_from_day_two(rt, client):
    # given one order at the pickup point since yesterday, one since today
    _, waiting = await buyer_with_order(client, "pick-1", templates=("sandbox-tpl-order-not-picked-up",) * 2,
                                        status=OrderStatus.ready_for_pickup, delivery_mode=DeliveryMode.pickup,
                                        ready_at=utcnow() - timedelta(days=1))
    await buyer_with_order(client, "pick-2", templates=("sandbox-tpl-order-not-picked-up",),
                           status=OrderStatus.ready_for_pickup, delivery_mode=DeliveryMode.pickup, ready_at=utcnow())
    [message] = await _twice(rt, client, jobs.remind_not_picked_up, "sandbox-tpl-order-not-picked-up")
    assert values(message) == {"character_string1": waiting.order_no, "thing2": "赣南脐橙 5 斤装",
                               "thing3": "自提点", "number4": "2", "thing5": "商品已等您多日，请尽快到自提点提货"}


async def test_commission_settled_yesterday_is_one_message_per_promoter(rt, client):
    # given a promoter with two commissions settled yesterday and one today
    promoter = await make_user()
    await grant(promoter.id, "sandbox-tpl-commission-settled")
    yesterday = china_date() - timedelta(days=1)
    start, _ = china_day_bounds(yesterday)
    for item, (amount, at) in enumerate(((1234, start + timedelta(hours=3)), (766, start + timedelta(hours=20)),
                                         (999, utcnow()))):
        await CommissionRecord.create(order_id=1, order_item_id=item + 1, product_id=1, buyer_id=2,
                                      beneficiary_id=promoter.id, level=1, base_fen=10000, original_amount_fen=amount,
                                      amount_fen=amount, status=CommissionStatus.settled, settled_at=at)
    [message] = await _twice(rt, client, jobs.remind_commission_settled, "sandbox-tpl-commission-settled")
    assert values(message) == {"amount1": "20.00元", "number2": "2", "date3": yesterday.isoformat(),
                               "thing4": "佣金已转入可提现余额"}
    assert message["touser"] == promoter.openid


async def test_withdrawal_paid_or_failed_is_told(rt, client):
    paid_user, failed_user = await make_user(), await make_user()
    for u in (paid_user, failed_user):
        await grant(u.id, "sandbox-tpl-withdrawal-result")
    finished = utcnow()
    await Withdrawal.create(user_id=paid_user.id, amount_fen=10000, fee_fen=100, net_fen=9900,
                            status=WithdrawalStatus.paid, finished_at=finished)
    await Withdrawal.create(user_id=failed_user.id, amount_fen=5000, net_fen=5000, status=WithdrawalStatus.failed,
                            finished_at=finished, fail_reason="收款用户未实名认证，资金已退回余额")
    await Withdrawal.create(user_id=paid_user.id, amount_fen=3000, net_fen=3000, status=WithdrawalStatus.requested)
    messages = await _twice(rt, client, jobs.remind_withdrawals, "sandbox-tpl-withdrawal-result")
    by_user = {m["touser"]: values(m) for m in messages}
    assert by_user == {
        paid_user.openid: {"amount1": "99.00元", "phrase2": "已到账", "time3": china_display(finished),
                           "thing4": "已转入微信零钱"},
        failed_user.openid: {"amount1": "50.00元", "phrase2": "提现失败", "time3": china_display(finished),
                             "thing4": "收款用户未实名认证，资金已退回余额"},
    }


async def test_operators_digest_lists_pending_reviews(rt, client):
    # given two operators linked to WeCom (one not linked) and two withdrawals waiting for review
    for name, wecom in (("ops-a", "wx-ops-a"), ("ops-b", "wx-ops-b"), ("ops-c", None)):
        await Operator.create(username=name, password_hash="x", wecom_userid=wecom)
    for _ in range(2):
        await Withdrawal.create(user_id=1, amount_fen=100, net_fen=100, status=WithdrawalStatus.requested)
    await jobs.operator_digest(rt)
    first = (await sandbox(client))["wecom_messages"]
    await jobs.operator_digest(rt)
    assert (await sandbox(client))["wecom_messages"] == first
    assert sorted(m["touser"] for m in first) == ["wx-ops-a", "wx-ops-b"]
    assert first[0]["msgtype"] == "markdown" and "提现审核：2 条" in first[0]["content"]
    assert "团长申请" not in first[0]["content"]  # nothing waits there


async def test_operators_digest_counts_open_unmatched_payments(rt, client):
    # a payment for an order we do not have waits for an operator: the digest says so
    from huituan.services.orders.payments import handle_pay_notify
    from tests.services.orders.helpers import pay_resource

    await Operator.create(username="ops-a", password_hash="x", wecom_userid="wx-ops-a")
    assert await handle_pay_notify(rt, pay_resource({"order_no": "202612020000000000000001", "payable_fen": 100})) \
        == "unmatched"
    assert await jobs.operator_digest(rt) == 1
    assert "未匹配支付：1 条" in (await sandbox(client))["wecom_messages"][0]["content"]


async def test_digest_with_nothing_pending_sends_nothing(rt, client):
    await Operator.create(username="ops-a", password_hash="x", wecom_userid="wx-ops-a")
    assert await jobs.operator_digest(rt) == 0
    assert (await sandbox(client))["wecom_messages"] == []


async def test_ready_sweep_skips_a_buyer_already_told_about_the_pickup(rt, client):
    # given an order made ready and a message that covered it (a leader's arrival, keyed by point and day)
    from tortoise.transactions import in_transaction

    from huituan.services import notifications

    user, first = await buyer_with_order(client, "ready-2", templates=("sandbox-tpl-order-ready",) * 3,
                                         status=OrderStatus.ready_for_pickup, delivery_mode=DeliveryMode.pickup,
                                         ready_at=utcnow())
    async with in_transaction() as conn:
        await notifications.notify("order_ready_for_pickup", user["id"], {
            "character_string1": "2笔订单", "thing2": "赣南脐橙", "thing3": "阳光花园", "thing4": "提货码123456、654321",
        }, conn=conn, dedupe_key="pickup:1:2026-12-01", page_args={"order_id": first.id})
    await jobs.remind_fulfilled_orders(rt)
    assert len(await sent_with(client, "sandbox-tpl-order-ready")) == 1


async def test_a_sweep_stopped_midway_leaves_no_half_written_notification(rt, client):
    """Attacker pass, session 8: a reminder sweep cancelled between its claim, the consent spent
    and the outbox row left a pending notification with no message and no consent to retry
    with. Each message is now all of them or none: after stops at several points and a full
    rerun, every spent consent has exactly one queued message."""
    import asyncio

    from huituan.models.notification import Notification, NotificationStatus, SubscriptionQuota
    from huituan.models.outbox import OutboxMessage

    deadline = utcnow() + timedelta(seconds=120)
    for i in range(40):
        await buyer_with_order(client, f"stop-{i}", templates=("sandbox-tpl-order-unpaid",), pay_deadline=deadline)
    interrupted = 0
    for delay in (0.005, 0.02, 0.05, 0.1):
        task = asyncio.create_task(jobs.remind_unpaid_orders(rt))
        await asyncio.sleep(delay)
        if not task.done():
            task.cancel()
            interrupted += 1
        try:
            await task
        except asyncio.CancelledError:
            pass
    await jobs.remind_unpaid_orders(rt)
    rows = await Notification.filter(event="order_unpaid")
    assert len(rows) == 40
    queued = {m.dedupe_key for m in await OutboxMessage.filter(dedupe_key__startswith="notification:")}
    for row in rows:
        assert row.status != NotificationStatus.pending or f"notification:{row.id}" in queued, row.dedupe_key
    spent = sum(q.used_total for q in await SubscriptionQuota.filter(template_id="sandbox-tpl-order-unpaid"))
    assert spent == sum(1 for r in rows if f"notification:{r.id}" in queued)
    assert interrupted, "no stop landed inside a sweep"
