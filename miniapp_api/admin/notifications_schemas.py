"""Schemas of the admin notification endpoints (admin/notifications.py)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from huituan.core.web.instants import Instant
from huituan.models.outbox import OutboxKind, OutboxStatus

T = "2024-05-01T04:30:01+00:00"


class _Page(BaseModel):
    model_config = ConfigDict(extra="forbid")
    page: int = Field(1, ge=1, le=10_000, description="页码")
    page_size: int = Field(20, ge=1, le=100, description="每页条数")
    since: Instant | None = Field(None, description="创建时间不早于（ISO 8601，带时区）")
    until: Instant | None = Field(None, description="创建时间早于（ISO 8601，带时区）")


class NotificationQuery(_Page):
    event: str | None = Field(None, max_length=48, pattern=r"^[a-z_]+$", description="通知类型",
                              examples=["order_shipped"])
    status: Literal["pending", "sent", "skipped", "failed"] | None = Field(None, description="状态")
    channel: Literal["subscribe", "wecom_app", "robot"] | None = Field(None, description="渠道")
    user_id: int | None = Field(None, ge=1, le=2**62, description="收件用户 id")


class OutboxQuery(_Page):
    kind: OutboxKind | None = Field(None, description="发件箱类型")
    status: OutboxStatus | None = Field(None, description="状态")


class StatsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    since: Instant | None = Field(None, description="创建时间不早于（ISO 8601，带时区）")
    until: Instant | None = Field(None, description="创建时间早于（ISO 8601，带时区）")


class OutboxOut(BaseModel):
    id: int = Field(description="发件箱记录 id", examples=[1])
    kind: str = Field(description="类型", examples=["notification"])
    dedupe_key: str = Field(description="去重键", examples=["notification:1"])
    status: str = Field(description="状态：pending / sent / failed", examples=["sent"])
    attempts: int = Field(description="已尝试次数", examples=[1])
    last_error: str = Field(description="最近一次错误", examples=[""])
    next_attempt_at: str | None = Field(description="下次尝试时间", examples=[None])
    created_at: str | None = Field(description="写入时间", examples=[T])
    sent_at: str | None = Field(description="送达时间", examples=[T])
    payload: dict[str, Any] = Field(description="投递内容", examples=[{"notification_id": 1}])


class NotificationOut(BaseModel):
    id: int = Field(description="通知 id", examples=[1])
    event: str = Field(description="通知类型", examples=["order_shipped"])
    channel: str = Field(description="渠道：subscribe / wecom_app / robot", examples=["subscribe"])
    status: str = Field(description="状态：pending / sent / skipped / failed", examples=["sent"])
    reason: str = Field(description="跳过或失败的原因：no_quota / disabled / no_template / errcode_43101 …",
                        examples=[""])
    error_code: int | None = Field(description="微信返回的错误码", examples=[None])
    error: str = Field(description="错误详情", examples=[""])
    user_id: int | None = Field(description="收件用户 id", examples=[1])
    operator_id: int | None = Field(description="收件运营 id", examples=[None])
    touser: str = Field(description="openid 或企业微信 userid", examples=["oAbCdEfGhIjKlMnOpQrStUvWxYz0"])
    template_id: str = Field(description="订阅消息模板 id", examples=["sandbox-tpl-order-shipped"])
    values: dict[str, Any] = Field(description="发送的字段值", examples=[{"thing2": "烟台红富士苹果"}])
    page: str = Field(description="点击消息打开的页面", examples=["pages/order/detail?id=1"])
    urgent: bool = Field(description="紧急（免打扰时段也发送）", examples=[False])
    dedupe_key: str = Field(description="去重键（通知类型 + 业务键 + 收件人）", examples=["order_shipped:order:1:u1"])
    due_at: str | None = Field(description="免打扰时段推迟到", examples=[None])
    created_at: str | None = Field(description="创建时间", examples=[T])
    sent_at: str | None = Field(description="送达时间", examples=[T])
    outbox: OutboxOut | None = Field(description="发件箱记录（详情接口返回）", examples=[None])


class NotificationListOut(BaseModel):
    items: list[NotificationOut] = Field(description="通知")
    total: int = Field(description="总数", examples=[1])
    page: int = Field(description="页码", examples=[1])
    page_size: int = Field(description="每页条数", examples=[20])


class OutboxListOut(BaseModel):
    items: list[OutboxOut] = Field(description="发件箱记录")
    total: int = Field(description="总数", examples=[1])
    page: int = Field(description="页码", examples=[1])
    page_size: int = Field(description="每页条数", examples=[20])


class TemplateStatsOut(BaseModel):
    template_id: str = Field(description="订阅消息模板 id（企业微信消息为空）", examples=["sandbox-tpl-order-shipped"])
    event: str = Field(description="通知类型", examples=["order_shipped"])
    pending: int = Field(description="待发送", examples=[0])
    sent: int = Field(description="已送达", examples=[10])
    skipped: int = Field(description="已跳过", examples=[2])
    failed: int = Field(description="失败", examples=[1])
    reasons: dict[str, int] = Field(description="跳过或失败的原因 -> 条数", examples=[{"no_quota": 2}])


class StatsOut(BaseModel):
    items: list[TemplateStatsOut] = Field(description="按模板和通知类型统计")
