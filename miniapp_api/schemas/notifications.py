"""Schemas of /api/v1/notifications (subscribe quota, reminder preferences, remind-me requests)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool

TPL = "sandbox-tpl-order-shipped"
Key = Annotated[str, Field(min_length=1, max_length=64)]
Decision = Annotated[str, Field(max_length=64)]


class SubscriptionResultIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    result: dict[Key, Decision] = Field(
        ..., max_length=20, description="wx.requestSubscribeMessage 的结果原样：模板 id -> accept / reject / ban / "
        "filter（errMsg 忽略）", examples=[{TPL: "accept", "errMsg": "requestSubscribeMessage:ok"}])


class SubscriptionQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: str | None = Field(None, max_length=400, pattern=r"^[a-z_,]+$",
                               description="只看这些通知类型（逗号分隔）", examples=["order_unpaid,order_shipped"])


class TemplateQuotaOut(BaseModel):
    template_id: str = Field(description="订阅消息模板 id", examples=[TPL])
    events: list[str] = Field(description="这个模板发送的通知类型", examples=[["order_shipped"]])
    titles: list[str] = Field(description="通知类型的中文名称", examples=[["发货通知"]])
    remaining: int = Field(description="还能发送的次数（每次同意 +1，每发一条 -1）", examples=[1])
    banned: bool = Field(description="用户选择了总是拒绝", examples=[False])


class SubscriptionStatusOut(BaseModel):
    templates: list[TemplateQuotaOut] = Field(description="已配置的模板及剩余次数")
    ask: list[str] = Field(description="下次调用 wx.requestSubscribeMessage 时请求的模板 id（最多 3 个）",
                           examples=[["sandbox-tpl-order-unpaid", TPL]])


class PreferenceOut(BaseModel):
    event: str = Field(description="通知类型", examples=["order_not_picked_up"])
    title: str = Field(description="通知类型的中文名称", examples=["取货提醒"])
    enabled: bool = Field(description="是否接收", examples=[True])
    can_disable: bool = Field(description="用户能否关闭", examples=[True])


class PreferencesOut(BaseModel):
    items: list[PreferenceOut] = Field(description="每种提醒的开关")


class PreferencesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: dict[Key, StrictBool] = Field(..., max_length=50, description="通知类型 -> 是否接收",
                                          examples=[{"order_not_picked_up": False}])


class ReminderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event: str = Field(..., max_length=48, pattern=r"^[a-z_]+$", description="预约的提醒类型",
                       examples=["flash_sale_starting"])
    ref_id: int = Field(..., ge=1, le=2**62, description="提醒的对象，如秒杀场次 id", examples=[1])


class ReminderOut(BaseModel):
    event: str = Field(description="预约的提醒类型", examples=["flash_sale_starting"])
    ref_id: int = Field(description="提醒的对象 id", examples=[1])
    created_at: str = Field(description="预约时间（ISO 8601）", examples=["2024-05-01T04:30:01+00:00"])


class RemindersOut(BaseModel):
    items: list[ReminderOut] = Field(description="我预约的提醒")
