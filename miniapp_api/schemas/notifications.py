"""Schemas of /api/v1/notifications (subscribe quota and reminder preferences)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictBool


class SubscriptionResultIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    result: dict[str, str] = Field(..., max_length=20, description="wx.requestSubscribeMessage 的结果原样：模板 id -> "
                                   "accept / reject / ban / filter（errMsg 忽略）")


class SubscriptionQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: str | None = Field(None, max_length=400, pattern=r"^[a-z_,]+$",
                               description="只看这些通知类型（逗号分隔），如 order_unpaid,order_shipped")


class TemplateQuotaOut(BaseModel):
    template_id: str
    events: list[str]
    titles: list[str]
    remaining: int = Field(description="还能发送的次数（每次同意 +1，每发一条 -1）")
    banned: bool = Field(description="用户选择了总是拒绝")


class SubscriptionStatusOut(BaseModel):
    templates: list[TemplateQuotaOut]
    ask: list[str] = Field(description="下次调用 wx.requestSubscribeMessage 时请求的模板 id（最多 3 个）")


class PreferenceOut(BaseModel):
    event: str
    title: str
    enabled: bool
    can_disable: bool


class PreferencesOut(BaseModel):
    items: list[PreferenceOut]


class PreferencesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: dict[str, StrictBool] = Field(..., max_length=50, description="通知类型 -> 是否接收")


class ReminderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event: str = Field(..., max_length=48, pattern=r"^[a-z_]+$", description="如 flash_sale_starting")
    ref_id: int = Field(..., ge=1, le=2**62, description="提醒的对象，如秒杀场次 id")


class ReminderOut(BaseModel):
    event: str
    ref_id: int
    created_at: str


class RemindersOut(BaseModel):
    items: list[ReminderOut]
