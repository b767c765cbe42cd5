"""The WeChat-facing clients a process holds: ``rt.wechat.miniprogram`` / ``.pay`` / ``.wecom``.

In sandbox mode (no app id) every client uses the sandbox key material from
``core.sandbox.keys``: the sandbox server runs in the same process and shares it.
Outside the sandbox keys come from the paths in settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import aiohttp
import redis.asyncio as aioredis

from huituan.core.settings import Settings
from huituan.core.wechat.miniprogram import MiniProgramClient
from huituan.core.wechat.pay import WeChatPayClient
from huituan.core.wechat.wecom import WeComClient


@dataclass
class WeChatClients:
    miniprogram: MiniProgramClient
    pay: WeChatPayClient
    wecom: WeComClient

    async def aclose(self) -> None:
        await self.pay.aclose()


def _read(path: str, what: str) -> str:
    if not path:
        raise RuntimeError(f"{what} is not configured")
    return Path(path).read_text()


def _credentials(settings: Settings) -> dict[str, str]:
    """Who we are at WeChat: the sandbox's fixed identity and keys, or the configured ones."""
    if settings.sandbox:
        from huituan.core.sandbox import keys

        return dict(
            appid=keys.SANDBOX_APPID, secret=keys.SANDBOX_APP_SECRET, mchid=keys.SANDBOX_MCHID,
            private_key_pem=keys.merchant_key().private_pem, cert_serial_no=keys.SANDBOX_CERT_SERIAL_NO,
            apiv3_key=keys.SANDBOX_APIV3_KEY, public_key_pem=keys.platform_key().public_pem,
            public_key_id=keys.SANDBOX_PUBLIC_KEY_ID, corp_id=keys.SANDBOX_CORP_ID,
            agent_id=keys.SANDBOX_AGENT_ID, corp_secret=keys.SANDBOX_CORP_SECRET, token=keys.SANDBOX_WECOM_TOKEN,
            encoding_aes_key=keys.SANDBOX_WECOM_AES_KEY, robot_key=keys.SANDBOX_ROBOT_KEY,
        )
    return dict(
        appid=settings.wechat_appid, secret=settings.wechat_secret, mchid=settings.wechatpay_mchid,
        private_key_pem=_read(settings.wechatpay_private_key_path, "HUITUAN_WECHATPAY_PRIVATE_KEY_PATH"),
        cert_serial_no=settings.wechatpay_cert_serial_no, apiv3_key=settings.wechatpay_apiv3_key,
        public_key_pem=_read(settings.wechatpay_public_key_path, "HUITUAN_WECHATPAY_PUBLIC_KEY_PATH"),
        public_key_id=settings.wechatpay_public_key_id, corp_id=settings.wecom_corp_id,
        agent_id=settings.wecom_agent_id, corp_secret=settings.wecom_secret, token=settings.wecom_token,
        encoding_aes_key=settings.wecom_encoding_aes_key, robot_key=settings.wecom_robot_key,
    )


def create_wechat_clients(settings: Settings, http: aiohttp.ClientSession, redis: aioredis.Redis) -> WeChatClients:
    c = _credentials(settings)
    pay = WeChatPayClient(
        appid=c["appid"], mchid=c["mchid"], private_key_pem=c["private_key_pem"],
        cert_serial_no=c["cert_serial_no"], apiv3_key=c["apiv3_key"], public_key_pem=c["public_key_pem"],
        public_key_id=c["public_key_id"], api_base=settings.resolved_wechatpay_api_base(),
        notify_max_skew_seconds=settings.wechatpay_notify_max_skew_seconds,
    )
    wecom = WeComClient(
        http, redis, corp_id=c["corp_id"], agent_id=c["agent_id"], secret=c["corp_secret"], token=c["token"],
        encoding_aes_key=c["encoding_aes_key"], robot_key=c["robot_key"], api_base=settings.resolved_wecom_api_base(),
    )
    miniprogram = MiniProgramClient(
        http, redis, appid=c["appid"], secret=c["secret"], api_base=settings.resolved_wechat_api_base(),
        miniprogram_state=settings.wechat_miniprogram_state,
    )
    return WeChatClients(miniprogram=miniprogram, pay=pay, wecom=wecom)
