"""Schemas of the admin notification endpoints (admin/notifications.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from huituan.models.outbox import OutboxKind, OutboxStatus


class _Page(BaseModel):
    model_config = ConfigDict(extra="forbid")
    page: int = Field(1, ge=1, le=10_000)
    page_size: int = Field(20, ge=1, le=100)
    since: datetime | None = Field(None, description="创建时间不早于（ISO 8601，带时区）")
    until: datetime | None = Field(None, description="创建时间早于")


class NotificationQuery(_Page):
    event: str | None = Field(None, max_length=48, pattern=r"^[a-z_]+$")
    status: Literal["pending", "sent", "skipped", "failed"] | None = None
    channel: Literal["subscribe", "wecom_app", "robot"] | None = None
    user_id: int | None = Field(None, ge=1, le=2**62)


class OutboxQuery(_Page):
    kind: OutboxKind | None = None  # every kind, as the model lists them
    status: OutboxStatus | None = None


class StatsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    since: datetime | None = None
    until: datetime | None = None


class OutboxOut(BaseModel):
    id: int
    kind: str
    dedupe_key: str
    status: str
    attempts: int
    last_error: str
    next_attempt_at: str | None
    created_at: str | None
    sent_at: str | None
    payload: dict[str, Any]


class NotificationOut(BaseModel):
    id: int
    event: str
    channel: str
    status: str
    reason: str = Field(description="跳过或失败的原因：no_quota / disabled / no_template / errcode_43101 ...")
    error_code: int | None
    error: str
    user_id: int | None
    operator_id: int | None
    touser: str
    template_id: str
    values: dict[str, Any]
    page: str
    urgent: bool
    dedupe_key: str
    due_at: str | None
    created_at: str | None
    sent_at: str | None
    outbox: OutboxOut | None


class NotificationListOut(BaseModel):
    items: list[NotificationOut]
    total: int
    page: int
    page_size: int


class OutboxListOut(BaseModel):
    items: list[OutboxOut]
    total: int
    page: int
    page_size: int


class TemplateStatsOut(BaseModel):
    template_id: str
    event: str
    pending: int
    sent: int
    skipped: int
    failed: int
    reasons: dict[str, int]


class StatsOut(BaseModel):
    items: list[TemplateStatsOut]
