"""Pickup point jobs: the leader's summary pushed at cutoff."""

from __future__ import annotations

from huituan.services.pickup import pushes


async def push_cutoff_summaries(rt) -> int:
    return await pushes.push_cutoff_summaries(rt)
