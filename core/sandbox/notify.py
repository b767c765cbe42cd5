"""WeChat Pay v3 signing as the platform does it: response signatures and encrypted notifies.

``build_signed_notify`` is also the test helper for forging, aging or tampering notifies::

    headers, body = build_signed_notify({"out_trade_no": ...}, "TRANSACTION.SUCCESS",
                                        timestamp=int(time.time()) - 3600)
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from typing import Any

from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256

from huituan.core.clock import china_now as _china_now
from huituan.core.sandbox import keys

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"

SUMMARIES = {
    "TRANSACTION.SUCCESS": "支付成功",
    "REFUND.SUCCESS": "退款成功",
    "REFUND.ABNORMAL": "退款异常",
    "REFUND.CLOSED": "退款关闭",
    "MCHTRANSFER.BILL.FINISHED": "商家转账单据终态通知",
}
ORIGINAL_TYPES = {
    "TRANSACTION": "transaction",
    "REFUND": "refund",
    "MCHTRANSFER": "mch_payment",
}


def china_now_iso() -> str:
    return _china_now().isoformat(timespec="seconds")


def rsa_sign(message: str, private_key=None) -> str:
    key = private_key or keys.platform_key().private_key
    return base64.b64encode(key.sign(message.encode("utf-8"), PKCS1v15(), SHA256())).decode()


def signature_headers(body: str, *, timestamp: int | None = None, serial: str | None = None,
                      nonce: str | None = None) -> dict[str, str]:
    """Wechatpay-* headers over ``body`` signed with the platform private key."""
    ts = str(int(time.time()) if timestamp is None else int(timestamp))
    nonce = nonce or secrets.token_hex(16).upper()
    return {
        "Wechatpay-Timestamp": ts,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": rsa_sign(f"{ts}\n{nonce}\n{body}\n"),
        "Wechatpay-Serial": serial or keys.SANDBOX_PUBLIC_KEY_ID,
        "Wechatpay-Signature-Type": SIGNATURE_TYPE,
    }


def encrypt_resource(resource: dict[str, Any], associated_data: str, apiv3_key: str | None = None) -> dict[str, str]:
    nonce = secrets.token_hex(6)  # 12 ASCII chars, as WeChat sends
    plain = json.dumps(resource, ensure_ascii=False).encode("utf-8")
    key = (apiv3_key or keys.SANDBOX_APIV3_KEY).encode()
    cipher = AESGCM(key).encrypt(nonce.encode(), plain, associated_data.encode())
    return {
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(cipher).decode(),
        "associated_data": associated_data,
        "nonce": nonce,
    }


def build_signed_notify(
    resource: dict[str, Any],
    event_type: str,
    *,
    timestamp: int | None = None,
    tamper: bool = False,
    serial: str | None = None,
    apiv3_key: str | None = None,
    notify_id: str | None = None,
) -> tuple[dict[str, str], bytes]:
    """A notify exactly as WeChat Pay sends it: (headers, body).

    ``tamper``: change the body after signing. ``serial``: claim another key id.
    ``timestamp``: sign with this time (age it to test freshness). ``apiv3_key``: encrypt with
    another key (decryption fails on our side).
    """
    prefix = event_type.split(".", 1)[0]
    original_type = ORIGINAL_TYPES.get(prefix, prefix.lower())
    encrypted = encrypt_resource(resource, original_type, apiv3_key)
    encrypted["original_type"] = original_type
    envelope = {
        "id": notify_id or str(uuid.uuid4()),
        "create_time": china_now_iso(),
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": SUMMARIES.get(event_type, event_type),
        "resource": encrypted,
    }
    body = json.dumps(envelope, ensure_ascii=False)
    headers = signature_headers(body, timestamp=timestamp, serial=serial)
    headers["Content-Type"] = "application/json"
    if tamper:
        envelope["summary"] = envelope["summary"] + " "
        body = json.dumps(envelope, ensure_ascii=False)
    return headers, body.encode("utf-8")
