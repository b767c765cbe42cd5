"""WeChat Pay callbacks. Verify first: nothing is parsed or stored before the signature and
timestamp check passes; WeChat v3 expects {"code": "SUCCESS"} to stop retrying."""

from __future__ import annotations

from aiohttp import web

from core.errors import SignatureInvalid
from miniapp_api.http import json_response
from miniapp_api.keys import RUNTIME_KEY
from miniapp_api.openapi import api
from miniapp_api.schemas.orders import PayNotifyAckOut
from services import withdrawals
from services.orders import payments, refunds

# WeChat reads code/message; error/details keep the shape of every other error (ErrorOut).
_FAIL = {"code": "FAIL", "message": "签名校验失败", "error": "signature_invalid", "details": {}}


async def _verified(request: web.Request) -> dict | None:
    rt = request.app[RUNTIME_KEY]
    body = await request.read()
    try:
        return await rt.wechat.pay.parse_notify(request.headers, body)
    except SignatureInvalid:
        return None


async def pay_notify(request: web.Request) -> web.Response:
    notify = await _verified(request)
    if notify is None:
        return json_response(_FAIL, status=401)
    await payments.handle_pay_notify(request.app[RUNTIME_KEY], notify)
    return json_response({"code": "SUCCESS"})


async def refund_notify(request: web.Request) -> web.Response:
    notify = await _verified(request)
    if notify is None:
        return json_response(_FAIL, status=401)
    await refunds.handle_refund_notify(request.app[RUNTIME_KEY], notify)
    return json_response({"code": "SUCCESS"})


async def transfer_notify(request: web.Request) -> web.Response:
    notify = await _verified(request)
    if notify is None:
        return json_response(_FAIL, status=401)
    await withdrawals.handle_transfer_notify(notify)
    return json_response({"code": "SUCCESS"})


_RAW = ("请求体为微信支付 API v3 回调原文（JSON，resource 为 AEAD_AES_256_GCM 密文），"
        "以 Wechatpay-Signature / Wechatpay-Timestamp / Wechatpay-Nonce / Wechatpay-Serial 头验签；"
        "签名无效或时间戳过期返回 401 且不做任何变更；重复通知幂等。")


def setup(app: web.Application) -> None:
    api(app, "POST", "/api/v1/pay/notify", pay_notify, summary="微信支付结果通知", tag="pay", public=True,
        response=PayNotifyAckOut, errors=(401,), description=_RAW)
    api(app, "POST", "/api/v1/pay/refund-notify", refund_notify, summary="微信退款结果通知", tag="pay",
        public=True, response=PayNotifyAckOut, errors=(401,), description=_RAW)
    api(app, "POST", "/api/v1/pay/transfer-notify", transfer_notify, summary="商家转账结果通知", tag="pay",
        public=True, response=PayNotifyAckOut, errors=(401,), description=_RAW)
