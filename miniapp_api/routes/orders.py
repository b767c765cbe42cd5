"""Orders of the current user: create (idempotent), list, detail, cancel, pay, confirm, refunds."""

from __future__ import annotations

from aiohttp import web

from huituan.core.web.auth import Auth
from huituan.core.web.http import json_response, parse_json, parse_query, path_int
from huituan.core.web.keys import RUNTIME_KEY, SETTINGS_KEY
from huituan.core.web.openapi import Header, api
from huituan.miniapp_api.schemas.orders import (
    CreateOrderIn,
    MyOrderListOut,
    MyOrderOut,
    MyRefundListOut,
    MyRefundOut,
    OrderQuery,
    PaymentParamsOut,
    RefundIn,
)
from huituan.services.orders import create, lifecycle, payments, queries, refunds


async def create_order(request: web.Request, uid: int) -> web.Response:
    key = request.headers.get("Idempotency-Key", "")
    body = await parse_json(request, CreateOrderIn)
    order, created = await create.create_order(
        request.app[SETTINGS_KEY], uid, key, items=[i.model_dump() for i in body.items],
        delivery_mode=body.delivery_mode, address_id=body.address_id, pickup_point_id=body.pickup_point_id,
        remark=body.remark)
    return json_response(order, status=201 if created else 200)


async def list_orders(request: web.Request, uid: int) -> web.Response:
    q = parse_query(request, OrderQuery)
    return json_response(await queries.list_orders(uid, q.status, q.page, q.page_size))


async def get_order(request: web.Request, uid: int) -> web.Response:
    return json_response(await queries.get_order(uid, path_int(request, "id")))


async def cancel_order(request: web.Request, uid: int) -> web.Response:
    return json_response(await lifecycle.cancel_order(uid, path_int(request, "id"), request.app[RUNTIME_KEY]))


async def pay_order(request: web.Request, uid: int) -> web.Response:
    return json_response(await payments.prepay_order(request.app[RUNTIME_KEY], uid, path_int(request, "id")))


async def confirm_order(request: web.Request, uid: int) -> web.Response:
    return json_response(await lifecycle.confirm_receipt(uid, path_int(request, "id")))


async def request_refund(request: web.Request, uid: int) -> web.Response:
    oid = path_int(request, "id")
    body = await parse_json(request, RefundIn)
    items = [i.model_dump() for i in body.items] if body.items else None
    return json_response(await refunds.request_refund(uid, oid, body.reason, items), status=201)


async def list_refunds(request: web.Request, uid: int) -> web.Response:
    return json_response(await queries.list_refunds(uid, path_int(request, "id")))


def setup(app: web.Application) -> None:
    api(app, "POST", "/api/v1/orders", create_order, summary="下单（扣减库存）", tag="orders", auth=Auth.user,
        body=CreateOrderIn, response=MyOrderOut, status=201, errors=(404, 409),
        headers={"Idempotency-Key": Header("必填，1 到 64 个可打印字符；同一用户同一个键返回同一个订单（重放返回 200），"
                                           "同一个键用于不同的请求返回 422 idempotency_key_reused",
                                           required=True, min_length=1)},
        also={200: "同一个 Idempotency-Key 的重放：返回最初创建的订单"},
        description="价格取自规格；库存在下单时扣减，任一规格库存不足则整单失败（409 out_of_stock，details.sku_id）。"
                    "快递需 address_id，自提需 pickup_point_id。")
    api(app, "GET", "/api/v1/orders", list_orders, summary="我的订单", tag="orders", auth=Auth.user,
        query=OrderQuery, response=MyOrderListOut)
    api(app, "GET", "/api/v1/orders/{id}", get_order, summary="订单详情", tag="orders", auth=Auth.user,
        response=MyOrderOut, errors=(404,))
    api(app, "POST", "/api/v1/orders/{id}/cancel", cancel_order, summary="取消未支付订单（库存归还）", tag="orders",
        auth=Auth.user, response=MyOrderOut, errors=(404, 409))
    api(app, "POST", "/api/v1/orders/{id}/pay", pay_order, summary="发起支付（返回 wx.requestPayment 参数）",
        tag="orders", auth=Auth.user, response=PaymentParamsOut, errors=(404, 409, 502))
    api(app, "POST", "/api/v1/orders/{id}/confirm", confirm_order, summary="确认收货", tag="orders", auth=Auth.user,
        response=MyOrderOut, errors=(404, 409))
    api(app, "POST", "/api/v1/orders/{id}/refunds", request_refund, summary="申请退款（整单或部分商品）",
        tag="orders", auth=Auth.user, body=RefundIn, response=MyRefundOut, status=201, errors=(404, 409),
        description="省略 items 为整单退款；金额由服务端计算。同一订单同时只能有一个处理中的退款。")
    api(app, "GET", "/api/v1/orders/{id}/refunds", list_refunds, summary="订单的退款记录", tag="orders",
        auth=Auth.user, response=MyRefundListOut, errors=(404,))
