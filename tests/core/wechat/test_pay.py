"""WeChat Pay client against the sandbox over real HTTP: real v3 signing, verification, AES-GCM."""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.hashes import SHA256

from huituan.core.errors import SignatureInvalid, UpstreamError, ValidationFailed
from huituan.core.sandbox import keys
from huituan.core.sandbox.notify import build_signed_notify


def _no(prefix: str = "T") -> str:
    return prefix + uuid.uuid4().hex[:20]


async def _prepay(rt, notify_url: str, amount_fen: int = 1990, out_trade_no: str | None = None) -> tuple[str, str]:
    no = out_trade_no or _no()
    prepay_id = await rt.wechat.pay.jsapi_prepay(
        out_trade_no=no, description="惠团-测试商品", amount_fen=amount_fen, payer_openid="o-buyer-1",
        notify_url=notify_url, time_expire=datetime.now(UTC) + timedelta(minutes=15),
    )
    return no, prepay_id


async def test_prepay_and_payment_params_verify_with_merchant_public_key(rt, client):
    # given a prepay order
    no, prepay_id = await _prepay(rt, "http://127.0.0.1:1/notify")
    assert prepay_id.startswith("wx")
    # when the mini-program asks for wx.requestPayment params
    params = rt.wechat.pay.request_payment_params(prepay_id)
    # then they are signed with the merchant key over appId\ntimeStamp\nnonceStr\npackage\n
    assert params["package"] == f"prepay_id={prepay_id}"
    assert params["signType"] == "RSA" and params["appId"] == keys.SANDBOX_APPID
    message = f"{params['appId']}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n"
    keys.merchant_key().public_key.verify(base64.b64decode(params["paySign"]), message.encode(), PKCS1v15(), SHA256())
    with pytest.raises(InvalidSignature):
        keys.merchant_key().public_key.verify(base64.b64decode(params["paySign"]), b"x" + message.encode(),
                                              PKCS1v15(), SHA256())
    # and the order is known to WeChat, unpaid
    order = await rt.wechat.pay.query_order(no)
    assert order["trade_state"] == "NOTPAY" and order["amount"]["total"] == 1990


async def test_same_out_trade_no_twice_returns_same_prepay_id(rt):
    no, first = await _prepay(rt, "http://127.0.0.1:1/notify")
    _, second = await _prepay(rt, "http://127.0.0.1:1/notify", out_trade_no=no)
    assert first == second
    with pytest.raises(UpstreamError) as exc:
        await _prepay(rt, "http://127.0.0.1:1/notify", amount_fen=1, out_trade_no=no)
    assert exc.value.details["wechat_code"] == "INVALID_REQUEST"


async def test_unsigned_request_is_rejected_with_sign_error(client):
    resp = await client.post("/sandbox/pay/v3/pay/transactions/jsapi", json={"out_trade_no": "x"})
    assert resp.status == 401
    assert (await resp.json())["code"] == "SIGN_ERROR"


async def test_query_unknown_order_maps_to_upstream_error(rt):
    with pytest.raises(UpstreamError) as exc:
        await rt.wechat.pay.query_order("NOPE123")
    assert exc.value.details["wechat_code"] == "ORDER_NOT_EXIST"
    assert exc.value.details["http_status"] == 404


async def test_complete_sends_verifiable_notify_and_resends_same_transaction(rt, client, notify_sink):
    # given an order
    no, prepay_id = await _prepay(rt, notify_sink.url, amount_fen=2500)
    # when the buyer pays in the sandbox
    resp = await client.post(f"/sandbox/pay/{prepay_id}/complete")
    result = await resp.json()
    # then our notify endpoint got a notify that verifies and decrypts
    assert result["notify_status"] == 200
    headers, body = notify_sink.received[-1]
    notify = await rt.wechat.pay.parse_notify(headers, body)
    assert notify["event_type"] == "TRANSACTION.SUCCESS"
    res = notify["resource"]
    assert res["out_trade_no"] == no and res["trade_state"] == "SUCCESS"
    assert res["transaction_id"] == result["transaction_id"]
    assert res["amount"]["total"] == 2500 and res["amount"]["payer_total"] == 2500
    assert res["payer"]["openid"] == "o-buyer-1" and res["success_time"]
    # and WeChat's retry carries the same transaction id
    again = await (await client.post(f"/sandbox/pay/{prepay_id}/complete")).json()
    assert again["transaction_id"] == result["transaction_id"]
    assert (await rt.wechat.pay.parse_notify(*notify_sink.received[-1]))["id"] == notify["id"]
    assert (await rt.wechat.pay.query_order(no))["trade_state"] == "SUCCESS"


async def test_complete_with_other_amount_and_our_status_is_reported(rt, client, notify_sink):
    _, prepay_id = await _prepay(rt, notify_sink.url, amount_fen=2500)
    notify_sink.status = 500
    result = await (await client.post(f"/sandbox/pay/{prepay_id}/complete", json={"amount_fen": 1})).json()
    assert result["notify_status"] == 500
    notify = await rt.wechat.pay.parse_notify(*notify_sink.received[-1])
    assert notify["resource"]["amount"]["total"] == 1


def _resource() -> dict:
    return {"out_trade_no": "T1", "transaction_id": "4200001", "trade_state": "SUCCESS",
            "amount": {"total": 100, "payer_total": 100}, "payer": {"openid": "o1"}}


async def test_parse_notify_accepts_good_notify(rt):
    headers, body = build_signed_notify(_resource(), "TRANSACTION.SUCCESS")
    notify = await rt.wechat.pay.parse_notify(headers, body)
    assert notify["resource"] == _resource()
    # header names are case-insensitive, as proxies lowercase them
    lower = {k.lower(): v for k, v in headers.items()}
    assert (await rt.wechat.pay.parse_notify(lower, body))["resource"] == _resource()


@pytest.mark.parametrize("case", ["forged", "tampered", "stale", "future", "wrong_serial", "wrong_key",
                                  "missing_headers", "not_json"])
async def test_parse_notify_rejects_bad_notifies(rt, case):
    if case == "forged":
        headers, body = build_signed_notify(_resource(), "TRANSACTION.SUCCESS")
        other = build_signed_notify({**_resource(), "amount": {"total": 1}}, "TRANSACTION.SUCCESS")[0]
        headers["Wechatpay-Signature"] = other["Wechatpay-Signature"]
    elif case == "tampered":
        headers, body = build_signed_notify(_resource(), "TRANSACTION.SUCCESS", tamper=True)
    elif case == "stale":
        headers, body = build_signed_notify(_resource(), "TRANSACTION.SUCCESS", timestamp=int(time.time()) - 301)
    elif case == "future":
        headers, body = build_signed_notify(_resource(), "TRANSACTION.SUCCESS", timestamp=int(time.time()) + 3600)
    elif case == "wrong_serial":
        headers, body = build_signed_notify(_resource(), "TRANSACTION.SUCCESS", serial="PUB_KEY_ID_OTHER")
    elif case == "wrong_key":
        headers, body = build_signed_notify(_resource(), "TRANSACTION.SUCCESS", apiv3_key="0" * 32)
    elif case == "missing_headers":
        _, body = build_signed_notify(_resource(), "TRANSACTION.SUCCESS")
        headers = {}
    else:
        headers, body = build_signed_notify(_resource(), "TRANSACTION.SUCCESS")
        body = b"not json"
    with pytest.raises(SignatureInvalid):
        await rt.wechat.pay.parse_notify(headers, body)


async def test_refund_then_complete_sends_refund_notify(rt, client, notify_sink):
    # given a paid order
    no, prepay_id = await _prepay(rt, notify_sink.url, amount_fen=3000)
    await client.post(f"/sandbox/pay/{prepay_id}/complete")
    # when we refund part of it
    out_refund_no = _no("R")
    answer = await rt.wechat.pay.refund(no, out_refund_no, 1000, 3000, "不想要了", notify_sink.url)
    assert answer["status"] == "PROCESSING" and answer["refund_id"]
    assert answer["amount"]["refund"] == 1000
    # retrying the same refund is idempotent
    again = await rt.wechat.pay.refund(no, out_refund_no, 1000, 3000, "不想要了", notify_sink.url)
    assert again["refund_id"] == answer["refund_id"]
    # more than is left is refused
    with pytest.raises(UpstreamError) as exc:
        await rt.wechat.pay.refund(no, _no("R"), 2001, 3000, "", notify_sink.url)
    assert exc.value.details["wechat_code"] == "INVALID_REQUEST"
    # then WeChat finishes it and tells us
    result = await (await client.post(f"/sandbox/pay/refunds/{out_refund_no}/complete")).json()
    assert result["notify_status"] == 200
    notify = await rt.wechat.pay.parse_notify(*notify_sink.received[-1])
    assert notify["event_type"] == "REFUND.SUCCESS"
    res = notify["resource"]
    assert res["out_refund_no"] == out_refund_no and res["out_trade_no"] == no
    assert res["refund_status"] == "SUCCESS" and res["refund_id"] == answer["refund_id"]
    assert res["amount"] == {"total": 3000, "refund": 1000, "payer_total": 3000, "payer_refund": 1000}
    assert (await rt.wechat.pay.query_refund(out_refund_no))["status"] == "SUCCESS"


async def test_refund_abnormal_notify(rt, client, notify_sink):
    no, prepay_id = await _prepay(rt, notify_sink.url, amount_fen=500)
    await client.post(f"/sandbox/pay/{prepay_id}/complete")
    rno = _no("R")
    await rt.wechat.pay.refund(no, rno, 500, 500, "", notify_sink.url)
    await client.post(f"/sandbox/pay/refunds/{rno}/complete", json={"status": "ABNORMAL"})
    notify = await rt.wechat.pay.parse_notify(*notify_sink.received[-1])
    assert notify["event_type"] == "REFUND.ABNORMAL" and notify["resource"]["refund_status"] == "ABNORMAL"


async def test_refund_of_unpaid_order_is_refused(rt):
    no, _ = await _prepay(rt, "http://127.0.0.1:1/notify")
    with pytest.raises(UpstreamError):
        await rt.wechat.pay.refund(no, _no("R"), 100, 1990, "", "http://127.0.0.1:1/notify")
    with pytest.raises(ValidationFailed):
        await rt.wechat.pay.refund(no, _no("R"), 0, 1990, "", "http://127.0.0.1:1/notify")


async def test_close_order(rt):
    no, _ = await _prepay(rt, "http://127.0.0.1:1/notify")
    await rt.wechat.pay.close_order(no)
    assert (await rt.wechat.pay.query_order(no))["trade_state"] == "CLOSED"


async def test_transfer_bill_is_idempotent_and_confirm_notify_verifies(rt, client, notify_sink):
    # given a withdrawal transfer
    bill_no = _no("W")
    first = await rt.wechat.pay.transfer_bill(bill_no, "o-promoter-1", 5000, "佣金提现", notify_sink.url)
    assert first["state"] == "WAIT_USER_CONFIRM" and first["package_info"] and first["transfer_bill_no"]
    # when we retry with the same out_bill_no, WeChat returns the same bill
    second = await rt.wechat.pay.transfer_bill(bill_no, "o-promoter-1", 5000, "佣金提现", notify_sink.url)
    assert second["transfer_bill_no"] == first["transfer_bill_no"]
    state = await (await client.get("/sandbox/pay/state")).json()
    assert list(state["transfers"]) == [bill_no]
    # then the user confirms and we are told, verifiably
    result = await (await client.post(f"/sandbox/pay/transfers/{bill_no}/confirm")).json()
    assert result["notify_status"] == 200
    notify = await rt.wechat.pay.parse_notify(*notify_sink.received[-1])
    assert notify["event_type"] == "MCHTRANSFER.BILL.FINISHED"
    assert notify["resource"]["state"] == "SUCCESS" and notify["resource"]["out_bill_no"] == bill_no
    assert notify["resource"]["transfer_amount"] == 5000
    assert (await rt.wechat.pay.query_transfer_bill(bill_no))["state"] == "SUCCESS"
    # and a retry after success still does not pay twice
    third = await rt.wechat.pay.transfer_bill(bill_no, "o-promoter-1", 5000, "佣金提现", notify_sink.url)
    assert third["state"] == "SUCCESS" and third["transfer_bill_no"] == first["transfer_bill_no"]


async def test_transfer_fail_and_real_name(rt, client, notify_sink):
    bill_no = _no("W")
    await rt.wechat.pay.transfer_bill(bill_no, "o-p", 300_000, "佣金提现", notify_sink.url, user_name="张三")
    state = await (await client.get("/sandbox/pay/state")).json()
    assert state["transfers"][bill_no]["user_name"] == "张三"  # encrypted with the platform key on the wire
    await client.post(f"/sandbox/pay/transfers/{bill_no}/fail")
    notify = await rt.wechat.pay.parse_notify(*notify_sink.received[-1])
    assert notify["resource"]["state"] == "FAIL" and notify["resource"]["fail_reason"]
    with pytest.raises(ValidationFailed) as exc:
        await rt.wechat.pay.transfer_bill(_no("W"), "o-p", 200_000, "佣金提现", notify_sink.url)
    assert exc.value.details["field"] == "user_name"
    with pytest.raises(UpstreamError):
        await rt.wechat.pay.query_transfer_bill("NOPE")


async def test_network_error_is_upstream_error(make_settings):
    import aiohttp

    from huituan.core.redis import create_redis
    from huituan.core.wechat.clients import create_wechat_clients

    settings = make_settings(wechatpay_api_base="http://127.0.0.1:1")
    async with aiohttp.ClientSession() as http:
        clients = create_wechat_clients(settings, http, create_redis("memory://"))
        try:
            with pytest.raises(UpstreamError) as exc:
                await clients.pay.query_order("X1")
            assert exc.value.details["reason"] == "network_error"
        finally:
            await clients.aclose()


def test_build_signed_notify_body_is_wechat_shaped():
    headers, body = build_signed_notify({"a": 1}, "REFUND.SUCCESS")
    data = json.loads(body)
    assert data["resource_type"] == "encrypt-resource" and data["resource"]["algorithm"] == "AEAD_AES_256_GCM"
    assert data["resource"]["original_type"] == "refund"
    assert headers["Wechatpay-Serial"] == keys.SANDBOX_PUBLIC_KEY_ID


async def test_request_signed_with_another_merchant_key_is_refused(settings, rt):
    from huituan.core.sandbox.keys import _generate
    from huituan.core.wechat.pay import WeChatPayClient

    intruder = WeChatPayClient(
        appid=keys.SANDBOX_APPID, mchid=keys.SANDBOX_MCHID, private_key_pem=_generate().private_pem,
        cert_serial_no=keys.SANDBOX_CERT_SERIAL_NO, apiv3_key=keys.SANDBOX_APIV3_KEY,
        public_key_pem=keys.platform_key().public_pem, public_key_id=keys.SANDBOX_PUBLIC_KEY_ID,
        api_base=settings.resolved_wechatpay_api_base(),
    )
    try:
        with pytest.raises(UpstreamError) as exc:
            await intruder.jsapi_prepay(_no(), "x", 100, "o1", "http://127.0.0.1:1/n",
                                        datetime.now(UTC) + timedelta(minutes=5))
        assert exc.value.details["wechat_code"] == "SIGN_ERROR" and exc.value.details["http_status"] == 401
    finally:
        await intruder.aclose()


async def test_response_signed_by_another_platform_key_is_not_trusted(settings, rt):
    from huituan.core.sandbox.keys import _generate
    from huituan.core.wechat.pay import WeChatPayClient

    fooled = WeChatPayClient(
        appid=keys.SANDBOX_APPID, mchid=keys.SANDBOX_MCHID, private_key_pem=keys.merchant_key().private_pem,
        cert_serial_no=keys.SANDBOX_CERT_SERIAL_NO, apiv3_key=keys.SANDBOX_APIV3_KEY,
        public_key_pem=_generate().public_pem, public_key_id=keys.SANDBOX_PUBLIC_KEY_ID,
        api_base=settings.resolved_wechatpay_api_base(),
    )
    try:
        with pytest.raises(UpstreamError) as exc:
            await fooled.jsapi_prepay(_no(), "x", 100, "o1", "http://127.0.0.1:1/n",
                                      datetime.now(UTC) + timedelta(minutes=5))
        assert "signature" in exc.value.details["reason"]
    finally:
        await fooled.aclose()


async def test_sandbox_is_not_in_the_openapi_document(client):
    resp = await client.get("/api/v1/openapi.json")
    if resp.status == 404:
        pytest.skip("openapi route not mounted")
    paths = (await resp.json())["paths"]
    assert paths and not any(p.startswith("/sandbox") for p in paths)
