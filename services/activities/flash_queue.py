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
import time
from collections import deque
from typing import Any, Awaitable, Callable

STATS = {"submitted": 0, "queued": 0, "waited": 0, "peak": 0}

# Per event loop (tests run several): the gate and the orders in the line or being made.
_gates: dict[int, tuple[int, asyncio.Semaphore, asyncio.AbstractEventLoop]] = {}
_tasks: dict[int, set[asyncio.Task]] = {}


def submit(make: Callable[[], Awaitable[Any]], concurrency: int) -> asyncio.Task:
    """Put one order in this process' line: ``make()`` runs when fewer than ``concurrency``
    others are running. The returned task outlives the request that submitted it."""
    loop = asyncio.get_running_loop()
    key = id(loop)
    size, gate, owner = _gates.get(key) or (0, None, None)
    if gate is None or size != concurrency or owner is not loop:  # a new loop may reuse an old one's id
        gate = asyncio.Semaphore(concurrency)
        _gates[key] = (concurrency, gate, loop)
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


# When this process' last orders were made (monotonic): the line's pace, for "poll again in".
_done: deque[float] = deque(maxlen=256)
RETRY_MIN_MS, RETRY_MAX_MS, RETRY_DEFAULT_MS = 300, 5000, 1000


def _finished(task: asyncio.Task) -> None:
    _done.append(time.monotonic())
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


# What this process knows of the claims in its own line, so that their polls (a burst's
# winners poll about once a second each) are answered without a round trip: key -> (until,
# state), the state ("queued", claim) | ("ordered", order, item ref) | ("failed", reason).
_known: dict[Any, tuple[float, tuple]] = {}
KNOWN_SECONDS, KNOWN_MAX = 30.0, 100_000  # a poll comes within seconds


def remember(key: Any, state: tuple) -> None:
    if len(_known) >= KNOWN_MAX:
        _known.clear()
    _known[key] = (time.monotonic() + KNOWN_SECONDS, state)


def recall(key: Any) -> tuple | None:
    hit = _known.get(key)
    if hit is None:
        return None
    if hit[0] < time.monotonic():
        _known.pop(key, None)
        return None
    return hit[1]


def forget(key: Any) -> None:
    _known.pop(key, None)


def forget_all() -> None:
    """Sessions changed (created, edited, started, stopped): nothing remembered carries over."""
    _known.clear()


def retry_after_ms(ahead: int | None = None) -> int:
    """When a queued claim's order is likely made: the orders ahead of it at this process'
    recent pace (orders made in the last 5 s), clamped to 0.3-5 s; 1 s without a pace. The
    mini-program polls then instead of every second."""
    ahead = backlog() if ahead is None else ahead
    now = time.monotonic()
    recent = [t for t in _done if now - t <= 5.0]
    if len(recent) < 8 or recent[-1] <= recent[0]:
        return RETRY_DEFAULT_MS
    per_second = (len(recent) - 1) / (recent[-1] - recent[0])
    return int(min(RETRY_MAX_MS, max(RETRY_MIN_MS, 1000 * (ahead + 1) / per_second)))


async def drain(timeout: float = 30.0) -> None:
    """Wait until this process' line is empty (tests, shutdown)."""
    key = id(asyncio.get_running_loop())
    deadline = asyncio.get_running_loop().time() + timeout
    while _tasks.get(key):
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            raise TimeoutError(f"flash order line not empty: {len(_tasks[key])}")
        await asyncio.wait(list(_tasks[key]), timeout=left)
