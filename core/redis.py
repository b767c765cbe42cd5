"""Redis through redis.asyncio with a blocking pool; ``memory://`` is fakeredis in-process."""

from __future__ import annotations

import redis.asyncio as aioredis


def create_redis(url: str, max_connections: int = 50, *, decode_responses: bool = True) -> aioredis.Redis:
    """``decode_responses=False`` for a client that stores bytes (images)."""
    if url.startswith("memory://"):
        import fakeredis

        # One FakeServer per client: memory:// is per-process state, like SQLite's file is
        # per-machine. Lua scripts run through lupa exactly as on real Redis.
        return fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer(), decode_responses=decode_responses)
    # redis 8 caps the async pool at 100 and raises when exhausted; a blocking pool waits.
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=5, decode_responses=decode_responses
    )
    return aioredis.Redis(connection_pool=pool)


async def close_redis(client: aioredis.Redis) -> None:
    await client.aclose()
