"""Remote images for posters (product images, avatars): only from allowed hosts (setting),
with a timeout and a size limit, kept briefly in memory; any failure gives None and the
renderer draws a placeholder, never an error."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from urllib.parse import urlsplit

import aiohttp

from huituan.core.settings import Settings

log = logging.getLogger("huituan.posters.images")


class ImageFetcher:
    def __init__(self, settings: Settings, http: aiohttp.ClientSession, *, max_items: int = 256, ttl: float = 600.0):
        self.hosts = settings.poster_image_host_set()
        self.timeout = aiohttp.ClientTimeout(total=settings.poster_image_timeout_seconds)
        self.max_bytes = settings.poster_image_max_bytes
        self.http = http
        self.ttl = ttl
        self.max_items = max_items
        self._cache: OrderedDict[str, tuple[float, bytes | None]] = OrderedDict()
        self._inflight: dict[str, asyncio.Future] = {}

    def allowed(self, url: str) -> bool:
        try:
            parts = urlsplit(url)
        except ValueError:
            return False
        return parts.scheme in ("http", "https") and (parts.hostname or "").lower() in self.hosts

    async def get(self, url: str) -> bytes | None:
        if not url or not self.allowed(url):
            return None
        hit = self._cache.get(url)
        if hit is not None and hit[0] > time.monotonic():
            self._cache.move_to_end(url)
            return hit[1]
        waiting = self._inflight.get(url)
        if waiting is not None:
            return await asyncio.shield(waiting)
        fut = asyncio.get_running_loop().create_future()
        self._inflight[url] = fut
        try:
            data = await self._fetch(url)
            # A failure is remembered for a short while only: the host may come back.
            self._cache[url] = (time.monotonic() + (self.ttl if data else 30.0), data)
            while len(self._cache) > self.max_items:
                self._cache.popitem(last=False)
            fut.set_result(data)
            return data
        finally:
            if not fut.done():
                fut.set_result(None)
            self._inflight.pop(url, None)

    async def _fetch(self, url: str) -> bytes | None:
        try:
            async with self.http.get(url, timeout=self.timeout, allow_redirects=False) as resp:
                if resp.status != 200:
                    return None
                if (resp.content_length or 0) > self.max_bytes:
                    return None
                buf = bytearray()
                async for chunk in resp.content.iter_chunked(65536):
                    buf += chunk
                    if len(buf) > self.max_bytes:
                        return None
                return bytes(buf)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            log.info("poster image fetch failed: %s (%s)", url, type(exc).__name__)
            return None
