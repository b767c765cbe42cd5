"""The schedule: one table of every job the service runs.

Each row holds its job function (in ``huituan.jobs``: thin, reads settings, calls a service,
returns how many things it processed). Every job is an idempotent sweep (safe to rerun, safe
to run late). The composition root hands this table to the runner; add a row here and a
function beside the others, nothing else changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from huituan.core.clock import CHINA_TZ
from huituan.jobs import activities, money, notifications, orders, outbox, pickup, referrals

JobFunction = Callable[[Any], Awaitable[Any]]


@dataclass(frozen=True)
class JobSpec:
    name: str
    func: JobFunction  # async (rt) -> int
    description: str  # Chinese: shown by the bot and the docs
    seconds: float | None = None  # run every N seconds ...
    cron: str | None = None  # ... or on a crontab line ("m h dom mon dow", Asia/Shanghai)

    def __post_init__(self) -> None:
        if (self.seconds is None) == (self.cron is None):
            raise ValueError(f"job {self.name}: give exactly one of seconds or cron")
        if not callable(self.func):
            raise TypeError(f"job {self.name}: func must be a callable")

    def trigger(self, interval_scale: float = 1.0) -> BaseTrigger:
        if self.seconds is not None:
            return IntervalTrigger(seconds=self.seconds / interval_scale, timezone="UTC")
        return CronTrigger.from_crontab(self.cron, timezone=CHINA_TZ)


SCHEDULE: list[JobSpec] = [
    JobSpec(
        name="close_unpaid_orders",
        func=orders.close_unpaid_orders,
        seconds=60,
        description="关闭超过支付期限的未付款订单，库存退回",
    ),
    JobSpec(
        name="auto_confirm_orders",
        func=orders.auto_confirm_orders,
        seconds=3600,
        description="发货超过规定天数的订单自动确认收货",
    ),
    JobSpec(
        name="fold_product_sales",
        func=orders.fold_product_sales,
        seconds=10,
        description="把已付款、已退款的件数计入商品销量",
    ),
    JobSpec(
        name="deliver_outbox",
        func=outbox.deliver_outbox,
        seconds=10,
        description="投递待发送的消息、退款和打款（发件箱）",
    ),
    JobSpec(
        name="settle_commissions",
        func=money.settle_commissions,
        seconds=600,
        description="订单完成且过了售后冻结期的佣金转入可提现余额（分批、可重跑）",
    ),
    JobSpec(
        name="expire_bindings",
        func=referrals.expire_bindings,
        seconds=3600,
        description="推荐关系超过有效期后失效（记录审计日志）",
    ),
    JobSpec(
        name="poll_transfers",
        func=money.poll_transfers,
        seconds=300,
        description="查询打款中的商家转账结果（通知丢失时兜底）",
    ),
    JobSpec(
        name="push_cutoff_summaries",
        func=pickup.push_cutoff_summaries,
        seconds=60,
        description="自提点到了截单时间，把当天的汇总单发给团长（每个自提点每天一次）",
    ),
    JobSpec(
        name="expire_groups",
        func=activities.expire_groups,
        seconds=30,
        description="到期未成团的拼团：退款给已付款成员（或按规则系统成团），未付款订单关闭",
    ),
    JobSpec(
        name="expire_bargains",
        func=activities.expire_bargains,
        seconds=60,
        description="到期未购买的砍价结束",
    ),
    JobSpec(
        name="release_unpaid_activity_orders",
        func=activities.release_unpaid_activity_orders,
        seconds=15,
        description="活动订单超过支付期限：关闭订单，释放拼团名额和秒杀库存",
    ),
    JobSpec(
        name="preload_flash_sessions",
        func=activities.preload_flash_sessions,
        seconds=60,
        description="即将开始和进行中的秒杀场次库存预热到 Redis",
    ),
    JobSpec(
        name="reconcile_flash_stock",
        func=activities.reconcile_flash_stock,
        seconds=60,
        description="补建进程退出时未写成的秒杀订单；核对秒杀库存（Redis 与数据库），修复差异并记录",
    ),
    JobSpec(
        name="poll_refunds",
        func=money.poll_refunds,
        seconds=300,
        description="查询处理中的退款结果（通知丢失时兜底），微信无此退款单时重新提交；含未匹配支付的原路退款",
    ),
    JobSpec(
        name="remind_unpaid_orders",
        func=notifications.remind_unpaid_orders,
        seconds=60,
        description="未付款订单关闭前提醒买家支付（紧急，免打扰时段也发送）",
    ),
    JobSpec(
        name="remind_fulfilled_orders",
        func=notifications.remind_fulfilled_orders,
        seconds=600,
        description="已发货、已到自提点的订单补发通知（与状态变化同一去重键，不会重复）",
    ),
    JobSpec(
        name="remind_not_picked_up",
        func=notifications.remind_not_picked_up,
        cron="0 10 * * *",
        description="到自提点第二天起每天提醒买家提货",
    ),
    JobSpec(
        name="remind_commission_settled",
        func=notifications.remind_commission_settled,
        cron="30 9 * * *",
        description="告诉推手昨天到账的佣金（每人一条）",
    ),
    JobSpec(
        name="remind_withdrawals",
        func=notifications.remind_withdrawals,
        seconds=300,
        description="提现到账或失败时通知推手",
    ),
    JobSpec(
        name="operator_digest",
        func=notifications.operator_digest,
        cron="0 9,14,18 * * *",
        description="把待审核事项（团长、推手、提现、退款）汇总发给运营的企业微信",
    ),
    JobSpec(
        name="remind_groups_closing",
        func=notifications.remind_groups_closing,
        seconds=300,
        description="拼团截止前两小时提醒已付款的团员：还差几人、何时截止",
    ),
    JobSpec(
        name="remind_group_results",
        func=notifications.remind_group_results,
        seconds=600,
        description="拼团成功或失败的结果通知补发（与成团时同一去重键，不会重复）",
    ),
    JobSpec(
        name="remind_bargain_progress",
        func=notifications.remind_bargain_progress,
        cron="0 19 * * *",
        description="每天一次告诉发起人砍价进度（已砍金额、当前价、还需几人）",
    ),
    JobSpec(
        name="remind_bargains_expiring",
        func=notifications.remind_bargains_expiring,
        seconds=300,
        description="砍价结束前两小时提醒发起人下单",
    ),
    JobSpec(
        name="remind_flash_sales_starting",
        func=notifications.remind_flash_sales_starting,
        seconds=60,
        description="秒杀开始前十分钟提醒预约了的用户",
    ),
    JobSpec(
        name="purge_outbox",
        func=notifications.purge_outbox,
        cron="40 3 * * *",
        description="删除已投递超过保留天数的发件箱记录，以及超过保留天数的通知记录",
    ),
]


def find_job(name: str, schedule: list[JobSpec] | None = None) -> JobSpec:
    for spec in schedule if schedule is not None else SCHEDULE:
        if spec.name == name:
            return spec
    raise KeyError(name)
