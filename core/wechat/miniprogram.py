"""Mini-program server API client (our own, async, on aiohttp). Get it from ``rt.wechat.miniprogram``.

- ``async code2session(code) -> Session(openid, session_key, unionid)``
- ``async get_phone_number(code) -> str``  (purePhoneNumber, e.g. "13800138000")
- ``async get_wxacode_unlimit(scene, page=None, width=430, check_path=False, env_version="release") -> bytes`` (PNG)
- ``async send_subscribe_message(openid, template_id, data, page=None) -> None``
  ``data`` is ``{"thing1": "文字"}`` or WeChat's own ``{"thing1": {"value": "文字"}}``.
- ``async upload_shipping_info(body) -> None``: 小程序发货信息管理 ``/wxa/sec/order/upload_shipping_info``
  (``body`` is WeChat's JSON: order_key, logistics_type, delivery_mode, shipping_list,
  upload_time, payer). Until it is called the payment's funds stay frozen.
- ``async notify_confirm_receive(transaction_id, received_time) -> None``: 确认收货提醒
  ``/wxa/sec/order/notify_confirm_receive`` (received_time: unix seconds).

Bad login/phone code (errcode 40029 / 40163) -> ``ValidationFailed(field="code",
code="wechat_code_invalid")``; other errcodes -> ``UpstreamError`` (details errcode, errmsg);
network errors -> ``UpstreamError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from huituan.core.wechat.base import JsonApiClient, WeChatApiError, code_invalid
from huituan.core.wechat.token import AccessTokenCache

CODE_INVALID_ERRCODES = frozenset({40029, 40163})


@dataclass(frozen=True)
class Session:
    openid: str
    session_key: str
    unionid: str | None = None


class MiniProgramClient(JsonApiClient):
    name = "miniprogram"

    def __init__(
        self,
        http: aiohttp.ClientSession,
        redis: aioredis.Redis,
        *,
        appid: str,
        secret: str,
        api_base: str,
        miniprogram_state: str = "formal",
    ):
        self.appid = appid
        self.secret = secret
        self.miniprogram_state = miniprogram_state
        tokens = AccessTokenCache(redis, f"wechat:access_token:mp:{appid}", self._fetch_token)
        super().__init__(http, api_base, tokens)

    async def _fetch_token(self) -> tuple[str, int]:
        data = await self.call(
            "GET", "/cgi-bin/token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
            with_token=False,
        )
        if not data.get("access_token"):
            raise WeChatApiError(errcode=-1, errmsg="no access_token", api="/cgi-bin/token")
        return data["access_token"], int(data.get("expires_in", 7200))

    async def code2session(self, code: str) -> Session:
        if not code:
            raise code_invalid("登录凭证不能为空")
        try:
            data = await self.call(
                "GET", "/sns/jscode2session",
                params={"appid": self.appid, "secret": self.secret, "js_code": code,
                        "grant_type": "authorization_code"},
                with_token=False,
            )
        except WeChatApiError as exc:
            if exc.errcode in CODE_INVALID_ERRCODES:
                raise code_invalid("登录凭证无效或已过期，请重新登录") from None
            raise
        return Session(openid=data["openid"], session_key=data.get("session_key", ""),
                       unionid=data.get("unionid") or None)

    async def get_phone_number(self, code: str) -> str:
        if not code:
            raise code_invalid("手机号授权凭证不能为空")
        try:
            data = await self.call("POST", "/wxa/business/getuserphonenumber", json_body={"code": code})
        except WeChatApiError as exc:
            if exc.errcode in CODE_INVALID_ERRCODES:
                raise code_invalid("手机号授权凭证无效或已过期，请重新授权") from None
            raise
        info = data.get("phone_info") or {}
        return info.get("purePhoneNumber") or info.get("phoneNumber") or ""

    async def get_wxacode_unlimit(
        self,
        scene: str,
        page: str | None = None,
        width: int = 430,
        check_path: bool = False,
        env_version: str = "release",
    ) -> bytes:
        body: dict[str, Any] = {"scene": scene, "width": width, "check_path": check_path,
                                "env_version": env_version}
        if page:
            body["page"] = page
        result = await self.call("POST", "/wxa/getwxacodeunlimit", json_body=body, binary=True)
        if isinstance(result, dict):  # JSON without errcode: not an image
            raise WeChatApiError(errcode=-1, errmsg="no image returned", api="/wxa/getwxacodeunlimit")
        return result

    async def send_subscribe_message(
        self, openid: str, template_id: str, data: dict[str, Any], page: str | None = None
    ) -> None:
        values = {k: (v if isinstance(v, dict) else {"value": str(v)}) for k, v in data.items()}
        body: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": values,
            "miniprogram_state": self.miniprogram_state,
            "lang": "zh_CN",
        }
        if page:
            body["page"] = page
        await self.call("POST", "/cgi-bin/message/subscribe/send", json_body=body)

    async def upload_shipping_info(self, body: dict[str, Any]) -> None:
        await self.call("POST", "/wxa/sec/order/upload_shipping_info", json_body=body)

    async def notify_confirm_receive(self, transaction_id: str, received_time: int) -> None:
        await self.call("POST", "/wxa/sec/order/notify_confirm_receive",
                        json_body={"transaction_id": transaction_id, "received_time": int(received_time)})
