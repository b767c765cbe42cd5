"""Admin orders (search, detail, ship, ready for pickup) and refund review."""

from __future__ import annotations

from aiohttp import web

from huituan.core.web.auth import Auth
from huituan.core.web.http import parse_json, parse_query, path_int
from huituan.core.web.keys import RUNTIME_KEY
from huituan.core.web.openapi import api
from huituan.miniapp_api.admin import schemas as s
from huituan.services.orders import admin_queries, refund_review, shipping, unmatched_payments


async def search_orders(request: web.Request, operator_id: int) -> web.Response:
    q = parse_query(request, s.OrderSearchQuery)
    return s.respond(s.OrderListOut, await admin_queries.search_orders(**q.model_dump()))


async def get_order(request: web.Request, operator_id: int) -> web.Response:
    return s.respond(s.OrderDetailOut, await admin_queries.get_order_detail(path_int(request, "order_id")))


async def ship_order(request: web.Request, operator_id: int) -> web.Response:
    order_id = path_int(request, "order_id")
    body = await parse_json(request, s.ShipIn)
    return s.respond(s.OrderDetailOut, await shipping.ship(order_id, body.express_company.strip(),
                                                               body.express_no.strip()))


async def ready_for_pickup(request: web.Request, operator_id: int) -> web.Response:
    return s.respond(s.OrderDetailOut, await shipping.mark_ready(path_int(request, "order_id")))


async def list_refunds(request: web.Request, operator_id: int) -> web.Response:
    q = parse_query(request, s.RefundListQuery)
    return s.respond(s.RefundListOut, await refund_review.list_refunds(**q.model_dump()))


async def get_refund(request: web.Request, operator_id: int) -> web.Response:
    return s.respond(s.RefundOut, await refund_review.refund_detail(path_int(request, "refund_id")))


async def approve_refund(request: web.Request, operator_id: int) -> web.Response:
    refund_id = path_int(request, "refund_id")
    body = await parse_json(request, s.ApproveRefundIn)
    result = await refund_review.approve(request.app[RUNTIME_KEY], refund_id, operator_id, body.note)
    return s.respond(s.RefundOut, result)


async def reject_refund(request: web.Request, operator_id: int) -> web.Response:
    refund_id = path_int(request, "refund_id")
    body = await parse_json(request, s.RejectRefundIn)
    result = await refund_review.reject(request.app[RUNTIME_KEY], refund_id, operator_id, body.note)
    return s.respond(s.RefundOut, result)


async def list_unmatched_payments(request: web.Request, operator_id: int) -> web.Response:
    q = parse_query(request, s.UnmatchedPaymentListQuery)
    return s.respond(s.UnmatchedPaymentListOut, await unmatched_payments.list_unmatched(**q.model_dump()))


async def resolve_unmatched_payment(request: web.Request, operator_id: int) -> web.Response:
    payment_id = path_int(request, "payment_id")
    body = await parse_json(request, s.ResolveUnmatchedIn)
    return s.respond(s.UnmatchedPaymentOut, await unmatched_payments.resolve(payment_id, operator_id, body.note))


async def refund_unmatched_payment(request: web.Request, operator_id: int) -> web.Response:
    payment_id = path_int(request, "payment_id")
    body = await parse_json(request, s.RefundUnmatchedIn)
    result = await unmatched_payments.request_refund(request.app[RUNTIME_KEY], payment_id, operator_id, body.note)
    return s.respond(s.UnmatchedPaymentOut, result)


def setup(app: web.Application) -> None:
    op = dict(auth=Auth.operator)
    api(app, "GET", "/api/admin/v1/orders", search_orders, summary="订单搜索", tag="admin-orders",
        query=s.OrderSearchQuery, response=s.OrderListOut, **op)
    api(app, "GET", "/api/admin/v1/orders/{order_id}", get_order, summary="订单详情（含明细、支付、退款）",
        tag="admin-orders", response=s.OrderDetailOut, errors=(404,), **op)
    api(app, "POST", "/api/admin/v1/orders/{order_id}/ship", ship_order, summary="发货", tag="admin-orders",
        body=s.ShipIn, response=s.OrderDetailOut, errors=(404, 409), **op)
    api(app, "POST", "/api/admin/v1/orders/{order_id}/ready-for-pickup", ready_for_pickup,
        summary="自提订单到货待取", tag="admin-orders", response=s.OrderDetailOut, errors=(404, 409), **op)
    api(app, "GET", "/api/admin/v1/refunds", list_refunds, summary="退款申请列表", tag="admin-refunds",
        query=s.RefundListQuery, response=s.RefundListOut,
        description="`automatic=true`：系统自动退回的支付（金额不符、多付、订单关闭后支付、重复支付），"
                    "`payment_transaction_id` 为被退回的微信支付单号。", **op)
    api(app, "GET", "/api/admin/v1/refunds/{refund_id}", get_refund, summary="退款详情", tag="admin-refunds",
        response=s.RefundOut, errors=(404,), **op)
    api(app, "POST", "/api/admin/v1/refunds/{refund_id}/approve", approve_refund, summary="同意退款",
        tag="admin-refunds", body=s.ApproveRefundIn, response=s.RefundOut, errors=(404, 409, 502), **op)
    api(app, "POST", "/api/admin/v1/refunds/{refund_id}/reject", reject_refund, summary="驳回退款",
        tag="admin-refunds", body=s.RejectRefundIn, response=s.RefundOut, errors=(404, 409), **op)
    api(app, "GET", "/api/admin/v1/unmatched-payments", list_unmatched_payments, summary="未匹配的支付（找不到订单的到账）",
        tag="admin-refunds", query=s.UnmatchedPaymentListQuery, response=s.UnmatchedPaymentListOut,
        description="微信支付通知里的商户订单号在本系统不存在：钱已到账却没有订单可挂退款，系统不会自动退回，"
                    "每笔（按微信支付单号）记录一次并写 ERROR 日志，等运营处理（在商户平台原路退款或人工补单）。", **op)
    api(app, "POST", "/api/admin/v1/unmatched-payments/{payment_id}/resolve", resolve_unmatched_payment,
        summary="标记未匹配支付已处理", tag="admin-refunds", body=s.ResolveUnmatchedIn, response=s.UnmatchedPaymentOut,
        errors=(404, 409), description="open → resolved，附处理说明（已人工补单或在别处退款）；"
                                       "不是 open 的（退款中、已退款、已处理）为 409 unmatched_payment_resolved。",
        **op)
    api(app, "POST", "/api/admin/v1/unmatched-payments/{payment_id}/refund", refund_unmatched_payment,
        summary="原路退回未匹配的支付", tag="admin-refunds", body=s.RefundUnmatchedIn, response=s.UnmatchedPaymentOut,
        errors=(404, 409), description="open → refunding：按微信支付单号全额原路退回付款人（经 outbox 提交，"
                                       "重试用同一退款单号，不会退两次）。退款成功 → refunded；微信拒绝、退款关闭或异常 → "
                                       "回到 open，`refund_failure` 写明原因，可再次发起或人工处理。"
                                       "不是 open 的为 409 unmatched_payment_resolved。", **op)
