"""Activity sweeps: groups and bargains past their end, unpaid seats and claims past their
payment deadline, flash-sale stock preloaded into Redis and reconciled with the database."""

from __future__ import annotations

from huituan.core.runtime import Runtime
from huituan.services.activities import bargain, flash_claims, flash_sale, group_buy
from huituan.services.orders import lifecycle


async def expire_groups(rt: Runtime) -> int:
    return await group_buy.expire_groups()


async def expire_bargains(rt: Runtime) -> int:
    return await bargain.expire_bargains()


async def release_unpaid_activity_orders(rt: Runtime) -> int:
    return await lifecycle.close_expired_orders(rt, activity_only=True)


async def preload_flash_sessions(rt: Runtime) -> int:
    return await flash_sale.preload_sessions(rt.redis, rt.settings.flash_preload_minutes)


async def reconcile_flash_stock(rt: Runtime) -> int:
    # Claims a dead process left without their orders first: then they are not drift.
    recovered = await flash_claims.recover_pending(rt.redis, rt.settings)
    return recovered + await flash_sale.reconcile(rt.redis)
