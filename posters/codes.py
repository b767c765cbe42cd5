"""The code drawn on a poster: the mini-program code from ``getwxacodeunlimit`` (scene = the
share code; page, env_version and check_path from settings), cached in Redis by scene because
WeChat rate-limits the call. When it cannot be had (an errcode, an unpublished page, WeChat
unreachable) a QR code of the H5 share URL (``share_h5_url`` + ``?s=<code>``) is drawn instead
and the poster still renders; the failure is remembered for a minute."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from huituan.core.errors import HuituanError
from huituan.core.runtime import Runtime

log = logging.getLogger("huituan.posters.codes")
FAILED = b"-"
FAILURE_TTL_SECONDS = 60


def h5_url(rt: Runtime, code: str) -> str:
    return f"{rt.settings.resolved_share_h5_url()}?s={code}"


class CodeSource:
    def __init__(self, rt: Runtime, redis):
        self.rt = rt
        self.redis = redis  # a bytes client (decode_responses=False)
        s = rt.settings
        self.prefix = f"wxacode:{s.wechat_appid or 'sandbox'}:{s.wxacode_env_version}:{s.wxacode_page}:"
        self._inflight: dict[str, asyncio.Future] = {}

    async def for_scene(self, scene: str) -> dict[str, Any]:
        """``{"png": bytes}`` (the mini-program code) or ``{"text": url}`` (draw a QR of the H5 URL)."""
        waiting = self._inflight.get(scene)
        if waiting is not None:
            return await asyncio.shield(waiting)
        fut = asyncio.get_running_loop().create_future()
        self._inflight[scene] = fut
        try:
            result = await self._load(scene)
            fut.set_result(result)
            return result
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # retrieved: no "never retrieved" warning when nobody else waited
            raise
        finally:
            self._inflight.pop(scene, None)

    async def _load(self, scene: str) -> dict[str, Any]:
        s = self.rt.settings
        key = self.prefix + scene
        cached = await self.redis.get(key)
        if cached and cached != FAILED:
            return {"png": cached}
        if cached != FAILED:
            try:
                png = await self.rt.wechat.miniprogram.get_wxacode_unlimit(
                    scene, page=s.wxacode_page or None, width=430, check_path=s.wxacode_check_path,
                    env_version=s.wxacode_env_version)
                await self.redis.set(key, png, ex=s.wxacode_cache_seconds)
                return {"png": png}
            except (HuituanError, OSError, asyncio.TimeoutError) as exc:
                log.warning("wxacode unavailable for scene %s, drawing the H5 QR instead: %s", scene, exc)
                await self.redis.set(key, FAILED, ex=FAILURE_TTL_SECONDS)
        return {"text": h5_url(self.rt, scene)}
