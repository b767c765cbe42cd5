"""Referral sweeps: bindings past their validity expire (with an audit row each)."""

from __future__ import annotations

from huituan.core.runtime import Runtime
from huituan.services.referrals import binding


async def expire_bindings(rt: Runtime) -> int:
    return await binding.expire_bindings()
