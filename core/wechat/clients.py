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

from core.settings import Settings
from core.wechat.miniprogram import MiniProgramClient
from core.wechat.pay import WeChatPayClient
from core.wechat.wecom import WeComClient


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


def create_wechat_clients(settings: Settings, http: aiohttp.ClientSession, redis: aioredis.Redis) -> WeChatClients:
    if settings.sandbox:
        from core.sandbox import keys

        appid, secret = keys.SANDBOX_APPID, keys.SANDBOX_APP_SECRET
        pay = WeChatPayClient(
            appid=appid,
            mchid=keys.SANDBOX_MCHID,
            private_key_pem=keys.merchant_key().private_pem,
            cert_serial_no=keys.SANDBOX_CERT_SERIAL_NO,
            apiv3_key=keys.SANDBOX_APIV3_KEY,
            public_key_pem=keys.platform_key().public_pem,
            public_key_id=keys.SANDBOX_PUBLIC_KEY_ID,
            api_base=settings.resolved_wechatpay_api_base(),
            notify_max_skew_seconds=settings.wechatpay_notify_max_skew_seconds,
        )
        wecom = WeComClient(
            http, redis,
            corp_id=keys.SANDBOX_CORP_ID,
            agent_id=keys.SANDBOX_AGENT_ID,
            secret=keys.SANDBOX_CORP_SECRET,
            token=keys.SANDBOX_WECOM_TOKEN,
            encoding_aes_key=keys.SANDBOX_WECOM_AES_KEY,
            robot_key=keys.SANDBOX_ROBOT_KEY,
            api_base=settings.resolved_wecom_api_base(),
        )
    else:
        appid, secret = settings.wechat_appid, settings.wechat_secret
        pay = WeChatPayClient(
            appid=appid,
            mchid=settings.wechatpay_mchid,
            private_key_pem=_read(settings.wechatpay_private_key_path, "HUITUAN_WECHATPAY_PRIVATE_KEY_PATH"),
            cert_serial_no=settings.wechatpay_cert_serial_no,
            apiv3_key=settings.wechatpay_apiv3_key,
            public_key_pem=_read(settings.wechatpay_public_key_path, "HUITUAN_WECHATPAY_PUBLIC_KEY_PATH"),
            public_key_id=settings.wechatpay_public_key_id,
            api_base=settings.resolved_wechatpay_api_base(),
            notify_max_skew_seconds=settings.wechatpay_notify_max_skew_seconds,
        )
        wecom = WeComClient(
            http, redis,
            corp_id=settings.wecom_corp_id,
            agent_id=settings.wecom_agent_id,
            secret=settings.wecom_secret,
            token=settings.wecom_token,
            encoding_aes_key=settings.wecom_encoding_aes_key,
            robot_key=settings.wecom_robot_key,
            api_base=settings.resolved_wecom_api_base(),
        )
    miniprogram = MiniProgramClient(
        http, redis,
        appid=appid,
        secret=secret,
        api_base=settings.resolved_wechat_api_base(),
        miniprogram_state=settings.wechat_miniprogram_state,
    )
    return WeChatClients(miniprogram=miniprogram, pay=pay, wecom=wecom)
