"""Redis through redis.asyncio with a blocking pool; ``memory://`` is fakeredis in-process."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis

try:
    import hiredis
except ImportError:  # pragma: no cover - hiredis is a dependency; without it redis-py packs in Python
    hiredis = None


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
    pool.connection_class = _with_c_packer(pool.connection_class)
    return aioredis.Redis(connection_pool=pool)


_PLAIN_ARGS = (str, bytes, int, float)
_packed_classes: dict[type, type] = {}


def _with_c_packer(connection_class: type) -> type:
    """The pool's connection class (TCP, TLS or Unix socket) with commands packed by hiredis
    in C. redis.asyncio packs in Python only (the sync client can use hiredis): ~8.7 us for a
    flash claim's EVALSHA of 16 arguments, 1.2 us in C, and a burst sends thousands. Arguments
    other than text, bytes and numbers (and booleans, which redis-py refuses) go the Python way,
    so its errors stay its own; the bytes are the same (tests/core/test_redis.py)."""
    if hiredis is None:
        return connection_class
    packed = _packed_classes.get(connection_class)
    if packed is None:
        def pack_command(self, *args):
            encoder = self.encoder
            if (encoder.encoding == "utf-8" and encoder.encoding_errors == "strict"
                    and all(type(a) in _PLAIN_ARGS for a in args)):  # type(): a bool is not an int here
                command = args[0]
                if isinstance(command, str):
                    args = (*command.encode().split(), *args[1:])
                elif b" " in command:
                    args = (*command.split(), *args[1:])
                return [hiredis.pack_command(args)]
            return connection_class.pack_command(self, *args)

        packed = type(connection_class.__name__, (connection_class,), {"pack_command": pack_command})
        _packed_classes[connection_class] = packed
    return packed


async def close_redis(client: aioredis.Redis) -> None:
    await client.aclose()


# Delete the key only if it still holds our value (a lock we own, a token we saw fail).
DELETE_IF_EQUAL = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


@asynccontextmanager
async def try_lock(redis: aioredis.Redis, key: str, ttl_ms: int) -> AsyncIterator[bool]:
    """Hold ``key`` for at most ``ttl_ms`` if nobody else holds it; yields whether it is ours.
    Released by compare-and-delete: a holder that outlived its lock never frees its successor's."""
    owner = uuid.uuid4().hex
    held = bool(await redis.set(key, owner, nx=True, px=ttl_ms))
    try:
        yield held
    finally:
        if held:
            await redis.eval(DELETE_IF_EQUAL, 1, key, owner)
