"""WeChat Pay callbacks. Verify first: nothing is parsed or stored before the signature and
timestamp check passes; WeChat v3 expects {"code": "SUCCESS"} to stop retrying."""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from aiohttp import web

from huituan.core.errors import NotifyMalformed, SignatureInvalid
from huituan.core.web.auth import Auth
from huituan.core.web.http import json_response
from huituan.core.web.keys import RUNTIME_KEY
from huituan.core.web.openapi import Header, api
from huituan.miniapp_api.schemas.orders import PayNotifyAckOut
from huituan.services import withdrawals
from huituan.services.orders import payments, refunds

# WeChat reads code/message; error/details keep the shape of every other error (ErrorOut).
_FAIL = {"code": "FAIL", "message": "签名校验失败", "error": "signature_invalid", "details": {}}


def _notify_endpoint(apply: Callable[[Any, dict[str, Any]], Awaitable[Any]]):
    """A WeChat Pay callback: verify (401, nothing changed, when it fails), then hand the
    decrypted notify to its service. Every service applies it idempotently."""

    async def handler(request: web.Request) -> web.Response:
        rt = request.app[RUNTIME_KEY]
        try:
            notify = await rt.wechat.pay.parse_notify(request.headers, await request.read())
        except SignatureInvalid:
            return json_response(_FAIL, status=401)
        try:
            await apply(rt, notify)
        except NotifyMalformed as exc:
            # Signed, but not what WeChat sends: refused, nothing stored (WeChat reads code/message).
            return json_response({"code": "FAIL", **exc.to_dict()}, status=400)
        return json_response({"code": "SUCCESS"})

    return handler


pay_notify = _notify_endpoint(payments.handle_pay_notify)
refund_notify = _notify_endpoint(refunds.handle_refund_notify)
transfer_notify = _notify_endpoint(lambda rt, notify: withdrawals.handle_transfer_notify(notify))


_RAW = ("请求体为微信支付 API v3 回调原文（JSON，resource 为 AEAD_AES_256_GCM 密文），"
        "以 Wechatpay-Signature / Wechatpay-Timestamp / Wechatpay-Nonce / Wechatpay-Serial 头验签；"
        "签名无效或时间戳过期返回 401 且不做任何变更；验签通过但内容格式错误（如金额不是正整数）返回 400，"
        "不做任何变更；重复通知幂等；未知单号的通知记录日志并应答成功。")


# WeChat Pay signs every callback: without these the server answers 401 and changes nothing.
SIGNATURE_HEADERS = {
    "Wechatpay-Signature": Header("微信支付平台对回调的 RSA 签名（Base64）", required=True, min_length=1, max_length=1024),
    "Wechatpay-Timestamp": Header("签名时间戳（秒）；与服务器时间相差超过 HUITUAN_WECHATPAY_NOTIFY_MAX_SKEW_SECONDS 返回 401",
                                  required=True, min_length=1),
    "Wechatpay-Nonce": Header("签名随机串", required=True, min_length=1),
    "Wechatpay-Serial": Header("微信支付公钥 ID（PUB_KEY_ID_...），须与配置一致", required=True, min_length=1),
}


def setup(app: web.Application) -> None:
    api(app, "POST", "/api/v1/pay/notify", pay_notify, summary="微信支付结果通知", tag="pay", public=True,
        response=PayNotifyAckOut, errors=(400, 401), description=_RAW, auth=Auth.wechat,
        headers=SIGNATURE_HEADERS)
    api(app, "POST", "/api/v1/pay/refund-notify", refund_notify, summary="微信退款结果通知", tag="pay",
        public=True, response=PayNotifyAckOut, errors=(400, 401), description=_RAW, auth=Auth.wechat,
        headers=SIGNATURE_HEADERS)
    api(app, "POST", "/api/v1/pay/transfer-notify", transfer_notify, summary="商家转账结果通知", tag="pay",
        public=True, response=PayNotifyAckOut, errors=(400, 401), description=_RAW, auth=Auth.wechat,
        headers=SIGNATURE_HEADERS)
