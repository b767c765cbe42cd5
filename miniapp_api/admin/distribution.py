"""Admin API for distribution: settings, promoter review and levels, product commission
rules, withdrawal review, ledger per user, referral bindings and their audit log."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from huituan.core.web.auth import Auth
from huituan.core.web.http import json_response, parse_json, parse_query, path_int
from huituan.core.web.keys import RUNTIME_KEY
from huituan.core.web.openapi import api
from huituan.miniapp_api.routes.promoter import WithdrawalOut
from huituan.models.promoter import PromoterStatus
from huituan.services import distribution_settings, promoters, withdrawals
from huituan.services.commission import queries as commission_queries
from huituan.services.referrals import list_audit, manual_bind

P = "/api/admin/v1/distribution"
TAG = "admin-distribution"


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
    name: str = Field(min_length=1, max_length=32)
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


async def get_settings(request: web.Request, operator_id: int) -> web.Response:
    return json_response(distribution_settings.settings_to_dict(await distribution_settings.get_settings()))


async def patch_settings(request: web.Request, op: int) -> web.Response:
    body = await parse_json(request, SettingsPatch)
    return json_response(await distribution_settings.update_settings(body.model_dump(exclude_none=True), op))


async def list_promoters(request: web.Request, operator_id: int) -> web.Response:
    q = parse_query(request, PromoterListQuery)
    return json_response(await promoters.list_promoters(q.status, q.page, q.page_size))


async def review_promoter(request: web.Request, op: int) -> web.Response:
    body = await parse_json(request, ReviewIn)
    return json_response(await promoters.review(path_int(request, "user_id"), body.approve, op, body.note))


async def set_promoter_status(request: web.Request, op: int) -> web.Response:
    body = await parse_json(request, PromoterStatusIn)
    return json_response(await promoters.set_status(path_int(request, "user_id"), PromoterStatus(body.status), op,
                                                    body.note, body.level_id))


async def list_levels(request: web.Request, operator_id: int) -> web.Response:
    return json_response({"items": await promoters.list_levels()})


async def create_level(request: web.Request, operator_id: int) -> web.Response:
    body = await parse_json(request, LevelIn)
    return json_response(await promoters.save_level(body.model_dump()), status=201)


async def update_level(request: web.Request, operator_id: int) -> web.Response:
    body = await parse_json(request, LevelIn)
    return json_response(await promoters.save_level(body.model_dump(), path_int(request, "level_id")))


async def get_product_rule(request: web.Request, operator_id: int) -> web.Response:
    return json_response(await commission_queries.get_product_rule(path_int(request, "product_id")))


async def put_product_rule(request: web.Request, operator_id: int) -> web.Response:
    body = await parse_json(request, ProductRuleIn)
    return json_response(await commission_queries.set_product_rule(path_int(request, "product_id"), body.mode,
                                                                   body.level1_value, body.level2_value))


async def list_withdrawals(request: web.Request, operator_id: int) -> web.Response:
    q = parse_query(request, WithdrawalListQuery)
    return json_response(await withdrawals.list_withdrawals(None, q.status, q.page, q.page_size))


async def review_withdrawal(request: web.Request, op: int) -> web.Response:
    body = await parse_json(request, ReviewIn)
    return json_response(await withdrawals.review_withdrawal(request.app[RUNTIME_KEY], path_int(request, "id"),
                                                             body.approve, op, body.note))


async def user_ledger(request: web.Request, operator_id: int) -> web.Response:
    q = parse_query(request, Page)
    return json_response(await commission_queries.ledger_entries(path_int(request, "user_id"), q.page, q.page_size))


async def binding_audit(request: web.Request, operator_id: int) -> web.Response:
    q = parse_query(request, AuditQuery)
    return json_response(await list_audit(q.user_id, q.page, q.page_size))


async def set_binding(request: web.Request, op: int) -> web.Response:
    body = await parse_json(request, BindingIn)
    return json_response(await manual_bind(path_int(request, "user_id"), body.promoter_id, op, body.reason))


def setup(app: web.Application) -> None:
    a = dict(tag=TAG, auth=Auth.operator)
    api(app, "GET", f"{P}/settings", get_settings, summary="分销设置", response=SettingsOut, **a)
    api(app, "PATCH", f"{P}/settings", patch_settings, summary="修改分销设置（绑定、推手、佣金、冻结、提现）",
        body=SettingsPatch, response=SettingsOut, **a)
    api(app, "GET", f"{P}/promoters", list_promoters, summary="推手列表", query=PromoterListQuery,
        response=PromoterListOut, **a)
    api(app, "POST", f"{P}/promoters/{{user_id}}/review", review_promoter, summary="审核推手申请", body=ReviewIn,
        response=PromoterOut, errors=(404, 409), **a)
    api(app, "POST", f"{P}/promoters/{{user_id}}/status", set_promoter_status, summary="设置推手状态/等级",
        body=PromoterStatusIn, response=PromoterOut, errors=(404,), **a)
    api(app, "GET", f"{P}/levels", list_levels, summary="推手等级", response=LevelListOut, **a)
    api(app, "POST", f"{P}/levels", create_level, summary="新增推手等级", body=LevelIn, response=LevelOut,
        status=201, errors=(409,), **a)
    api(app, "PUT", f"{P}/levels/{{level_id}}", update_level, summary="修改推手等级", body=LevelIn,
        response=LevelOut, errors=(404, 409), **a)
    api(app, "GET", f"{P}/products/{{product_id}}/rule", get_product_rule, summary="商品佣金规则",
        response=ProductRuleOut, **a)
    api(app, "PUT", f"{P}/products/{{product_id}}/rule", put_product_rule, summary="设置商品佣金规则",
        body=ProductRuleIn, response=ProductRuleOut, **a)
    api(app, "GET", f"{P}/withdrawals", list_withdrawals, summary="提现列表", query=WithdrawalListQuery,
        response=AdminWithdrawalListOut, **a)
    api(app, "POST", f"{P}/withdrawals/{{id}}/review", review_withdrawal, summary="审核提现", body=ReviewIn,
        response=WithdrawalOut, errors=(404, 409), **a)
    api(app, "GET", f"{P}/ledger/{{user_id}}", user_ledger, summary="用户佣金账本", query=Page,
        response=LedgerOut, **a)
    api(app, "GET", f"{P}/bindings/audit", binding_audit, summary="推荐关系变更记录", query=AuditQuery,
        response=AuditListOut, **a)
    api(app, "PUT", f"{P}/bindings/{{user_id}}", set_binding, summary="手动修改推荐关系", body=BindingIn,
        response=BindingOut, errors=(404,), **a)
