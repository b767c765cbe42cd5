"""Request and response schemas of the admin distribution endpoints (admin/distribution.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from huituan.miniapp_api.schemas import Name
from huituan.miniapp_api.schemas.promoter import WithdrawalOut


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Page(_In):
    page: int = Field(1, ge=1, le=10_000)
    page_size: int = Field(20, ge=1, le=100)


Bp = Field(ge=0, le=10_000, description="基点，1% = 100")


class SettingsOut(BaseModel):
    enabled: bool
    bind_mode: Literal["first", "new_users_only", "override"]
    new_user_window_seconds: int
    binding_valid_days: int
    promote_mode: Literal["everyone", "approved", "spend_threshold"]
    promote_spend_threshold_fen: int
    level1_bp: int
    level2_bp: int
    activity_normal: bool
    activity_group_buy: bool
    activity_bargain: bool
    activity_flash_sale: bool
    self_purchase_rebate: bool
    freeze_days: int
    withdraw_min_fen: int
    withdraw_fee_bp: int
    withdraw_daily_count: int
    withdraw_daily_amount_fen: int
    withdraw_real_name_threshold_fen: int
    withdraw_auto_approve_fen: int
    commission_cap_bp: int = Field(description="每笔订单两级佣金合计上限，占商品实付的万分比（默认 3000 = 30%）")
    leader_commission_bp: int = Field(500, description="团长佣金全局比例（万分比，默认 500 = 5%）；团长和商品的比例优先")


class SettingsPatch(_In):
    enabled: StrictBool | None = None
    bind_mode: Literal["first", "new_users_only", "override"] | None = None
    new_user_window_seconds: StrictInt | None = Field(None, ge=0, le=10**9)
    binding_valid_days: StrictInt | None = Field(None, ge=0, le=36_500, description="0 表示永久")
    promote_mode: Literal["everyone", "approved", "spend_threshold"] | None = None
    promote_spend_threshold_fen: StrictInt | None = Field(None, ge=0, le=10**12)
    level1_bp: StrictInt | None = Field(None, ge=0, le=10_000)
    level2_bp: StrictInt | None = Field(None, ge=0, le=10_000)
    activity_normal: StrictBool | None = None
    activity_group_buy: StrictBool | None = None
    activity_bargain: StrictBool | None = None
    activity_flash_sale: StrictBool | None = None
    self_purchase_rebate: StrictBool | None = None
    freeze_days: StrictInt | None = Field(None, ge=0, le=365)
    withdraw_min_fen: StrictInt | None = Field(None, ge=1, le=100_000_000)
    withdraw_fee_bp: StrictInt | None = Field(None, ge=0, le=10_000)
    withdraw_daily_count: StrictInt | None = Field(None, ge=0, le=10_000)
    withdraw_daily_amount_fen: StrictInt | None = Field(None, ge=0, le=10**12)
    withdraw_real_name_threshold_fen: StrictInt | None = Field(None, ge=0, le=10**12)
    withdraw_auto_approve_fen: StrictInt | None = Field(None, ge=0, le=10**12)
    commission_cap_bp: StrictInt | None = Field(None, ge=0, le=10_000,
                                                description="每笔订单两级佣金合计上限（万分比），按商品实付计，向下取整到分")
    leader_commission_bp: StrictInt | None = Field(None, ge=0, le=3000, description="团长佣金全局比例（万分比）")


class PromoterOut(BaseModel):
    user_id: int
    status: Literal["applied", "approved", "rejected", "disabled"]
    level_id: int | None
    real_name: str
    phone: str
    apply_note: str
    review_note: str
    applied_at: str | None


class PromoterListQuery(Page):
    status: Literal["applied", "approved", "rejected", "disabled"] | None = None


class PromoterListOut(BaseModel):
    total: int
    items: list[PromoterOut]


class ReviewIn(_In):
    approve: StrictBool
    note: str = Field("", max_length=200)


class PromoterStatusIn(_In):
    status: Literal["approved", "disabled"]
    level_id: StrictInt | None = Field(None, ge=1, le=2**62)
    note: str = Field("", max_length=200)


class LevelIn(_In):
    name: Name = Field(min_length=1, max_length=32)
    rank: StrictInt = Field(ge=0, le=1000)
    level1_bp: StrictInt = Field(ge=0, le=10_000)
    level2_bp: StrictInt = Field(ge=0, le=10_000)
    min_direct_invites: StrictInt = Field(0, ge=0, le=10**6)
    min_team_spend_fen: StrictInt = Field(0, ge=0, le=10**12)
    min_own_spend_fen: StrictInt = Field(0, ge=0, le=10**12)
    is_active: StrictBool = True


class LevelOut(BaseModel):
    id: int
    name: str
    rank: int
    level1_bp: int
    level2_bp: int
    min_direct_invites: int
    min_team_spend_fen: int
    min_own_spend_fen: int
    is_active: bool


class LevelListOut(BaseModel):
    items: list[LevelOut]


class ProductRuleIn(_In):
    mode: Literal["default", "percent", "fixed", "none"]
    level1_value: StrictInt = Field(0, ge=0, le=10**8, description="percent: 基点；fixed: 每件分")
    level2_value: StrictInt = Field(0, ge=0, le=10**8)


class ProductRuleOut(BaseModel):
    product_id: int
    mode: Literal["default", "percent", "fixed", "none"]
    level1_value: int
    level2_value: int


class WithdrawalListQuery(Page):
    status: Literal["requested", "approved", "paying", "paid", "rejected", "failed"] | None = None


class AdminWithdrawalOut(WithdrawalOut):
    user_id: int
    real_name: str


class AdminWithdrawalListOut(BaseModel):
    total: int
    items: list[AdminWithdrawalOut]


class LedgerEntryOut(BaseModel):
    id: int
    bucket: str
    kind: str
    amount_fen: int
    balance_after_fen: int
    ref_type: str
    ref_id: int
    idempotency_key: str
    created_at: str


class LedgerOut(BaseModel):
    total: int
    balances: dict[str, int]
    items: list[LedgerEntryOut]


class AuditQuery(Page):
    user_id: int | None = Field(None, ge=1, le=2**62)


class AuditOut(BaseModel):
    id: int
    user_id: int
    action: Literal["bind", "rebind", "expire", "manual"]
    old_promoter_id: int | None
    new_promoter_id: int | None
    reason: str
    scene: str
    operator_id: int | None
    created_at: str


class AuditListOut(BaseModel):
    total: int
    items: list[AuditOut]


class BindingIn(_In):
    promoter_id: StrictInt | None = Field(None, ge=1, le=2**62, description="null 表示解除绑定")
    reason: str = Field(min_length=1, max_length=200)


class BindingOut(BaseModel):
    user_id: int
    promoter_id: int | None
    previous_promoter_id: int | None
