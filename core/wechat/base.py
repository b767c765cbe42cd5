"""A thin async client for WeChat-style JSON APIs (``{"errcode": 0, "errmsg": "ok", ...}``).

Shared by the mini-program and WeCom clients: access_token from the Redis cache, retried
once with a fresh token when WeChat says the token is no good, errors mapped to core.errors.
A request body is JSON (``json_body``) or multipart/form-data (``files``: field name ->
``(filename, bytes, content type)``, the media uploads), never both.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp

from huituan.core.errors import UpstreamError, ValidationFailed
from huituan.core.wechat.token import TOKEN_INVALID_ERRCODES, AccessTokenCache

log = logging.getLogger("huituan.wechat")

# multipart fields: name -> (filename, content, content type)
Files = dict[str, tuple[str, bytes, str]]


def _form(files: Files) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for name, (filename, content, content_type) in files.items():
        form.add_field(name, content, filename=filename, content_type=content_type)
    return form


class WeChatApiError(UpstreamError):
    """WeChat answered with a non-zero errcode (details: errcode, errmsg)."""

    @property
    def errcode(self) -> int:
        return int(self.details.get("errcode", -1))


class JsonApiClient:
    name = "wechat"

    def __init__(self, http: aiohttp.ClientSession, api_base: str, tokens: AccessTokenCache):
        self.http = http
        self.api_base = api_base.rstrip("/")
        self.tokens = tokens

    async def _request(
        self, method: str, path: str, *, params: dict | None = None, json_body: Any = None,
        files: Files | None = None,
    ) -> tuple[str, bytes]:
        url = f"{self.api_base}{path}"
        data: Any = None
        headers = {}
        if json_body is not None and files:
            raise ValueError("a WeChat request has a JSON body or files, not both")
        if json_body is not None:
            # ensure_ascii=False: WeChat shows \uXXXX escapes literally in some message fields.
            data = json.dumps(json_body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json; charset=utf-8"
        elif files:
            data = _form(files)  # aiohttp's FormData is spent once sent: a fresh one per request
        try:
            async with self.http.request(method, url, params=params, data=data, headers=headers) as resp:
                body = await resp.read()
                if resp.status >= 500:
                    raise UpstreamError(reason="http_status", http_status=resp.status, api=path)
                return resp.headers.get("Content-Type", ""), body
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            log.warning("%s %s network error: %r", self.name, path, exc)
            raise UpstreamError(reason="network_error", api=path) from exc

    @staticmethod
    def _decode(path: str, body: bytes) -> dict[str, Any]:
        try:
            data = json.loads(body)
        except ValueError:
            raise UpstreamError(reason="invalid_json", api=path) from None
        if not isinstance(data, dict):
            raise UpstreamError(reason="invalid_json", api=path)
        return data

    def _raise_for(self, path: str, data: dict[str, Any]) -> None:
        errcode = int(data.get("errcode") or 0)
        if errcode:
            log.warning("%s %s errcode=%s errmsg=%s", self.name, path, errcode, data.get("errmsg"))
            raise WeChatApiError(errcode=errcode, errmsg=str(data.get("errmsg", "")), api=path)

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: dict | None = None,
        json_body: Any = None,
        files: Files | None = None,
        with_token: bool = True,
        binary: bool = False,
    ) -> Any:
        """Call ``path``; returns the JSON dict (or raw bytes when ``binary`` and WeChat sent
        something other than JSON). One retry with a fresh token on 40001/40014/42001.
        ``files`` sends multipart/form-data instead of a JSON body (media uploads)."""
        for attempt in (1, 2):
            query = dict(params or {})
            token = None
            if with_token:
                token = await self.tokens.get()
                query["access_token"] = token
            content_type, body = await self._request(method, path, params=query, json_body=json_body, files=files)
            if binary and "json" not in content_type and "text" not in content_type:
                return body
            data = self._decode(path, body)
            errcode = int(data.get("errcode") or 0)
            if token and errcode in TOKEN_INVALID_ERRCODES and attempt == 1:
                log.info("%s access_token rejected (errcode %s), refreshing", self.name, errcode)
                await self.tokens.invalidate(token)
                continue
            self._raise_for(path, data)
            return data
        raise AssertionError("unreachable")


def code_invalid(message: str) -> ValidationFailed:
    return ValidationFailed(message, field="code", code="wechat_code_invalid")
