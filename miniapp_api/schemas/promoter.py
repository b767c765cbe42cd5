"""Request and response schemas of the promoter endpoints (routes/promoter.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LevelOut(BaseModel):
    id: int
    name: str
    rank: int


class PromoterStatusOut(BaseModel):
    is_promoter: bool
    promote_mode: Literal["everyone", "approved", "spend_threshold"]
    status: Literal["applied", "approved", "rejected", "disabled"] | None
    level: LevelOut | None
    own_spend_fen: int
    spend_threshold_fen: int
    can_apply: bool
    share_scene: str = Field(description="放进分享链接/小程序码的 scene，登录时原样带回即可绑定")


class ApplyIn(_In):
    real_name: str = Field("", max_length=32)
    phone: str = Field("", max_length=20)
    note: str = Field("", max_length=200)


class BindIn(_In):
    scene: str = Field(min_length=1, max_length=128, description="分享码，如 r=123")


class BindOut(BaseModel):
    bound: bool
    action: str
    reason: str
    promoter_id: int | None


class TeamQuery(_In):
    level: int = Field(1, ge=1, le=2, description="1 直接邀请，2 二级")
    page: int = Field(1, ge=1, le=10_000)
    page_size: int = Field(20, ge=1, le=100)


class TeamMemberOut(BaseModel):
    user_id: int
    nickname: str
    avatar_url: str
    has_bought: bool
    bound_at: str
    expires_at: str | None


class TeamOut(BaseModel):
    level: int
    total: int
    level1_count: int
    items: list[TeamMemberOut]


class RecordsQuery(_In):
    status: Literal["pending", "settled", "cancelled"] | None = None
    page: int = Field(1, ge=1, le=10_000)
    page_size: int = Field(20, ge=1, le=100)


class RecordOut(BaseModel):
    id: int
    order_id: int
    order_item_id: int
    level: int
    self_purchase: bool
    base_fen: int
    rate_bp: int | None
    fixed_per_unit_fen: int | None
    original_amount_fen: int
    amount_fen: int
    clawed_back_fen: int
    status: Literal["pending", "settled", "cancelled"]
    expected_settle_at: str | None
    settled_at: str | None
    created_at: str | None


class RecordsOut(BaseModel):
    total: int
    items: list[RecordOut]


class WalletOut(BaseModel):
    pending_fen: int
    available_fen: int
    withdrawing_fen: int
    withdrawn_fen: int
    debt_fen: int
    can_withdraw: bool


class WithdrawIn(_In):
    amount_fen: StrictInt = Field(gt=0, le=10**10, description="提现金额（分，整数）")
    real_name: str = Field("", max_length=32, description="金额达到实名门槛时必填")


class WithdrawalOut(BaseModel):
    id: int
    amount_fen: int
    fee_fen: int
    net_fen: int
    status: Literal["requested", "approved", "paying", "paid", "rejected", "failed"]
    out_bill_no: str | None
    transfer_state: str
    package_info: str | None = Field(description="wx.requestMerchantTransfer 需要的 package；待用户确认收款时返回")
    fail_reason: str
    created_at: str | None
    finished_at: str | None


class WithdrawalListQuery(_In):
    page: int = Field(1, ge=1, le=10_000)
    page_size: int = Field(20, ge=1, le=100)


class WithdrawalListOut(BaseModel):
    total: int
    items: list[WithdrawalOut]
