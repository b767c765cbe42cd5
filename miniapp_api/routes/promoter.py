"""Promoter (推手) endpoints: status and application, referral binding, team, commission
records, wallet, withdrawals; and the WeChat Pay merchant-transfer notify."""

from __future__ import annotations

from aiohttp import web

from huituan.core.web.auth import Auth
from huituan.core.web.http import json_response, parse_json, parse_query, path_int
from huituan.core.web.keys import RUNTIME_KEY
from huituan.core.web.openapi import Header, api
from huituan.miniapp_api.schemas.promoter import (
    ApplyIn,
    BindIn,
    BindOut,
    PromoterStatusOut,
    RecordsOut,
    RecordsQuery,
    TeamOut,
    TeamQuery,
    WalletOut,
    WithdrawalListOut,
    WithdrawalListQuery,
    WithdrawalOut,
    WithdrawIn,
)
from huituan.services import promoters, withdrawals
from huituan.services.commission import queries as commission_queries
from huituan.services.referrals.team import my_team
from huituan.services.sharing.codes import bind_scene


async def me(request: web.Request, user_id: int) -> web.Response:
    return json_response(await promoters.promoter_status(user_id))


async def apply(request: web.Request, uid: int) -> web.Response:
    body = await parse_json(request, ApplyIn)
    return json_response(await promoters.apply(uid, body.real_name.strip(), body.phone.strip(), body.note.strip()),
                         status=201)


async def bind(request: web.Request, uid: int) -> web.Response:
    body = await parse_json(request, BindIn)
    r = await bind_scene(uid, body.scene)
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
    key = request.headers.get("Idempotency-Key", "")
    body = await parse_json(request, WithdrawIn)
    out, created = await withdrawals.request_withdrawal_once(request.app[RUNTIME_KEY], uid, key, body.amount_fen,
                                                             body.real_name)
    return json_response(out, status=201 if created else 200)


async def list_withdrawals(request: web.Request, user_id: int) -> web.Response:
    q = parse_query(request, WithdrawalListQuery)
    return json_response(await withdrawals.list_withdrawals(user_id, None, q.page, q.page_size))


async def get_withdrawal(request: web.Request, uid: int) -> web.Response:
    return json_response(await withdrawals.get_withdrawal(uid, path_int(request, "id")))


_W_ERRORS = ("422: 金额低于最低提现额/非整数/缺少实名（details.field），缺少 Idempotency-Key，或同一个键用于不同的请求"
             "（idempotency_key_reused）；409: 余额不足、存在欠款、超出每日限额。")


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
        body=WithdrawIn, response=WithdrawalOut, status=201, errors=(409, 422), description=_W_ERRORS,
        headers={"Idempotency-Key": Header("必填，1 到 64 个字符；同一用户同一个键返回同一笔提现（重放返回 200），"
                                           "同一个键用于不同的请求返回 422", required=True, min_length=1)},
        also={200: "同一个 Idempotency-Key 的重放：返回最初的提现"})
    api(app, "GET", "/api/v1/promoter/withdrawals", list_withdrawals, summary="提现记录", tag=tag, auth=Auth.user,
        query=WithdrawalListQuery, response=WithdrawalListOut)
    api(app, "GET", "/api/v1/promoter/withdrawals/{id}", get_withdrawal, summary="提现详情", tag=tag, auth=Auth.user,
        response=WithdrawalOut, errors=(404,))
