"""Sandbox key material, shared by the sandbox server and our own clients in the same process.

The RSA keys are generated once per process, in memory, on first use: the merchant API key
(we sign requests with it, the sandbox verifies with its public half) and the WeChat Pay
platform key (the sandbox signs responses and notifies with it, we verify with its public
half). Nothing here is a secret: it only exists when no app id is configured.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

SANDBOX_APPID = "wx0000sandbox00001"
SANDBOX_APP_SECRET = "sandbox-app-secret-0123456789abcd"

SANDBOX_MCHID = "1900000109"
SANDBOX_APIV3_KEY = "huituanSandboxApiV3Key0123456789"  # 32 chars, AES-256-GCM key
SANDBOX_PUBLIC_KEY_ID = "PUB_KEY_ID_SANDBOX0000000000000000000001"
SANDBOX_CERT_SERIAL_NO = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"

SANDBOX_CORP_ID = "ww0000sandbox00001"
SANDBOX_AGENT_ID = "1000002"
SANDBOX_CORP_SECRET = "sandbox-corp-secret-0123456789abcd"
SANDBOX_WECOM_TOKEN = "huituanSandboxToken"
# 43 chars of base64 (no padding): WeCom's EncodingAESKey format, decodes to 32 bytes.
SANDBOX_WECOM_AES_KEY = "aHVpdHVhblNhbmRib3hXZUNvbUFlc0tleTAxMjM0NTY"
SANDBOX_ROBOT_KEY = "sandbox-robot-key"

assert len(SANDBOX_APIV3_KEY) == 32
assert len(SANDBOX_WECOM_AES_KEY) == 43


@dataclass(frozen=True)
class RsaPair:
    private_key: rsa.RSAPrivateKey
    private_pem: str  # PKCS#8: wechatpayv3 only accepts "BEGIN PRIVATE KEY"
    public_pem: str   # SubjectPublicKeyInfo: "BEGIN PUBLIC KEY"

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()


def _generate() -> RsaPair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return RsaPair(key, private_pem, public_pem)


def _load(pem: str) -> RsaPair:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return RsaPair(key, pem, public_pem)


def _keypair(name: str) -> RsaPair:
    """Generated in memory, or, with HUITUAN_SANDBOX_KEY_DIR set, shared through PEM files in
    that folder so several sandbox processes (a benchmark, a multi-process demo) sign and
    verify with the same keys. The first process to start writes them."""
    key_dir = os.environ.get("HUITUAN_SANDBOX_KEY_DIR", "")
    if not key_dir:
        return _generate()
    path = Path(key_dir) / f"sandbox_{name}.pem"
    if path.exists():
        return _load(path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    pair = _generate()
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(pair.private_pem)
    try:
        # link() fails if another process won the race; then everybody uses the winner's key.
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return _load(path.read_text())


@cache
def merchant_key() -> RsaPair:
    """Our merchant API key (we sign with it)."""
    return _keypair("merchant")


@cache
def platform_key() -> RsaPair:
    """The WeChat Pay platform key (the sandbox signs with it)."""
    return _keypair("platform")
