"""Single flight: while one coroutine loads a key, the others asking for it wait for that load
instead of loading it again (a burst that finds a cache empty reads the database once).

``pending`` is the caller's own dict of loads in flight (one per cache). Waiters get the
loader's result or its exception; the key is free again as soon as the load ends.
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, Hashable, TypeVar

T = TypeVar("T")


async def single_flight(pending: dict, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
    running = pending.get(key)
    if running is not None:
        return await asyncio.shield(running)
    future: asyncio.Future = asyncio.get_running_loop().create_future()
    pending[key] = future
    try:
        result = await load()
    except BaseException as exc:
        future.set_exception(exc)
        future.exception()  # retrieved: no "exception never retrieved" when nobody waited
        raise
    else:
        future.set_result(result)
        return result
    finally:
        pending.pop(key, None)
