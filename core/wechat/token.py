"""access_token cached in Redis, shared by every process, refreshed by exactly one caller.

WeChat invalidates the previous token when a new one is fetched (after a short grace), so N
processes fetching at once would keep knocking each other's tokens out. The refresher holds
a Redis lock (SET NX PX); everybody else waits for the new token and reuses it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis

from huituan.core.errors import UpstreamError
from huituan.core.redis import DELETE_IF_EQUAL

log = logging.getLogger("huituan.wechat.token")


# errcodes meaning "this access_token is no good": 40001 invalid credential,
# 40014 invalid access_token, 42001 access_token expired.
TOKEN_INVALID_ERRCODES = frozenset({40001, 40014, 42001})

Fetcher = Callable[[], Awaitable[tuple[str, int]]]


class AccessTokenCache:
    def __init__(
        self,
        redis: aioredis.Redis,
        key: str,
        fetch: Fetcher,
        *,
        lock_ms: int = 10_000,
        poll_seconds: float = 0.02,
        safety_seconds: int = 300,
    ):
        self.redis = redis
        self.key = key
        self.lock_key = f"{key}:lock"
        self._fetch = fetch
        self.lock_ms = lock_ms
        self.poll_seconds = poll_seconds
        self.safety_seconds = safety_seconds

    async def get(self) -> str:
        token = await self.redis.get(self.key)
        if token:
            return token
        deadline = time.monotonic() + self.lock_ms / 1000 + 5
        while time.monotonic() < deadline:
            owner = uuid.uuid4().hex
            if await self.redis.set(self.lock_key, owner, nx=True, px=self.lock_ms):
                try:
                    # Somebody may have refreshed between our read and our lock.
                    token = await self.redis.get(self.key)
                    if token:
                        return token
                    token, expires_in = await self._fetch()
                    ttl = max(60, int(expires_in) - self.safety_seconds)
                    await self.redis.set(self.key, token, ex=ttl)
                    return token
                finally:
                    await self.redis.eval(DELETE_IF_EQUAL, 1, self.lock_key, owner)
            # Another caller is refreshing: wait for its token, or for its lock to go away.
            while time.monotonic() < deadline:
                await asyncio.sleep(self.poll_seconds)
                token = await self.redis.get(self.key)
                if token:
                    return token
                if not await self.redis.exists(self.lock_key):
                    break
        raise UpstreamError(reason="access_token_refresh_timeout")

    async def invalidate(self, token: str) -> None:
        """Forget ``token`` unless somebody already replaced it with a fresh one."""
        await self.redis.eval(DELETE_IF_EQUAL, 1, self.key, token)
