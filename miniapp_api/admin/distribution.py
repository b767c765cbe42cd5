"""Admin API for distribution: settings, promoter review and levels, product commission
rules, withdrawal review, ledger per user, referral bindings and their audit log."""

from __future__ import annotations

from aiohttp import web

from huituan.core.web.auth import Auth
from huituan.core.web.http import json_response, parse_json, parse_query, path_int
from huituan.core.web.keys import RUNTIME_KEY
from huituan.core.web.openapi import api
from huituan.miniapp_api.admin.distribution_schemas import (
    AdminWithdrawalListOut,
    AuditListOut,
    AuditQuery,
    BindingIn,
    BindingOut,
    LedgerOut,
    LevelIn,
    LevelListOut,
    LevelOut,
    Page,
    ProductRuleIn,
    ProductRuleOut,
    PromoterListOut,
    PromoterListQuery,
    PromoterOut,
    PromoterStatusIn,
    ReviewIn,
    SettingsOut,
    SettingsPatch,
    WithdrawalListQuery,
)
from huituan.miniapp_api.schemas.promoter import WithdrawalOut
from huituan.models.promoter import PromoterStatus
from huituan.services import distribution_settings, promoters, withdrawals
from huituan.services.commission import queries as commission_queries
from huituan.services.referrals import list_audit, manual_bind

P = "/api/admin/v1/distribution"
TAG = "admin-distribution"


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
        body=ProductRuleIn, response=ProductRuleOut, errors=(404,), **a)
    api(app, "GET", f"{P}/withdrawals", list_withdrawals, summary="提现列表", query=WithdrawalListQuery,
        response=AdminWithdrawalListOut, **a)
    api(app, "POST", f"{P}/withdrawals/{{id}}/review", review_withdrawal, summary="审核提现", body=ReviewIn,
        response=WithdrawalOut, errors=(404, 409), **a)
    api(app, "GET", f"{P}/ledger/{{user_id}}", user_ledger, summary="用户佣金账本", query=Page,
        response=LedgerOut, errors=(404,), **a)
    api(app, "GET", f"{P}/bindings/audit", binding_audit, summary="推荐关系变更记录", query=AuditQuery,
        response=AuditListOut, **a)
    api(app, "PUT", f"{P}/bindings/{{user_id}}", set_binding, summary="手动修改推荐关系", body=BindingIn,
        response=BindingOut, errors=(404,), **a)
