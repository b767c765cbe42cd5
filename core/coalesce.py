"""Calls that arrive while a batch is running are run together as the next batch.

Under a burst the event loop takes long turns (hundreds of requests each), and every round trip
to PostgreSQL or Redis costs a caller at least one turn. Callers that each make the same kind of
round trip (read an order's context, write a winner's order, forget a pending claim) instead
hand their part to a ``Coalescer``, which makes one round trip of many. Sequential: one batch at
a time per event loop, whatever arrived while a batch ran is the next batch. Not sequential:
the calls of one loop turn are one batch, sent at the next turn. Nothing waits for a batch to
fill: a lone call is a batch of one.

``run_batch(items)`` returns one result per item, in order; an exception in the list is raised
to that item's caller alone, an exception raised by ``run_batch`` goes to every caller of the
batch. A caller that goes away does not take the batch with it.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Generic, TypeVar

T = TypeVar("T")


class Coalescer(Generic[T]):
    """``sequential=True``: one batch at a time per event loop; calls that arrive meanwhile are
    the next batch (writes that lock the same row: no two batches contend). ``False``: the calls
    of one loop turn are one batch, started on the next turn whether or not earlier batches are
    still out (reads, Redis pipelines: a caller waits one round trip, not two)."""

    def __init__(self, run_batch: Callable[[list[T]], Awaitable[list[Any]]], *, max_batch: int, name: str,
                 sequential: bool = True):
        self._run_batch = run_batch
        self.max_batch = max_batch
        self.name = name
        self.sequential = sequential
        # Per event loop (tests run several): what waits for the next batch, and the task running
        # batches (sequential) or the scheduled start of the next ones (not sequential).
        self._pending: dict[int, list[tuple[T, asyncio.Future]]] = {}
        self._runners: dict[int, asyncio.Task] = {}
        self._flushing: set[int] = set()
        self._tasks: set[asyncio.Task] = set()
        self.stats = {"batches": 0, "items": 0, "largest": 0}

    async def submit(self, item: T) -> Any:
        loop = asyncio.get_running_loop()
        key = id(loop)
        future: asyncio.Future = loop.create_future()
        self._pending.setdefault(key, []).append((item, future))
        if not self.sequential:
            if key not in self._flushing:
                self._flushing.add(key)
                # A task, not call_soon + a task: its first step runs when call_soon would (at
                # the next turn, after every call of this one joined the batch) and sends the
                # batch at once. A callback that then created the task cost every caller one
                # more loop turn, and under a burst a turn is hundreds of requests long.
                self._keep(loop.create_task(self._flush(key)))
        else:
            runner = self._runners.get(key)
            if runner is None or runner.done():
                self._runners[key] = loop.create_task(self._run(key))
        # Not shielded: a caller that goes away cancels only its own future (the batch skips
        # it), and a shield per call was a tenth of a burst's first second.
        return await future

    async def _flush(self, key: int) -> None:
        self._flushing.discard(key)
        pending = self._pending.pop(key, [])
        chunks = [pending[start:start + self.max_batch] for start in range(0, len(pending), self.max_batch)]
        loop = asyncio.get_running_loop()
        for chunk in chunks[1:]:  # more than one batch's worth: the others go out side by side
            self._keep(loop.create_task(self._deliver(chunk)))
        if chunks:
            await self._deliver(chunks[0])

    def _keep(self, task: asyncio.Task) -> None:
        # The loop holds tasks weakly: a batch in flight must not be collected.
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, key: int) -> None:
        pending = self._pending[key]
        try:
            while pending:
                batch = pending[:self.max_batch]
                del pending[:self.max_batch]
                await self._deliver(batch)
        finally:
            self._runners.pop(key, None)
            if not pending:
                self._pending.pop(key, None)
            else:  # the loop is closing under us: nobody will run these
                for _, future in pending:
                    if not future.done():
                        future.set_exception(RuntimeError(f"{self.name}: batch runner stopped"))
                pending.clear()

    async def _deliver(self, batch: list[tuple[T, asyncio.Future]]) -> None:
        try:
            results = await self._run_batch([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{self.name}: {len(results)} results for {len(batch)} calls")
        except Exception as exc:  # noqa: BLE001 - every caller of the batch gets it
            results = [exc] * len(batch)
        self.stats["batches"] += 1
        self.stats["items"] += len(batch)
        self.stats["largest"] = max(self.stats["largest"], len(batch))
        for (_, future), result in zip(batch, results):
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
