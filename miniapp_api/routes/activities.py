"""Activities in the mini-program: group-buy (拼团), bargain (砍价), flash sale (秒杀)."""

from __future__ import annotations

from aiohttp import web

from huituan.core.errors import ValidationFailed
from huituan.core.web.auth import Auth
from huituan.core.web.http import parse_json, parse_query, path_int
from huituan.core.web.keys import RUNTIME_KEY, SETTINGS_KEY
from huituan.core.web.openapi import Header, api
from huituan.miniapp_api.schemas import activities as s
from huituan.miniapp_api.schemas.orders import MyOrderOut
from huituan.services.activities import bargain, flash_claims, flash_sale, group_buy

IDEMPOTENCY = {"Idempotency-Key": Header("必填，1 到 64 个可打印字符；同一用户同一个键返回同一个订单（重放返回 200），"
                                         "同一个键用于不同请求返回 422", required=True)}


# -- group-buy ---------------------------------------------------------------------------------

async def list_group_buys(request: web.Request) -> web.Response:
    return s.respond(s.GroupActivityListOut, await group_buy.list_activities())


async def group_buy_detail(request: web.Request) -> web.Response:
    return s.respond(s.GroupActivityDetailOut, await group_buy.activity_detail(path_int(request, "id")))


async def open_group(request: web.Request, uid: int) -> web.Response:
    body = await parse_json(request, s.OpenGroupIn)
    data, created = await group_buy.join_group(
        request.app[SETTINGS_KEY], uid, request.headers.get("Idempotency-Key", ""), open_new=True, **body.model_dump())
    return s.respond(s.GroupOrderOut, data, 201 if created else 200)


async def join_group(request: web.Request, uid: int) -> web.Response:
    body = await parse_json(request, s.JoinGroupIn)
    data, created = await group_buy.join_group(request.app[SETTINGS_KEY], uid, request.headers.get("Idempotency-Key", ""),
                                               **body.model_dump())
    return s.respond(s.GroupOrderOut, data, 201 if created else 200)


async def get_group(request: web.Request) -> web.Response:
    return s.respond(s.GroupOut, await group_buy.get_group(group_id=path_int(request, "id")))


async def find_group(request: web.Request) -> web.Response:
    q = parse_query(request, s.ShareCodeQuery)
    return s.respond(s.GroupOut, await group_buy.get_group(share_code=q.share_code))


async def my_groups(request: web.Request, uid: int) -> web.Response:
    return s.respond(s.MyGroupListOut, await group_buy.my_groups(uid))


# -- bargain -----------------------------------------------------------------------------------

async def list_bargain_activities(request: web.Request) -> web.Response:
    return s.respond(s.BargainActivityListOut, await bargain.list_activities())


async def bargain_activity_detail(request: web.Request) -> web.Response:
    return s.respond(s.BargainActivityOut, await bargain.activity_detail(path_int(request, "id")))


async def start_bargain(request: web.Request, uid: int) -> web.Response:
    data, created = await bargain.start_bargain(uid, path_int(request, "id"))
    return s.respond(s.BargainOut, data, 201 if created else 200)


async def get_bargain(request: web.Request) -> web.Response:
    return s.respond(s.BargainOut, await bargain.get_bargain(path_int(request, "id")))


async def help_bargain(request: web.Request, uid: int) -> web.Response:
    rt = request.app[RUNTIME_KEY]
    return s.respond(s.HelpOut, await bargain.help_bargain(rt.redis, rt.settings, uid, path_int(request, "id"),
                                                           ip=request.remote or ""), 201)


async def buy_bargain(request: web.Request, uid: int) -> web.Response:
    body = await parse_json(request, s.BuyBargainIn)
    order, created = await bargain.buy_bargain(request.app[SETTINGS_KEY], uid,
                                               request.headers.get("Idempotency-Key", ""), **body.model_dump())
    return s.respond(MyOrderOut, order, 201 if created else 200)


async def my_bargains(request: web.Request, uid: int) -> web.Response:
    return s.respond(s.BargainListOut, await bargain.my_bargains(uid))


# -- flash sale --------------------------------------------------------------------------------

async def list_flash_sessions(request: web.Request) -> web.Response:
    return s.respond(s.FlashSessionListOut, await flash_sale.list_sessions(request.app[RUNTIME_KEY].redis))


async def flash_session_detail(request: web.Request) -> web.Response:
    return s.respond(s.FlashSessionOut, await flash_sale.get_session(request.app[RUNTIME_KEY].redis,
                                                                     path_int(request, "id")))


async def claim(request: web.Request, uid: int) -> web.Response:
    rt = request.app[RUNTIME_KEY]
    body = await parse_json(request, s.ClaimIn)
    answer, how = await flash_claims.claim(rt.redis, rt.settings, uid, body.session_id, body.item_id,
                                         body.quantity, request.headers.get("Idempotency-Key", ""),
                                         delivery_mode=body.delivery_mode, address_id=body.address_id,
                                         pickup_point_id=body.pickup_point_id, remark=body.remark)
    if how == flash_claims.QUEUED:
        return s.respond(s.ClaimStateOut, answer, 202)
    return s.respond(MyOrderOut, answer, 201 if how == flash_claims.CREATED else 200)


async def claim_state(request: web.Request, uid: int) -> web.Response:
    q = parse_query(request, s.ClaimStateQuery)
    for name in ("session_id", "request_id"):
        if getattr(q, name) is None:
            raise ValidationFailed(f"{name}: 缺少必填字段", field=name)
    return s.respond(s.ClaimStateOut, await flash_claims.claim_state(request.app[RUNTIME_KEY].redis, uid,
                                                                   q.session_id, q.request_id))


async def my_claims(request: web.Request, uid: int) -> web.Response:
    return s.respond(s.FlashClaimListOut, await flash_sale.my_claims(uid))


def setup(app: web.Application) -> None:
    user, public = dict(auth=Auth.user), dict(auth=Auth.public)
    api(app, "GET", "/api/v1/group-buys", list_group_buys, summary="进行中的拼团活动", tag="group-buy",
        response=s.GroupActivityListOut, **public)
    api(app, "GET", "/api/v1/group-buys/{id}", group_buy_detail, summary="拼团活动详情（含可参团的团，差人最少在前）",
        tag="group-buy", response=s.GroupActivityDetailOut, errors=(404,), **public)
    api(app, "POST", "/api/v1/group-buys/open", open_group, summary="开团（下单即占座）", tag="group-buy",
        body=s.OpenGroupIn, response=s.GroupOrderOut, status=201, errors=(404, 409), headers=IDEMPOTENCY,
        also={200: "同一个 Idempotency-Key 的重放"},
        description="创建新团并下单，团长占第一个座位。409：活动未开始/已结束（activity_not_started/activity_ended）、"
                    "开团数已满、每人参团上限（group_limit_reached）、库存不足。", **user)
    api(app, "POST", "/api/v1/groups/join", join_group, summary="参团（按分享码或团 id，下单即占座）", tag="group-buy",
        body=s.JoinGroupIn, response=s.GroupOrderOut, status=201, errors=(404, 409), headers=IDEMPOTENCY,
        also={200: "同一个 Idempotency-Key 的重放"},
        description="名额在下单时占用，团不会超员。409 group_full「该团已满员」、group_expired「该团已结束」、"
                    "group_already_joined「您已在这个团里，不能重复参团」（含自己开的团）。未支付的名额在支付期限到时释放。",
        **user)
    api(app, "GET", "/api/v1/groups/lookup", find_group, summary="按分享码查看团", tag="group-buy",
        query=s.ShareCodeQuery, response=s.GroupOut, errors=(404,), **public)
    api(app, "GET", "/api/v1/groups/{id}", get_group, summary="团详情（实时名额、剩余时间、真实成员）", tag="group-buy",
        response=s.GroupOut, errors=(404,), **public)
    api(app, "GET", "/api/v1/me/groups", my_groups, summary="我的拼团（已支付，等待成团）", tag="group-buy",
        response=s.MyGroupListOut, **user)

    api(app, "GET", "/api/v1/bargain-activities", list_bargain_activities, summary="进行中的砍价活动", tag="bargain",
        response=s.BargainActivityListOut, **public)
    api(app, "GET", "/api/v1/bargain-activities/{id}", bargain_activity_detail, summary="砍价活动详情", tag="bargain",
        response=s.BargainActivityOut, errors=(404,), **public)
    api(app, "POST", "/api/v1/bargain-activities/{id}/start", start_bargain, summary="发起砍价", tag="bargain",
        response=s.BargainOut, status=201, errors=(404, 409), also={200: "已有进行中的砍价：返回它"}, **user)
    api(app, "GET", "/api/v1/bargains/{id}", get_bargain, summary="砍价详情（当前价、进度、还差几人）", tag="bargain",
        response=s.BargainOut, errors=(404,), **public)
    api(app, "POST", "/api/v1/bargains/{id}/help", help_bargain, summary="帮砍一刀", tag="bargain",
        response=s.HelpOut, status=201, errors=(404, 409, 429),
        description="403 bargain_self_help「不能给自己砍价」；409 bargain_already_helped「您已经帮TA砍过了」、"
                    "bargain_floor_reached、bargain_finished、bargain_help_limit（每活动/每天次数）；429 操作太频繁（按用户和 IP）。"
                    "帮砍不获得任何奖励。", **user)
    api(app, "POST", "/api/v1/bargains/buy", buy_bargain, summary="按当前价（活动允许时）或底价购买", tag="bargain",
        body=s.BuyBargainIn, response=MyOrderOut, status=201, errors=(404, 409), headers=IDEMPOTENCY,
        also={200: "同一个 Idempotency-Key 的重放"}, **user)
    api(app, "GET", "/api/v1/me/bargains", my_bargains, summary="我的砍价", tag="bargain",
        response=s.BargainListOut, **user)

    api(app, "GET", "/api/v1/flash-sales", list_flash_sessions, summary="秒杀场次（进行中和即将开始）", tag="flash-sale",
        response=s.FlashSessionListOut, **public)
    api(app, "GET", "/api/v1/flash-sales/{id}", flash_session_detail, summary="秒杀场次详情（实时库存）",
        tag="flash-sale", response=s.FlashSessionOut, errors=(404,), **public)
    api(app, "POST", "/api/v1/flash-sales/claims", claim, summary="抢购（一次原子抢占后下单）", tag="flash-sale",
        body=s.ClaimIn, response=MyOrderOut, status=201, errors=(404, 409), headers=IDEMPOTENCY,
        also={200: "同一个 Idempotency-Key 的重放：返回同一个订单",
              202: ("抢到了，订单排队生成中（抢购高峰）：用 GET /api/v1/flash-sales/claims/state 轮询", s.ClaimStateOut)},
        description="201 抢到并已生成订单；202 抢到了，订单在排队生成（高峰时立即应答，小程序按 retry_after_ms 轮询 "
                    "/api/v1/flash-sales/claims/state，或用同一个 Idempotency-Key 重发本请求）。"
                    "同一个键重发：同一请求返回同一个订单（200）或仍在排队（202），请求内容不同返回 422 idempotency_key_reused，"
                    "已失败的抢购返回 409 及失败原因的错误码（如 address_not_found）。快递须带 address_id、自提须带 pickup_point_id，"
                    "缺少时在抢占之前返回 422。"
                    "409 flash_not_started「秒杀尚未开始」、flash_ended「秒杀已结束」、flash_sold_out「已抢光」、"
                    "flash_limit_reached「每人限购 N 件」；422 quantity 超过每人限购。未在支付时限内付款，名额自动释放。",
        **user)
    api(app, "GET", "/api/v1/flash-sales/claims/state", claim_state, summary="抢购结果（202 之后轮询）",
        tag="flash-sale", query=s.ClaimStateQuery, response=s.ClaimStateOut, errors=(404,),
        description="queued 订单生成中；ordered 已生成（order 为订单，去支付）；failed 未能生成（名额已释放，error 说明原因，"
                    "可用同一个 Idempotency-Key 重新抢购）。404 flash_claim_not_found：没有这次抢购。",
        **user)
    api(app, "GET", "/api/v1/me/flash-claims", my_claims, summary="我的秒杀", tag="flash-sale",
        response=s.FlashClaimListOut, **user)
