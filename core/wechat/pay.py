"""WeChat Pay API v3 client (wechatpayv3[async], platform public-key mode).

Get it from the runtime: ``rt.wechat.pay``. Public API (money in integer fen):

- ``async jsapi_prepay(out_trade_no: str, description: str, amount_fen: int, payer_openid: str,
  notify_url: str, time_expire: datetime) -> str``  — the prepay_id
- ``request_payment_params(prepay_id: str) -> dict``  — for ``wx.requestPayment``:
  ``{appId, timeStamp, nonceStr, package: "prepay_id=...", signType: "RSA", paySign}``
- ``async parse_notify(headers: Mapping[str, str], body: bytes) -> dict``  — verified and
  decrypted notify: ``{"id", "event_type", "create_time", "summary", "resource": {...}}``.
  Checks the RSA signature with the platform public key, ``Wechatpay-Serial`` == public key id,
  ``Wechatpay-Timestamp`` within ``settings.wechatpay_notify_max_skew_seconds`` of now, then
  AES-256-GCM decrypts the resource with the APIv3 key. Any failure -> ``SignatureInvalid``.
  Event types: TRANSACTION.SUCCESS, REFUND.SUCCESS / REFUND.ABNORMAL / REFUND.CLOSED,
  MCHTRANSFER.BILL.FINISHED.
- ``async refund(out_trade_no, out_refund_no, refund_fen, total_fen, reason, notify_url,
  transaction_id=None) -> dict``  (out_trade_no None and transaction_id set: a payment that
  names no order of ours)
  — WeChat's answer: ``{refund_id, out_refund_no, status: "PROCESSING"|"SUCCESS"|..., amount, ...}``
- ``async query_order(out_trade_no) -> dict``  — ``{trade_state, transaction_id?, amount, ...}``
- ``async close_order(out_trade_no) -> None``;  ``async query_refund(out_refund_no) -> dict``
- ``async transfer_bill(out_bill_no, openid, amount_fen, remark, notify_url, user_name=None,
  scene_id="1000", report_infos=None) -> dict``  — 商家转账 (the user confirms in WeChat):
  ``{out_bill_no, transfer_bill_no, state: "WAIT_USER_CONFIRM"|..., package_info, create_time}``.
  The same out_bill_no twice returns the same bill: WeChat never pays twice.
- ``async query_transfer_bill(out_bill_no) -> dict``  — ``{state, transfer_amount, fail_reason?, ...}``
- ``async cancel_transfer_bill(out_bill_no) -> dict``  — 撤销转账 before the user confirms:
  ``{out_bill_no, transfer_bill_no, state: "CANCELING", update_time}``

Errors: WeChat Pay's error answers -> ``UpstreamError(details={"wechat_code", "wechat_message",
"http_status"})``; network failures and unverifiable responses -> ``UpstreamError`` too.

wechatpayv3 quirks handled here: its async core only creates its httpx client in
``__aenter__`` (we create it lazily and close it in ``aclose``); it verifies response
signatures only on 2xx; it has no timestamp freshness check on notifies; its private-key
loader only accepts PKCS#8 PEM ("BEGIN PRIVATE KEY").
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx
from wechatpayv3.async_ import AsyncWeChatPay, WeChatPayType
from wechatpayv3.async_.type import RequestType
from wechatpayv3.async_.utils import aes_decrypt, build_authorization, rsa_verify

from huituan.core.clock import CHINA_TZ, as_utc
from huituan.core.errors import SignatureInvalid, UpstreamError, ValidationFailed
from huituan.core.inbound import ascii_int, ascii_token

log = logging.getLogger("huituan.wechat.pay")

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
# WeChat requires the payee's real name at or above 2,000 yuan.
TRANSFER_NAME_REQUIRED_FEN = 200_000


def rfc3339(dt: datetime) -> str:
    """WeChat Pay wants RFC 3339 with an offset, e.g. 2018-06-08T10:34:56+08:00."""
    return as_utc(dt).astimezone(CHINA_TZ).isoformat(timespec="seconds")


class WeChatPayClient:
    def __init__(
        self,
        *,
        appid: str,
        mchid: str,
        private_key_pem: str,
        cert_serial_no: str,
        apiv3_key: str,
        public_key_pem: str,
        public_key_id: str,
        api_base: str,
        notify_max_skew_seconds: int = 300,
        timeout_seconds: float = 10.0,
    ):
        self.appid = appid
        self.mchid = mchid
        self.public_key_id = public_key_id
        self.apiv3_key = apiv3_key
        self.notify_max_skew_seconds = notify_max_skew_seconds
        self._timeout = timeout_seconds
        self._wxpay = AsyncWeChatPay(
            wechatpay_type=WeChatPayType.MINIPROG,
            mchid=mchid,
            private_key=private_key_pem,
            cert_serial_no=cert_serial_no,
            appid=appid,
            apiv3_key=apiv3_key,
            public_key=public_key_pem,
            public_key_id=public_key_id,
            logger=log,
        )
        # The library hard-codes https://api.mch.weixin.qq.com; the sandbox lives elsewhere.
        self._wxpay._core._gate_way = api_base.rstrip("/")
        self._public_key = self._wxpay._core._public_key

    # ---- plumbing -------------------------------------------------------------------------

    def _ensure_client(self) -> None:
        # AsyncCore only builds its httpx client in __aenter__; we hold one for the process.
        if self._wxpay._core._client is None:
            self._wxpay._core._client = httpx.AsyncClient(timeout=httpx.Timeout(self._timeout))

    async def aclose(self) -> None:
        client = self._wxpay._core._client
        self._wxpay._core._client = None
        if client is not None:
            await client.aclose()

    async def _call(self, what: str, fn, *args, **kwargs) -> dict[str, Any]:
        self._ensure_client()
        try:
            code, message = await fn(*args, **kwargs)
        except httpx.HTTPError as exc:
            log.warning("wechatpay %s network error: %r", what, exc)
            raise UpstreamError(reason="network_error", operation=what) from exc
        except Exception as exc:  # the library raises bare Exception (bad signature, bad params)
            log.warning("wechatpay %s failed: %s", what, exc)
            raise UpstreamError(reason=str(exc), operation=what) from exc
        if isinstance(message, bytes):
            message = message.decode("utf-8", "replace")
        if 200 <= code < 300:
            if not message:
                return {}
            try:
                return json.loads(message)
            except ValueError as exc:
                raise UpstreamError(reason="invalid_json", operation=what) from exc
        try:
            err = json.loads(message) if message else {}
        except ValueError:
            err = {}
        log.warning("wechatpay %s -> %s %s", what, code, message[:300] if message else "")
        raise UpstreamError(
            operation=what,
            http_status=code,
            wechat_code=err.get("code", ""),
            wechat_message=err.get("message", message[:200] if message else ""),
        )

    # ---- payments ---------------------------------------------------------------------------

    async def jsapi_prepay(
        self,
        out_trade_no: str,
        description: str,
        amount_fen: int,
        payer_openid: str,
        notify_url: str,
        time_expire: datetime,
    ) -> str:
        if not isinstance(amount_fen, int) or amount_fen <= 0:
            raise ValidationFailed("支付金额必须大于 0", field="amount_fen")
        data = await self._call(
            "jsapi_prepay",
            self._wxpay.pay,
            description=description[:127],
            out_trade_no=out_trade_no,
            amount={"total": amount_fen, "currency": "CNY"},
            payer={"openid": payer_openid},
            time_expire=rfc3339(time_expire),
            notify_url=notify_url,
            pay_type=WeChatPayType.JSAPI,
        )
        prepay_id = data.get("prepay_id")
        if not prepay_id:
            raise UpstreamError(reason="missing prepay_id", operation="jsapi_prepay")
        return prepay_id

    def request_payment_params(self, prepay_id: str) -> dict[str, str]:
        timestamp = str(int(time.time()))
        nonce = uuid.uuid4().hex
        package = f"prepay_id={prepay_id}"
        pay_sign = self._wxpay.sign([self.appid, timestamp, nonce, package])
        return {
            "appId": self.appid,
            "timeStamp": timestamp,
            "nonceStr": nonce,
            "package": package,
            "signType": "RSA",
            "paySign": pay_sign,
        }

    async def query_order(self, out_trade_no: str) -> dict[str, Any]:
        return await self._call("query_order", self._wxpay.query, out_trade_no=out_trade_no)

    async def close_order(self, out_trade_no: str) -> None:
        """Close an unpaid order at WeChat (so a late payment cannot land)."""
        await self._call("close_order", self._wxpay.close, out_trade_no=out_trade_no)

    async def query_refund(self, out_refund_no: str) -> dict[str, Any]:
        return await self._call("query_refund", self._wxpay.query_refund, out_refund_no=out_refund_no)

    async def refund(
        self,
        out_trade_no: str | None,
        out_refund_no: str,
        refund_fen: int,
        total_fen: int,
        reason: str,
        notify_url: str,
        *,
        transaction_id: str | None = None,
    ) -> dict[str, Any]:
        """申请退款 of a payment named by our out_trade_no, or by WeChat's transaction_id (a
        payment that names no order of ours): exactly one of the two."""
        if refund_fen <= 0 or refund_fen > total_fen:
            raise ValidationFailed("退款金额必须大于 0 且不超过订单金额", field="refund_fen")
        if bool(out_trade_no) == bool(transaction_id):
            raise ValidationFailed("退款须指定商户订单号或微信支付单号之一", field="out_trade_no")
        return await self._call(
            "refund",
            self._wxpay.refund,
            out_refund_no=out_refund_no,
            amount={"refund": refund_fen, "total": total_fen, "currency": "CNY"},
            out_trade_no=out_trade_no or None,
            transaction_id=transaction_id or None,
            reason=(reason or "")[:80] or None,
            notify_url=notify_url,
        )

    # ---- merchant transfer (商家转账, user confirms) -----------------------------------------

    async def transfer_bill(
        self,
        out_bill_no: str,
        openid: str,
        amount_fen: int,
        remark: str,
        notify_url: str,
        user_name: str | None = None,
        scene_id: str = "1000",
        report_infos: list[dict[str, str]] | None = None,
        user_recv_perception: str | None = None,
    ) -> dict[str, Any]:
        if not isinstance(amount_fen, int) or amount_fen <= 0:
            raise ValidationFailed("转账金额必须大于 0", field="amount_fen")
        if amount_fen >= TRANSFER_NAME_REQUIRED_FEN and not user_name:
            raise ValidationFailed("单笔转账满 2000 元需要填写收款人真实姓名", field="user_name",
                                   code="transfer_user_name_required")
        if report_infos is None and scene_id == "1000":
            # Scene 1000 (现金营销) must report these two items.
            report_infos = [
                {"info_type": "活动名称", "info_content": "推广佣金"},
                {"info_type": "奖励说明", "info_content": "推广佣金提现"},
            ]
        if user_recv_perception is None and scene_id == "1000":
            user_recv_perception = "活动奖励"
        return await self._call(
            "transfer_bill",
            self._wxpay.mch_transfer_bills,
            out_bill_no=out_bill_no,
            transfer_scene_id=scene_id,
            openid=openid,
            transfer_amount=amount_fen,
            transfer_remark=remark[:32],
            user_name=user_name,
            user_recv_perception=user_recv_perception,
            transfer_scene_report_infos=report_infos or [],
            notify_url=notify_url,
        )

    async def query_transfer_bill(self, out_bill_no: str) -> dict[str, Any]:
        return await self._call("query_transfer_bill", self._wxpay.mch_transfer_bills_query, out_bill_no=out_bill_no)

    async def cancel_transfer_bill(self, out_bill_no: str) -> dict[str, Any]:
        """撤销转账 before the user confirms (ACCEPTED / WAIT_USER_CONFIRM):
        ``{out_bill_no, transfer_bill_no, state: "CANCELING"|"CANCELLED", update_time}``; the
        final CANCELLED arrives by notify or query. Other states -> UpstreamError."""
        return await self._call("cancel_transfer_bill", self._post_without_body,
                                f"/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}/cancel")

    async def _post_without_body(self, path: str) -> tuple[int, str]:
        """A POST that has no body (撤销转账). wechatpayv3 signs an empty body there but sends the
        JSON text ``null`` (its mch_transfer_bills_cancel): WeChat refuses the signature. We sign
        and send an empty body, and verify the answer's signature as the library does."""
        core = self._wxpay._core
        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   "User-Agent": "huituan", "Wechatpay-Serial": self.public_key_id,
                   "Authorization": build_authorization(path, "POST", core._mchid, core._cert_serial_no,
                                                        core._private_key, data=None)}
        response = await core._client.post(url=core._gate_way + path, content=b"", headers=headers)
        if 200 <= response.status_code < 300 and not await core._verify_signature_async(response.headers, response.text):
            raise Exception("failed to verify the signature")
        return response.status_code, response.text

    async def request(self, method: str, path: str, data: dict | None = None) -> dict[str, Any]:
        """Escape hatch for v3 endpoints without a wrapper: signed request, verified answer."""
        return await self._call(path, self._wxpay._core.request, path, method=RequestType(method.upper()), data=data)

    # ---- notifies -------------------------------------------------------------------------

    async def parse_notify(self, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        """Verify, then decrypt. Nothing in the body is trusted before the signature checks out."""
        h = {str(k).lower(): v for k, v in headers.items()}
        signature = h.get("wechatpay-signature", "")
        timestamp = h.get("wechatpay-timestamp", "")
        nonce = h.get("wechatpay-nonce", "")
        serial = h.get("wechatpay-serial", "")
        sig_type = h.get("wechatpay-signature-type", SIGNATURE_TYPE)
        if not (signature and timestamp and nonce and serial):
            raise SignatureInvalid("缺少微信支付签名信息", reason="missing_headers")
        # Headers are attacker-chosen until the signature checks out: printable ASCII of a
        # sane length (a non-ASCII byte broke base64 and the RSA call), a timestamp of ASCII
        # digits (a 400-digit one overflowed the float comparison below).
        if not (ascii_token(signature, max_chars=1024) and ascii_token(nonce, max_chars=64)
                and ascii_token(serial, max_chars=128) and ascii_token(sig_type, max_chars=64)):
            raise SignatureInvalid(reason="bad_headers")
        if sig_type != SIGNATURE_TYPE:
            raise SignatureInvalid(reason="signature_type")
        if serial != self.public_key_id:
            raise SignatureInvalid(reason="serial_mismatch")
        ts = ascii_int(timestamp, low=0, high=10**12, max_digits=12)
        if ts is None:
            raise SignatureInvalid(reason="bad_timestamp")
        # wechatpayv3 has no freshness check: without one a captured notify replays forever.
        if abs(time.time() - ts) > self.notify_max_skew_seconds:
            raise SignatureInvalid("通知已过期", reason="stale_timestamp")
        try:
            text = body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else str(body)
        except UnicodeDecodeError:
            raise SignatureInvalid(reason="bad_body") from None
        try:
            verified = rsa_verify(timestamp, nonce, text, signature, self._public_key)
        except (ValueError, TypeError):  # UnicodeEncodeError included: never a 500
            verified = False
        if not verified:
            raise SignatureInvalid(reason="bad_signature")
        try:
            data = json.loads(text)
            resource = data["resource"]
            if resource.get("algorithm") != "AEAD_AES_256_GCM":
                raise ValueError("algorithm")
            plain = aes_decrypt(
                nonce=resource["nonce"],
                ciphertext=resource["ciphertext"],
                associated_data=resource.get("associated_data") or "",
                apiv3_key=self.apiv3_key,
            )
            if plain is None:
                raise ValueError("decrypt")
            decrypted = json.loads(plain)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise SignatureInvalid("通知内容无法解密", reason="bad_resource") from None
        return {
            "id": data.get("id", ""),
            "event_type": data.get("event_type", ""),
            "create_time": data.get("create_time", ""),
            "summary": data.get("summary", ""),
            "resource": decrypted,
        }
