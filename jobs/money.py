"""Money sweeps: settle due commission, and poll WeChat for transfers and refunds whose
notify never came."""

from __future__ import annotations

from huituan.core.runtime import Runtime
from huituan.services import withdrawals
from huituan.services.commission import settlement
from huituan.services.orders import refunds, unmatched_payments


async def settle_commissions(rt: Runtime) -> int:
    return await settlement.settle_commissions()


async def poll_transfers(rt: Runtime) -> int:
    return await withdrawals.poll_transfers(rt)


async def poll_refunds(rt: Runtime) -> int:
    """Order refunds, then the refunds of payments that named no order of ours."""
    return await refunds.poll_refunds(rt) + await unmatched_payments.poll_refunds(rt)
