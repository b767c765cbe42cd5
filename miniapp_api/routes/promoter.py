"""Promoter (推手) endpoints: status and application, referral binding, team, commission
records, wallet, withdrawals; and the WeChat Pay merchant-transfer notify."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from huituan.core.web.auth import Auth
from huituan.core.web.http import json_response, parse_json, parse_query, path_int
from huituan.core.web.keys import RUNTIME_KEY
from huituan.core.web.openapi import api
from huituan.services import promoters, withdrawals
from huituan.services.commission import queries as commission_queries
from huituan.services.referrals import bind_from_scene
from huituan.services.referrals.team import my_team


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


async def me(request: web.Request, user_id: int) -> web.Response:
    return json_response(await promoters.promoter_status(user_id))


async def apply(request: web.Request, uid: int) -> web.Response:
    body = await parse_json(request, ApplyIn)
    return json_response(await promoters.apply(uid, body.real_name.strip(), body.phone.strip(), body.note.strip()),
                         status=201)


async def bind(request: web.Request, uid: int) -> web.Response:
    body = await parse_json(request, BindIn)
    r = await bind_from_scene(uid, body.scene)
    return json_response({"bound": r.bound, "action": r.action, "reason": r.reason, "promoter_id": r.promoter_id})


async def team(request: web.Request, user_id: int) -> web.Response:
    q = parse_query(request, TeamQuery)
    return json_response(await my_team(user_id, q.level, q.page, q.page_size))


async def records(request: web.Request, user_id: int) -> web.Response:
    q = parse_query(request, RecordsQuery)
    return json_response(await commission_queries.list_records(user_id, q.status, q.page,
                                                               q.page_size))


async def wallet(request: web.Request, user_id: int) -> web.Response:
    return json_response(await commission_queries.wallet_summary(user_id))


async def withdraw(request: web.Request, uid: int) -> web.Response:
    body = await parse_json(request, WithdrawIn)
    out = await withdrawals.request_withdrawal(request.app[RUNTIME_KEY], uid, body.amount_fen, body.real_name)
    return json_response(out, status=201)


async def list_withdrawals(request: web.Request, user_id: int) -> web.Response:
    q = parse_query(request, WithdrawalListQuery)
    return json_response(await withdrawals.list_withdrawals(user_id, None, q.page, q.page_size))


async def get_withdrawal(request: web.Request, uid: int) -> web.Response:
    return json_response(await withdrawals.get_withdrawal(uid, path_int(request, "id")))


_W_ERRORS = "422: 金额低于最低提现额/非整数/缺少实名（details.field）；409: 余额不足、存在欠款、超出每日限额。"


def setup(app: web.Application) -> None:
    tag = "promoter"
    api(app, "GET", "/api/v1/promoter/me", me, summary="我的推手状态", tag=tag, auth=Auth.user,
        response=PromoterStatusOut)
    api(app, "POST", "/api/v1/promoter/apply", apply, summary="申请成为推手", tag=tag, auth=Auth.user,
        body=ApplyIn, response=PromoterStatusOut, status=201, errors=(409,))
    api(app, "POST", "/api/v1/referrals/bind", bind, summary="打开分享后绑定推荐关系", tag=tag, auth=Auth.user,
        body=BindIn, response=BindOut,
        description="按后台绑定模式决定是否绑定；不满足条件时 bound=false 并给出 reason，不报错。")
    api(app, "GET", "/api/v1/promoter/team", team, summary="我的团队（一级/二级）", tag=tag, auth=Auth.user,
        query=TeamQuery, response=TeamOut)
    api(app, "GET", "/api/v1/promoter/commissions", records, summary="我的佣金明细", tag=tag, auth=Auth.user,
        query=RecordsQuery, response=RecordsOut)
    api(app, "GET", "/api/v1/promoter/wallet", wallet, summary="佣金钱包", tag=tag, auth=Auth.user, response=WalletOut)
    api(app, "POST", "/api/v1/promoter/withdrawals", withdraw, summary="申请提现", tag=tag, auth=Auth.user,
        body=WithdrawIn, response=WithdrawalOut, status=201, errors=(409, 422), description=_W_ERRORS)
    api(app, "GET", "/api/v1/promoter/withdrawals", list_withdrawals, summary="提现记录", tag=tag, auth=Auth.user,
        query=WithdrawalListQuery, response=WithdrawalListOut)
    api(app, "GET", "/api/v1/promoter/withdrawals/{id}", get_withdrawal, summary="提现详情", tag=tag, auth=Auth.user,
        response=WithdrawalOut, errors=(404,))
