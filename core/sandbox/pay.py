"""WeChat Pay API v3 emulator, under /sandbox/pay.

Every v3 request must carry a valid ``WECHATPAY2-SHA256-RSA2048`` Authorization signed with
the merchant key (else 401 SIGN_ERROR); every answer is signed with the platform key so
wechatpayv3's response verification runs for real.

v3 endpoints (paths relative to /sandbox/pay, exactly as WeChat's):
- POST /v3/pay/transactions/jsapi
- GET  /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=
- POST /v3/pay/transactions/out-trade-no/{out_trade_no}/close
- POST /v3/refund/domestic/refunds,  GET /v3/refund/domestic/refunds/{out_refund_no}
- POST /v3/fund-app/mch-transfer/transfer-bills
- GET  /v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}
- POST /v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}/cancel

Helpers (play the user's / WeChat's part; JSON in, JSON out):
- POST /sandbox/pay/{prepay_id}/complete  {"amount_fen"?, "notify"?: false}  -> signed
  TRANSACTION.SUCCESS notify to the order's notify_url; returns {"notify_status",
  "transaction_id", "out_trade_no"}. Calling it again resends the same transaction (WeChat
  retries); with "notify": false the payment is made but its notify is "lost". Orders past
  time_expire can still be paid here on purpose, to test late notifies; a closed order cannot
  (409 order_closed).
- POST /sandbox/pay/refunds/{out_refund_no}/complete {"status"?: "SUCCESS"|"ABNORMAL"|"CLOSED",
  "notify"?: false}  -> with "notify": false the refund settles but the notify is "lost"
  (nothing is sent; a later call without it sends the notify, as WeChat's retry would)
- POST /sandbox/pay/transfers/{out_bill_no}/confirm  and  /fail  {"fail_reason"?}
- GET  /sandbox/pay/state  -> orders, refunds, transfers (for demos and tests)
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import re
import secrets
import time
from typing import Any

import aiohttp
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.padding import MGF1, OAEP, PKCS1v15
from cryptography.hazmat.primitives.hashes import SHA1, SHA256

from huituan.core.sandbox import keys
from huituan.core.sandbox.notify import build_signed_notify, china_now_iso, signature_headers
from huituan.core.sandbox.state import SANDBOX_KEY, SandboxState, sandbox_route

log = logging.getLogger("huituan.sandbox.pay")

PREFIX = "/sandbox/pay"
_AUTH_RE = re.compile(r'(\w+)="([^"]*)"')
AUTH_MAX_SKEW_SECONDS = 300


# ---- plumbing ---------------------------------------------------------------------------------

def signed_json(data: dict[str, Any] | None, status: int = 200) -> web.Response:
    body = "" if data is None else json.dumps(data, ensure_ascii=False)
    headers = signature_headers(body)
    headers["Request-ID"] = secrets.token_hex(16)
    if data is None:
        return web.Response(status=status, headers=headers)
    return web.Response(status=status, body=body.encode("utf-8"), headers=headers,
                        content_type="application/json", charset="utf-8")


def error(status: int, code: str, message: str, **detail: Any) -> web.Response:
    data: dict[str, Any] = {"code": code, "message": message}
    if detail:
        data["detail"] = detail
    return signed_json(data, status)


def _verify_authorization(request: web.Request, body: str) -> str | None:
    """None when the merchant's v3 signature checks out, else why not."""
    auth = request.headers.get("Authorization", "")
    scheme, _, rest = auth.partition(" ")
    if scheme != "WECHATPAY2-SHA256-RSA2048":
        return "Authorization 缺失或签名类型错误"
    fields = dict(_AUTH_RE.findall(rest))
    for name in ("mchid", "nonce_str", "signature", "timestamp", "serial_no"):
        if not fields.get(name):
            return f"Authorization 缺少 {name}"
    if fields["mchid"] != keys.SANDBOX_MCHID:
        return "商户号与签名不匹配"
    if fields["serial_no"] != keys.SANDBOX_CERT_SERIAL_NO:
        return "商户证书序列号错误"
    try:
        if abs(time.time() - int(fields["timestamp"])) > AUTH_MAX_SKEW_SECONDS:
            return "请求时间戳已过期"
    except ValueError:
        return "时间戳格式错误"
    path = request.raw_path[len(PREFIX):]  # the merchant signed WeChat's path, not ours
    message = f"{request.method}\n{path}\n{fields['timestamp']}\n{fields['nonce_str']}\n{body}\n"
    try:
        keys.merchant_key().public_key.verify(
            base64.b64decode(fields["signature"]), message.encode("utf-8"), PKCS1v15(), SHA256()
        )
    except (InvalidSignature, ValueError):
        return "签名错误"
    return None


def v3(handler):
    """Verify the merchant signature and parse the JSON body before the endpoint runs."""

    async def wrapped(request: web.Request) -> web.Response:
        body = await request.text()
        problem = _verify_authorization(request, body)
        if problem:
            return error(401, "SIGN_ERROR", problem)
        data: dict[str, Any] = {}
        if body:
            try:
                data = json.loads(body)
            except ValueError:
                return error(400, "PARAM_ERROR", "请求体不是合法的 JSON")
            if not isinstance(data, dict):
                return error(400, "PARAM_ERROR", "请求体必须是 JSON 对象")
        state: SandboxState = request.app[SANDBOX_KEY]
        state.pay_requests.append({"method": request.method, "path": request.raw_path[len(PREFIX):], "body": data})
        return await handler(request, state, data)

    return wrapped


async def _helper_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise web.HTTPBadRequest(text=json.dumps({"error": "invalid_json"}), content_type="application/json")
    return data if isinstance(data, dict) else {}


def _not_found(what: str) -> web.HTTPNotFound:
    return web.HTTPNotFound(text=json.dumps({"error": "not_found", "message": f"{what} 不存在"}, ensure_ascii=False),
                            content_type="application/json")


async def send_notify(url: str, resource: dict[str, Any], event_type: str, notify_id: str | None = None) -> dict[str, Any]:
    """POST a signed, encrypted notify to our service, as WeChat Pay does."""
    headers, body = build_signed_notify(resource, event_type, notify_id=notify_id)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
            async with session.post(url, data=body, headers=headers) as resp:
                text = await resp.text()
                return {"notify_status": resp.status, "notify_response": text[:2000]}
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("sandbox notify to %s failed: %r", url, exc)
        return {"notify_status": None, "notify_error": repr(exc)}


def _digits(seed: str, n: int) -> str:
    h = hashlib.sha256(seed.encode()).hexdigest()
    return str(int(h, 16))[:n].rjust(n, "0")


# ---- payments ---------------------------------------------------------------------------------

def _order_view(o: dict[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = {
        "appid": o["appid"],
        "mchid": o["mchid"],
        "out_trade_no": o["out_trade_no"],
        "trade_type": "JSAPI",
        "trade_state": o["trade_state"],
        "trade_state_desc": {"SUCCESS": "支付成功", "NOTPAY": "未支付", "CLOSED": "已关闭",
                             "REFUND": "转入退款"}.get(o["trade_state"], o["trade_state"]),
        "attach": o.get("attach", ""),
        "payer": {"openid": o["payer_openid"]},
        "amount": {"total": o["total"], "currency": "CNY"},
    }
    if o.get("transaction_id"):
        view.update({
            "transaction_id": o["transaction_id"],
            "bank_type": "OTHERS",
            "success_time": o["success_time"],
        })
        view["amount"] = {"total": o["paid_total"], "payer_total": o["paid_total"],
                          "currency": "CNY", "payer_currency": "CNY"}
    return view


@v3
async def jsapi(request: web.Request, state: SandboxState, data: dict[str, Any]) -> web.Response:
    for name in ("appid", "mchid", "description", "out_trade_no", "notify_url", "amount", "payer"):
        if not data.get(name):
            return error(400, "PARAM_ERROR", f"输入源“/body/{name}”映射到字段“{name}”必填性规则校验失败，此字段为必填项")
    if data["mchid"] != keys.SANDBOX_MCHID:
        return error(400, "INVALID_REQUEST", "mchid与签名不匹配")
    if data["appid"] != keys.SANDBOX_APPID:
        return error(400, "INVALID_REQUEST", "appid和mch_id不匹配")
    total = (data.get("amount") or {}).get("total")
    if not isinstance(total, int) or isinstance(total, bool) or total <= 0:
        return error(400, "PARAM_ERROR", "输入源“/body/amount/total”映射到值字段“订单总金额”规则校验失败，值低于最小值 1")
    openid = (data.get("payer") or {}).get("openid")
    if not openid:
        return error(400, "PARAM_ERROR", "输入源“/body/payer/openid”映射到字段“用户标识”必填性规则校验失败，此字段为必填项")
    if not str(data["notify_url"]).startswith(("http://", "https://")):
        return error(400, "PARAM_ERROR", "notify_url 格式错误")
    no = data["out_trade_no"]
    existing = state.orders.get(no)
    if existing:
        if existing["trade_state"] == "SUCCESS":
            return error(400, "ORDERPAID", "该订单已支付")
        if existing["trade_state"] == "CLOSED":
            return error(400, "ORDER_CLOSED", "订单已关闭")
        if existing["total"] != total or existing["payer_openid"] != openid:
            return error(400, "INVALID_REQUEST", "201 商户订单号重复")
        existing["notify_url"] = data["notify_url"]
        return signed_json({"prepay_id": existing["prepay_id"]})
    prepay_id = "wx" + time.strftime("%d%H%M%S") + secrets.token_hex(12)
    state.orders[no] = {
        "appid": data["appid"], "mchid": data["mchid"], "out_trade_no": no,
        "description": data["description"], "notify_url": data["notify_url"],
        "time_expire": data.get("time_expire"), "attach": data.get("attach", ""),
        "total": total, "payer_openid": openid, "prepay_id": prepay_id,
        "trade_state": "NOTPAY", "transaction_id": None, "success_time": None,
        "paid_total": None, "refunded_fen": 0,
    }
    state.prepay_index[prepay_id] = no
    return signed_json({"prepay_id": prepay_id})


@v3
async def query_order(request: web.Request, state: SandboxState, data: dict[str, Any]) -> web.Response:
    if request.query.get("mchid") != keys.SANDBOX_MCHID:
        return error(400, "PARAM_ERROR", "mchid 错误")
    order = state.orders.get(request.match_info["out_trade_no"])
    if not order:
        return error(404, "ORDER_NOT_EXIST", "订单不存在")
    return signed_json(_order_view(order))


@v3
async def close_order(request: web.Request, state: SandboxState, data: dict[str, Any]) -> web.Response:
    order = state.orders.get(request.match_info["out_trade_no"])
    if not order:
        return error(404, "ORDER_NOT_EXIST", "订单不存在")
    if order["trade_state"] == "SUCCESS":
        return error(400, "ORDERPAID", "订单已支付")
    order["trade_state"] = "CLOSED"
    return signed_json(None, 204)


async def complete_payment(request: web.Request) -> web.Response:
    state: SandboxState = request.app[SANDBOX_KEY]
    prepay_id = request.match_info["prepay_id"]
    no = state.prepay_index.get(prepay_id)
    if not no:
        raise _not_found("prepay_id")
    body = await _helper_body(request)
    order = state.orders[no]
    if order["trade_state"] == "CLOSED":  # WeChat Pay takes no money for a closed order
        return web.json_response({"error": "order_closed", "out_trade_no": no}, status=409)
    if order["trade_state"] not in ("SUCCESS", "REFUND"):
        amount = body.get("amount_fen", order["total"])
        if not isinstance(amount, int) or amount <= 0:
            raise web.HTTPBadRequest(text=json.dumps({"error": "amount_fen"}), content_type="application/json")
        order.update(
            trade_state="SUCCESS",
            transaction_id="4200" + _digits(prepay_id, 24),
            success_time=china_now_iso(),
            paid_total=amount,
            notify_id=secrets.token_hex(8),
        )
    resource = _order_view(order)
    result: dict[str, Any] = {"notify_status": None}
    if body.get("notify", True) is not False:  # "notify": false -> paid, but the notify is lost
        result = await send_notify(order["notify_url"], resource, "TRANSACTION.SUCCESS", order["notify_id"])
    return web.json_response({**result, "transaction_id": order["transaction_id"], "out_trade_no": no})


# ---- refunds ----------------------------------------------------------------------------------

def _refund_view(r: dict[str, Any]) -> dict[str, Any]:
    view = {
        "refund_id": r["refund_id"],
        "out_refund_no": r["out_refund_no"],
        "transaction_id": r["transaction_id"],
        "out_trade_no": r["out_trade_no"],
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "create_time": r["create_time"],
        "status": r["status"],
        "funds_account": "AVAILABLE",
        "amount": {
            "total": r["total"], "refund": r["refund"], "payer_total": r["total"],
            "payer_refund": r["refund"], "settlement_refund": r["refund"],
            "settlement_total": r["total"], "discount_refund": 0, "currency": "CNY", "refund_fee": 0,
        },
        "promotion_detail": [],
    }
    if r.get("success_time"):
        view["success_time"] = r["success_time"]
    return view


@v3
async def create_refund(request: web.Request, state: SandboxState, data: dict[str, Any]) -> web.Response:
    out_refund_no = data.get("out_refund_no")
    amount = data.get("amount") or {}
    if not out_refund_no:
        return error(400, "PARAM_ERROR", "out_refund_no 为必填项")
    refund_fen, total_fen = amount.get("refund"), amount.get("total")
    if not isinstance(refund_fen, int) or not isinstance(total_fen, int) or refund_fen <= 0:
        return error(400, "PARAM_ERROR", "退款金额格式错误")
    existing = state.refunds.get(out_refund_no)
    if existing:
        if existing["refund"] != refund_fen or existing["total"] != total_fen:
            return error(400, "INVALID_REQUEST", "同一退款单号的退款金额与之前请求不一致")
        return signed_json(_refund_view(existing))
    order = None
    if data.get("out_trade_no"):
        order = state.orders.get(data["out_trade_no"])
    elif data.get("transaction_id"):
        order = next((o for o in state.orders.values() if o["transaction_id"] == data["transaction_id"]), None)
    if not order:
        return error(404, "RESOURCE_NOT_EXISTS", "订单不存在")
    if order["trade_state"] not in ("SUCCESS", "REFUND"):
        return error(400, "INVALID_REQUEST", "订单未支付，不能退款")
    if total_fen != order["paid_total"]:
        return error(400, "PARAM_ERROR", "订单金额与实际支付金额不一致")
    if order["refunded_fen"] + refund_fen > order["paid_total"]:
        return error(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
    if data.get("notify_url") is not None and not str(data["notify_url"]).startswith(("http://", "https://")):
        return error(400, "PARAM_ERROR", "notify_url 格式错误")
    order["refunded_fen"] += refund_fen
    order["trade_state"] = "REFUND"
    refund = {
        "refund_id": "50" + _digits(out_refund_no, 27),
        "out_refund_no": out_refund_no,
        "out_trade_no": order["out_trade_no"],
        "transaction_id": order["transaction_id"],
        "notify_url": data.get("notify_url"),
        "reason": data.get("reason", ""),
        "refund": refund_fen,
        "total": total_fen,
        "status": "PROCESSING",
        "create_time": china_now_iso(),
        "success_time": None,
        "notify_id": secrets.token_hex(8),
    }
    state.refunds[out_refund_no] = refund
    return signed_json(_refund_view(refund))


@v3
async def query_refund(request: web.Request, state: SandboxState, data: dict[str, Any]) -> web.Response:
    refund = state.refunds.get(request.match_info["out_refund_no"])
    if not refund:
        return error(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
    return signed_json(_refund_view(refund))


async def complete_refund(request: web.Request) -> web.Response:
    state: SandboxState = request.app[SANDBOX_KEY]
    refund = state.refunds.get(request.match_info["out_refund_no"])
    if not refund:
        raise _not_found("退款单")
    body = await _helper_body(request)
    status = body.get("status", "SUCCESS")
    if status not in ("SUCCESS", "ABNORMAL", "CLOSED"):
        raise web.HTTPBadRequest(text=json.dumps({"error": "status"}), content_type="application/json")
    if refund["status"] == "PROCESSING":
        refund["status"] = status
        if status == "SUCCESS":
            refund["success_time"] = china_now_iso()
        else:  # the money did not move: it can be refunded again
            state.orders[refund["out_trade_no"]]["refunded_fen"] -= refund["refund"]
    elif refund["status"] != status:
        return web.json_response({"error": "invalid_state", "status": refund["status"]}, status=409)
    resource = {
        "mchid": keys.SANDBOX_MCHID,
        "out_trade_no": refund["out_trade_no"],
        "transaction_id": refund["transaction_id"],
        "out_refund_no": refund["out_refund_no"],
        "refund_id": refund["refund_id"],
        "refund_status": refund["status"],
        "user_received_account": "支付用户零钱",
        "amount": {"total": refund["total"], "refund": refund["refund"],
                   "payer_total": refund["total"], "payer_refund": refund["refund"]},
    }
    if refund["success_time"]:
        resource["success_time"] = refund["success_time"]
    result: dict[str, Any] = {"notify_status": None}
    if refund["notify_url"] and body.get("notify", True) is not False:
        result = await send_notify(refund["notify_url"], resource, f"REFUND.{refund['status']}", refund["notify_id"])
    return web.json_response({**result, "refund_id": refund["refund_id"], "status": refund["status"]})


# ---- merchant transfers (商家转账) ---------------------------------------------------------------

def _bill_view(b: dict[str, Any]) -> dict[str, Any]:
    view = {
        "mch_id": keys.SANDBOX_MCHID,
        "out_bill_no": b["out_bill_no"],
        "transfer_bill_no": b["transfer_bill_no"],
        "appid": b["appid"],
        "state": b["state"],
        "transfer_amount": b["transfer_amount"],
        "transfer_remark": b["transfer_remark"],
        "openid": b["openid"],
        "create_time": b["create_time"],
        "update_time": b["update_time"],
    }
    if b.get("fail_reason"):
        view["fail_reason"] = b["fail_reason"]
    if b.get("user_name"):
        view["user_name"] = b["user_name_cipher"]
    return view


@v3
async def create_transfer_bill(request: web.Request, state: SandboxState, data: dict[str, Any]) -> web.Response:
    for name in ("appid", "out_bill_no", "transfer_scene_id", "openid", "transfer_amount", "transfer_remark"):
        if not data.get(name):
            return error(400, "PARAM_ERROR", f"{name} 为必填项")
    if data["appid"] != keys.SANDBOX_APPID:
        return error(400, "INVALID_REQUEST", "appid 与商户号不匹配")
    amount = data["transfer_amount"]
    if not isinstance(amount, int) or amount <= 0:
        return error(400, "PARAM_ERROR", "转账金额格式错误")
    if len(data["transfer_remark"]) > 32:
        return error(400, "PARAM_ERROR", "转账备注不能超过 32 个字符")
    if data["transfer_scene_id"] == "1000":
        types = {i.get("info_type") for i in data.get("transfer_scene_report_infos") or []}
        if not {"活动名称", "奖励说明"} <= types:
            return error(400, "PARAM_ERROR", "该转账场景需报备“活动名称”和“奖励说明”")
    user_name = None
    if data.get("user_name"):
        if request.headers.get("Wechatpay-Serial") != keys.SANDBOX_PUBLIC_KEY_ID:
            return error(400, "PARAM_ERROR", "加密敏感信息需要提供 Wechatpay-Serial")
        try:
            user_name = keys.platform_key().private_key.decrypt(
                base64.b64decode(data["user_name"]), OAEP(mgf=MGF1(algorithm=SHA1()), algorithm=SHA1(), label=None)
            ).decode("utf-8")
        except ValueError:
            return error(400, "PARAM_ERROR", "user_name 解密失败")
    if amount >= 200_000 and not user_name:
        return error(400, "PARAM_ERROR", "转账金额大于等于2000元时，收款用户姓名必填")
    if data["openid"].startswith("o-refused") and data["out_bill_no"] not in state.transfers:
        # Magic input: WeChat refuses this payee (no permission / payee not eligible).
        return error(403, "NO_AUTH", "收款用户不满足转账条件")
    no = data["out_bill_no"]
    existing = state.transfers.get(no)
    if existing:
        # Same merchant bill number: WeChat answers with the same bill and never pays twice.
        if existing["transfer_amount"] != amount or existing["openid"] != data["openid"]:
            return error(400, "INVALID_REQUEST", "商户单号重复，且参数与原单不一致")
        bill = existing
    else:
        now = china_now_iso()
        bill = {
            "out_bill_no": no,
            "transfer_bill_no": "1330000" + _digits(no, 33),
            "appid": data["appid"],
            "openid": data["openid"],
            "transfer_amount": amount,
            "transfer_remark": data["transfer_remark"],
            "transfer_scene_id": data["transfer_scene_id"],
            "user_name": user_name,
            "user_name_cipher": data.get("user_name"),
            "notify_url": data.get("notify_url"),
            "state": "WAIT_USER_CONFIRM",
            "package_info": base64.b64encode(secrets.token_bytes(48)).decode(),
            "create_time": now,
            "update_time": now,
            "fail_reason": None,
            "notify_id": secrets.token_hex(8),
        }
        state.transfers[no] = bill
    answer = {
        "out_bill_no": bill["out_bill_no"],
        "transfer_bill_no": bill["transfer_bill_no"],
        "create_time": bill["create_time"],
        "state": bill["state"],
    }
    if bill["state"] == "WAIT_USER_CONFIRM":
        answer["package_info"] = bill["package_info"]
    if bill.get("fail_reason"):
        answer["fail_reason"] = bill["fail_reason"]
    return signed_json(answer)


@v3
async def query_transfer_bill(request: web.Request, state: SandboxState, data: dict[str, Any]) -> web.Response:
    bill = state.transfers.get(request.match_info["out_bill_no"])
    if not bill:
        return error(404, "NOT_FOUND", "记录不存在")
    return signed_json(_bill_view(bill))


@v3
async def cancel_transfer_bill(request: web.Request, state: SandboxState, data: dict[str, Any]) -> web.Response:
    """撤销转账: only before the user confirms. WeChat answers CANCELING and finishes with a
    MCHTRANSFER.BILL.FINISHED notify (state CANCELLED); the sandbox finishes at once and
    sends that notify in the background."""
    bill = state.transfers.get(request.match_info["out_bill_no"])
    if not bill:
        return error(404, "NOT_FOUND", "记录不存在")
    if bill["state"] not in ("ACCEPTED", "WAIT_USER_CONFIRM", "CANCELING", "CANCELLED"):
        return error(400, "INVALID_REQUEST", "当前转账单状态不允许撤销")
    if bill["state"] != "CANCELLED":
        bill["state"] = "CANCELLED"
        bill["update_time"] = china_now_iso()
        if bill["notify_url"]:
            task = asyncio.get_running_loop().create_task(
                send_notify(bill["notify_url"], _finished_resource(bill), "MCHTRANSFER.BILL.FINISHED", bill["notify_id"]))
            _background.add(task)
            task.add_done_callback(_background.discard)
    return signed_json({"out_bill_no": bill["out_bill_no"], "transfer_bill_no": bill["transfer_bill_no"],
                        "state": "CANCELING", "update_time": bill["update_time"]})


_background: set[asyncio.Task] = set()


def _finished_resource(bill: dict[str, Any]) -> dict[str, Any]:
    resource = {
        "out_bill_no": bill["out_bill_no"],
        "transfer_bill_no": bill["transfer_bill_no"],
        "state": bill["state"],
        "mch_id": keys.SANDBOX_MCHID,
        "transfer_amount": bill["transfer_amount"],
        "openid": bill["openid"],
        "create_time": bill["create_time"],
        "update_time": bill["update_time"],
    }
    if bill.get("fail_reason"):
        resource["fail_reason"] = bill["fail_reason"]
    return resource


async def _finish_transfer(request: web.Request, final: str) -> web.Response:
    state: SandboxState = request.app[SANDBOX_KEY]
    bill = state.transfers.get(request.match_info["out_bill_no"])
    if not bill:
        raise _not_found("转账单")
    body = await _helper_body(request)
    if bill["state"] not in ("SUCCESS", "FAIL", "CANCELLED"):
        bill["state"] = final
        bill["update_time"] = china_now_iso()
        if final == "FAIL":
            bill["fail_reason"] = body.get("fail_reason", "PAYEE_ACCOUNT_ABNORMAL")
    elif bill["state"] != final:
        return web.json_response({"error": "invalid_state", "state": bill["state"]}, status=409)
    resource = _finished_resource(bill)
    result: dict[str, Any] = {"notify_status": None}
    if bill["notify_url"]:
        result = await send_notify(bill["notify_url"], resource, "MCHTRANSFER.BILL.FINISHED", bill["notify_id"])
    return web.json_response({**result, "state": bill["state"], "transfer_bill_no": bill["transfer_bill_no"]})


async def confirm_transfer(request: web.Request) -> web.Response:
    return await _finish_transfer(request, "SUCCESS")


async def fail_transfer(request: web.Request) -> web.Response:
    return await _finish_transfer(request, "FAIL")


async def pay_state(request: web.Request) -> web.Response:
    state: SandboxState = request.app[SANDBOX_KEY]
    return web.json_response({"orders": state.orders, "refunds": state.refunds, "transfers": state.transfers})


def setup(app: web.Application) -> None:
    sandbox_route(app, "POST", f"{PREFIX}/v3/pay/transactions/jsapi", jsapi)
    sandbox_route(app, "GET", f"{PREFIX}/v3/pay/transactions/out-trade-no/{{out_trade_no}}", query_order)
    sandbox_route(app, "POST", f"{PREFIX}/v3/pay/transactions/out-trade-no/{{out_trade_no}}/close", close_order)
    sandbox_route(app, "POST", f"{PREFIX}/v3/refund/domestic/refunds", create_refund)
    sandbox_route(app, "GET", f"{PREFIX}/v3/refund/domestic/refunds/{{out_refund_no}}", query_refund)
    sandbox_route(app, "POST", f"{PREFIX}/v3/fund-app/mch-transfer/transfer-bills", create_transfer_bill)
    sandbox_route(app, "GET", f"{PREFIX}/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{{out_bill_no}}", query_transfer_bill)
    sandbox_route(app, "POST", f"{PREFIX}/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{{out_bill_no}}/cancel",
                  cancel_transfer_bill)
    sandbox_route(app, "GET", f"{PREFIX}/state", pay_state)
    sandbox_route(app, "POST", f"{PREFIX}/refunds/{{out_refund_no}}/complete", complete_refund)
    sandbox_route(app, "POST", f"{PREFIX}/transfers/{{out_bill_no}}/confirm", confirm_transfer)
    sandbox_route(app, "POST", f"{PREFIX}/transfers/{{out_bill_no}}/fail", fail_transfer)
    sandbox_route(app, "POST", f"{PREFIX}/{{prepay_id}}/complete", complete_payment)
