"""core.coalesce: calls that arrive while a batch runs are the next batch; errors reach only
their own callers."""

import asyncio

import pytest

from huituan.core.coalesce import Coalescer


async def test_calls_arriving_during_a_batch_run_together_as_the_next_batch():
    seen: list[list[int]] = []
    gate = asyncio.Event()

    async def run(items: list[int]) -> list[int]:
        seen.append(list(items))
        if len(seen) == 1:
            await gate.wait()  # the first batch is slow: the others queue behind it
        return [i * 10 for i in items]

    c = Coalescer(run, max_batch=100, name="test")
    first = asyncio.ensure_future(c.submit(1))
    await asyncio.sleep(0)
    rest = [asyncio.ensure_future(c.submit(i)) for i in range(2, 7)]
    await asyncio.sleep(0)
    gate.set()
    assert await first == 10
    assert await asyncio.gather(*rest) == [20, 30, 40, 50, 60]
    assert seen == [[1], [2, 3, 4, 5, 6]]  # a lone call started at once; the rest as ONE batch
    assert c.stats == {"batches": 2, "items": 6, "largest": 5}


async def test_batches_are_cut_at_max_batch():
    seen: list[int] = []

    async def run(items: list[int]) -> list[int]:
        seen.append(len(items))
        return items

    c = Coalescer(run, max_batch=3, name="test")
    assert await asyncio.gather(*(c.submit(i) for i in range(8))) == list(range(8))
    assert max(seen) == 3 and sum(seen) == 8


async def test_an_item_error_reaches_its_caller_only_and_a_batch_error_reaches_all():
    async def run(items: list[int]) -> list[object]:
        if 99 in items:
            raise RuntimeError("batch down")
        return [ValueError(f"bad {i}") if i < 0 else i for i in items]

    c = Coalescer(run, max_batch=10, name="test")
    results = await asyncio.gather(c.submit(1), c.submit(-1), c.submit(2), return_exceptions=True)
    assert results[0] == 1 and results[2] == 2 and isinstance(results[1], ValueError)
    results = await asyncio.gather(c.submit(99), c.submit(3), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    assert await c.submit(4) == 4  # the runner carries on after a failed batch


async def test_a_caller_that_goes_away_leaves_the_batch_to_finish():
    done: list[int] = []

    async def run(items: list[int]) -> list[int]:
        await asyncio.sleep(0.01)
        done.extend(items)
        return items

    c = Coalescer(run, max_batch=10, name="test")
    waiting = asyncio.ensure_future(c.submit(1))
    other = asyncio.ensure_future(c.submit(2))
    await asyncio.sleep(0)
    waiting.cancel()
    assert await other == 2
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert sorted(done) == [1, 2]


async def test_a_loop_turns_calls_go_out_as_one_batch_at_the_very_next_turn():
    """Not sequential: every call of one loop turn is one batch, and the batch is sent in the
    next turn, not the one after (under a burst each turn is hundreds of requests long, and a
    turn more was a turn more for every claim and poll). Batches beyond max_batch go together."""
    turns = 0

    def tick() -> None:
        nonlocal turns
        turns += 1
        loop.call_soon(tick)

    loop = asyncio.get_running_loop()
    started: list[tuple[int, int]] = []

    async def run(items: list[int]) -> list[int]:
        started.append((turns, len(items)))
        await asyncio.sleep(0)
        return items

    c = Coalescer(run, max_batch=4, name="test", sequential=False)
    loop.call_soon(tick)
    await asyncio.sleep(0)  # the ticker runs once per turn from here
    submitted_at = turns
    calls = [asyncio.ensure_future(c.submit(i)) for i in range(10)]
    assert await asyncio.gather(*calls) == list(range(10))
    assert sorted(n for _, n in started) == [2, 4, 4]  # one turn's ten calls: batches of 4, 4, 2
    # The callers' tasks start one turn later; the first batch goes out in the turn after that.
    assert min(t for t, _ in started) - submitted_at <= 2, (submitted_at, started)
