"""The jobs lease: one process in the fleet runs the schedule.

APScheduler 3.x schedules per process, so several ``huituan serve`` processes sharing a
database would each run every job. A Redis key elects one of them:

- acquire: ``SET key node NX PX ttl``;
- the holder renews every ttl/3 with a compare-and-renew script (only while the value is
  still its own node id, so a holder that stalled past the ttl cannot extend somebody
  else's lease);
- release on stop with compare-and-delete, so the next node takes over at once instead of
  after the ttl;
- the others retry acquisition every few seconds.

A holder that dies without releasing is replaced within ttl + one retry period.
The scripts run the same on real Redis and on fakeredis (``memory://``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import redis.asyncio as aioredis

log = logging.getLogger("huituan.jobs.lease")

LEASE_KEY = "huituan:jobs:lease"

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class JobsLease:
    def __init__(self, redis: aioredis.Redis, node: str, ttl_seconds: float, *,
                 key: str = LEASE_KEY, retry_seconds: float | None = None):
        if ttl_seconds <= 0:
            raise ValueError("lease ttl must be positive")
        self.redis = redis
        self.node = node
        self.key = key
        self.ttl_ms = max(int(ttl_seconds * 1000), 100)
        self.renew_every = ttl_seconds / 3
        self.retry_every = retry_seconds if retry_seconds is not None else min(ttl_seconds / 3, 3.0)
        self.held = False
        self._task: asyncio.Task | None = None

    async def try_acquire(self) -> bool:
        ok = await self.redis.set(self.key, self.node, nx=True, px=self.ttl_ms)
        if ok:
            self._set_held(True)
            return True
        # Already ours (a restart of the loop, or a renewal raced the retry): keep it.
        return await self.renew()

    async def renew(self) -> bool:
        renewed = bool(await self.redis.eval(_RENEW, 1, self.key, self.node, self.ttl_ms))
        self._set_held(renewed)
        return renewed

    async def release(self) -> bool:
        try:
            released = bool(await self.redis.eval(_RELEASE, 1, self.key, self.node))
        finally:
            self._set_held(False, verb="released")
        return released

    async def is_held(self) -> bool:
        """Ask Redis, not the local flag: the answer a job relies on before it runs."""
        try:
            return await self.redis.get(self.key) == self.node
        except Exception:  # Redis down: nobody can prove they hold it, so nobody runs
            log.warning("lease check failed", exc_info=True)
            return False

    async def holder(self) -> str | None:
        return await self.redis.get(self.key)

    def _set_held(self, value: bool, *, verb: str = "lost") -> None:
        """``verb`` says why a held lease ends: "lost" (renewal failed), "released" (stop)."""
        if value != self.held:
            log.info("jobs lease %s by %s", "acquired" if value else verb, self.node)
        self.held = value

    async def _loop(self) -> None:
        while True:
            try:
                if self.held:
                    await self.renew()
                else:
                    await self.try_acquire()
            except asyncio.CancelledError:
                raise
            except Exception:  # a Redis hiccup: keep trying, the ttl protects the others
                log.warning("lease loop error", exc_info=True)
                self._set_held(False)
            await asyncio.sleep(self.renew_every if self.held else self.retry_every)

    async def start(self) -> None:
        if self._task is None:
            try:
                await self.try_acquire()
            except Exception:
                log.warning("first lease attempt failed", exc_info=True)
            self._task = asyncio.create_task(self._loop(), name=f"jobs-lease:{self.node}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self.release()
