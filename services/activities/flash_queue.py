"""The line of won flash-sale claims waiting for their orders, per process.

A claim is won in Redis (one Lua script) in well under a millisecond; creating its order (read
the buyer's address and the SKU, build the order, write it in a batch, commit) costs a winner
about a millisecond and a half of this process' CPU. In a burst, a thousand winners arrive in
the first second: when each request created its own order, they all ran at once, the event loop
did little else for that second and every other buyer in the crowd waited behind them (the p99
of the whole burst was the winners' second).

So the orders are made here, behind the claims, at most ``concurrency`` at a time per process
(their writes still share batches: ``flash_orders``). The claim's request waits for its order
only while the line is short (``answer_backlog``): a quiet sale answers with the order as
before; in a burst the winner is answered at once with "queued" and the mini-program polls the
claim until its order is there (``flash_claims.claim_state``). A won claim is in Redis' pending
hash from the script on, so a process that dies with claims in its line leaves them for
``flash_claims.recover_pending``.

``STATS`` counts claims answered at once (``queued``) and after their order (``waited``), and
the line's high-water mark: tests assert both answers ran.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

STATS = {"submitted": 0, "queued": 0, "waited": 0, "peak": 0}

# Per event loop (tests run several): the gate and the orders in the line or being made.
_gates: dict[int, tuple[int, asyncio.Semaphore]] = {}
_tasks: dict[int, set[asyncio.Task]] = {}


def submit(make: Callable[[], Awaitable[Any]], concurrency: int) -> asyncio.Task:
    """Put one order in this process' line: ``make()`` runs when fewer than ``concurrency``
    others are running. The returned task outlives the request that submitted it."""
    loop = asyncio.get_running_loop()
    key = id(loop)
    size, gate = _gates.get(key) or (0, None)
    if gate is None or size != concurrency:
        gate = asyncio.Semaphore(concurrency)
        _gates[key] = (concurrency, gate)
    tasks = _tasks.setdefault(key, set())

    async def run() -> Any:
        async with gate:
            return await make()

    task = loop.create_task(run())
    tasks.add(task)
    task.add_done_callback(_finished)
    STATS["submitted"] += 1
    STATS["peak"] = max(STATS["peak"], len(tasks))
    return task


def _finished(task: asyncio.Task) -> None:
    for tasks in _tasks.values():
        tasks.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: whoever waited has it; nobody else needs the warning


def backlog() -> int:
    """Orders in this process' line or being made."""
    try:
        key = id(asyncio.get_running_loop())
    except RuntimeError:
        return 0
    return len(_tasks.get(key, ()))


async def drain(timeout: float = 30.0) -> None:
    """Wait until this process' line is empty (tests, shutdown)."""
    key = id(asyncio.get_running_loop())
    deadline = asyncio.get_running_loop().time() + timeout
    while _tasks.get(key):
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            raise TimeoutError(f"flash order line not empty: {len(_tasks[key])}")
        await asyncio.wait(list(_tasks[key]), timeout=left)
