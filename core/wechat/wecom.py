"""WeCom (企业微信) client. Get it from ``rt.wechat.wecom``.

- ``.crypto``: ``wechatpy.work.crypto.WeChatCrypto(token, encoding_aes_key, corp_id)`` for the
  bot callback (``check_signature``, ``decrypt_message``, ``encrypt_message``).
- ``.corp_id``, ``.agent_id``
- ``async send_text(touser, content) -> None``       app message (touser: "userid1|userid2")
- ``async send_markdown(touser, content) -> None``
- ``async upload_media(kind, filename, content, content_type=None) -> media_id``  temporary media
  (``POST /cgi-bin/media/upload``, multipart field ``media``; kind image|voice|video|file; the
  media_id is good for three days)
- ``async send_image(touser, media_id) -> None``      app message with an uploaded image
- ``async robot_push(content, msgtype="markdown", key=None) -> None``  group robot webhook (key: a leader's robot)

Errors: non-zero errcode -> ``UpstreamError`` (details errcode, errmsg); network -> ``UpstreamError``.
"""

from __future__ import annotations

import mimetypes

import aiohttp
import redis.asyncio as aioredis
from wechatpy.work.crypto import WeChatCrypto

from huituan.core.errors import UpstreamError
from huituan.core.wechat.base import JsonApiClient, WeChatApiError
from huituan.core.wechat.token import AccessTokenCache

MEDIA_KINDS = ("image", "voice", "video", "file")


class WeComClient(JsonApiClient):
    name = "wecom"

    def __init__(
        self,
        http: aiohttp.ClientSession,
        redis: aioredis.Redis,
        *,
        corp_id: str,
        agent_id: str,
        secret: str,
        token: str,
        encoding_aes_key: str,
        robot_key: str,
        api_base: str,
    ):
        self.corp_id = corp_id
        self.agent_id = agent_id
        self.secret = secret
        self.robot_key = robot_key
        self.crypto = WeChatCrypto(token, encoding_aes_key, corp_id) if token and encoding_aes_key else None
        tokens = AccessTokenCache(redis, f"wechat:access_token:wecom:{corp_id}:{agent_id}", self._fetch_token)
        super().__init__(http, api_base, tokens)

    async def _fetch_token(self) -> tuple[str, int]:
        data = await self.call(
            "GET", "/cgi-bin/gettoken", params={"corpid": self.corp_id, "corpsecret": self.secret},
            with_token=False,
        )
        if not data.get("access_token"):
            raise WeChatApiError(errcode=-1, errmsg="no access_token", api="/cgi-bin/gettoken")
        return data["access_token"], int(data.get("expires_in", 7200))

    async def _send(self, touser: str, msgtype: str, message: dict[str, str]) -> None:
        body = {
            "touser": touser,
            "msgtype": msgtype,
            "agentid": int(self.agent_id) if str(self.agent_id).isdigit() else self.agent_id,
            msgtype: message,
        }
        await self.call("POST", "/cgi-bin/message/send", json_body=body)

    async def send_text(self, touser: str, content: str) -> None:
        await self._send(touser, "text", {"content": content})

    async def send_markdown(self, touser: str, content: str) -> None:
        await self._send(touser, "markdown", {"content": content})

    async def upload_media(self, kind: str, filename: str, content: bytes, content_type: str | None = None) -> str:
        """Upload temporary media (three days); returns its media_id."""
        if kind not in MEDIA_KINDS:
            raise ValueError(f"unsupported media kind: {kind}")
        ctype = content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        data = await self.call("POST", "/cgi-bin/media/upload", params={"type": kind},
                               files={"media": (filename, content, ctype)})
        media_id = data.get("media_id")
        if not media_id:
            raise WeChatApiError(errcode=-1, errmsg="no media_id", api="/cgi-bin/media/upload")
        return str(media_id)

    async def send_image(self, touser: str, media_id: str) -> None:
        await self._send(touser, "image", {"media_id": media_id})

    async def robot_push(self, content: str, msgtype: str = "markdown", key: str | None = None) -> None:
        """Push to a group robot: ``key`` (a leader's customer group) or the configured one."""
        key = key or self.robot_key
        if not key:
            raise UpstreamError(reason="robot_key_not_configured")
        if msgtype not in ("markdown", "text"):
            raise ValueError(f"unsupported robot msgtype: {msgtype}")
        await self.call(
            "POST", "/cgi-bin/webhook/send", params={"key": key},
            json_body={"msgtype": msgtype, msgtype: {"content": content}}, with_token=False,
        )
