"""The schedule: one table of every job the service runs.

Each row names its function by a ``"module:function"`` string that is imported when the job
runs, so a missing or broken function fails that job (a failed JobRun row and an error log)
and never the scheduler. Every function takes the runtime, is an idempotent sweep (safe to
rerun, safe to run late) and returns how many things it processed.

Add a row here; nothing else needs to change.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

JobFunction = Callable[[Any], Awaitable[Any]]


@dataclass(frozen=True)
class JobSpec:
    name: str
    func: str  # "package.module:function", imported lazily
    description: str  # Chinese: shown by the bot and the docs
    seconds: float | None = None  # run every N seconds ...
    cron: str | None = None  # ... or on a crontab line ("m h dom mon dow", Asia/Shanghai)

    def __post_init__(self) -> None:
        if (self.seconds is None) == (self.cron is None):
            raise ValueError(f"job {self.name}: give exactly one of seconds or cron")
        if ":" not in self.func:
            raise ValueError(f"job {self.name}: func must be 'module:function'")

    def trigger(self, interval_scale: float = 1.0) -> BaseTrigger:
        if self.seconds is not None:
            return IntervalTrigger(seconds=self.seconds / interval_scale, timezone="UTC")
        return CronTrigger.from_crontab(self.cron, timezone="Asia/Shanghai")

    def resolve(self) -> JobFunction:
        """Import the function; raises ImportError / AttributeError when it is not there."""
        module_name, _, attr = self.func.partition(":")
        module = importlib.import_module(module_name)
        fn = getattr(module, attr)
        if not callable(fn):
            raise TypeError(f"{self.func} is not callable")
        return fn


SCHEDULE: list[JobSpec] = [
    JobSpec(
        name="close_unpaid_orders",
        func="services.orders.lifecycle:close_expired_orders",
        seconds=60,
        description="关闭超过支付期限的未付款订单，库存退回",
    ),
    JobSpec(
        name="auto_confirm_orders",
        func="services.orders.lifecycle:auto_confirm_orders",
        seconds=3600,
        description="发货超过规定天数的订单自动确认收货",
    ),
    JobSpec(
        name="deliver_outbox",
        func="services.outbox:deliver_pending",
        seconds=10,
        description="投递待发送的消息、退款和打款（发件箱）",
    ),
    JobSpec(
        name="settle_commissions",
        func="services.commission.settlement:settle_commissions",
        seconds=600,
        description="订单完成且过了售后冻结期的佣金转入可提现余额（分批、可重跑）",
    ),
    JobSpec(
        name="expire_bindings",
        func="services.referrals.binding:expire_bindings",
        seconds=3600,
        description="推荐关系超过有效期后失效（记录审计日志）",
    ),
    JobSpec(
        name="poll_transfers",
        func="services.withdrawals:poll_transfers",
        seconds=300,
        description="查询打款中的商家转账结果（通知丢失时兜底）",
    ),
    JobSpec(
        name="poll_refunds",
        func="services.orders.refunds:poll_refunds",
        seconds=300,
        description="查询处理中的退款结果（通知丢失时兜底），微信无此退款单时重新提交",
    ),
]


def find_job(name: str, schedule: list[JobSpec] | None = None) -> JobSpec:
    for spec in schedule if schedule is not None else SCHEDULE:
        if spec.name == name:
            return spec
    raise KeyError(name)
