"""Job functions for the scheduler tests (real functions the scheduler imports by path)."""

from __future__ import annotations

import asyncio

state = {"calls": 0, "active": 0, "max_active": 0, "nodes": []}


def reset() -> None:
    state.update(calls=0, active=0, max_active=0, nodes=[])


async def probe(rt) -> int:
    state["calls"] += 1
    state["nodes"].append(rt.node)
    state["active"] += 1
    state["max_active"] = max(state["max_active"], state["active"])
    try:
        await asyncio.sleep(0.05)
    finally:
        state["active"] -= 1
    return 1


async def slow(rt) -> int:
    state["active"] += 1
    state["max_active"] = max(state["max_active"], state["active"])
    try:
        await asyncio.sleep(0.6)
    finally:
        state["active"] -= 1
    return 2


async def boom(rt) -> int:
    raise RuntimeError("boom: the sweep failed")


not_a_function = 42
