"""flash_queue: the process' line of won claims' orders (bounded, drained, paced)."""

import asyncio
import time

from huituan.services.activities import flash_queue


async def test_the_line_runs_at_most_its_concurrency_at_once_and_drains():
    running = peak = 0

    async def make(n):
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.002)
        running -= 1
        return n

    tasks = [flash_queue.submit(lambda n=n: make(n), concurrency=4) for n in range(20)]
    assert flash_queue.backlog() == 20
    await flash_queue.drain()
    assert flash_queue.backlog() == 0
    assert [t.result() for t in tasks] == list(range(20))
    assert peak == 4


async def test_a_failed_order_is_its_waiters_error_and_warns_nobody_else():
    async def boom():
        raise ValueError("no order")

    task = flash_queue.submit(boom, concurrency=2)
    await flash_queue.drain()
    assert isinstance(task.exception(), ValueError)


def test_retry_after_follows_the_lines_pace():
    saved = list(flash_queue._done)
    try:
        flash_queue._done.clear()
        assert flash_queue.retry_after_ms(100) == flash_queue.RETRY_DEFAULT_MS  # no pace yet
        now = time.monotonic()
        flash_queue._done.extend(now - 1 + n / 100 for n in range(100))  # 100 orders a second
        assert 900 <= flash_queue.retry_after_ms(99) <= 1100  # a hundred ahead: about a second
        assert flash_queue.retry_after_ms(0) == flash_queue.RETRY_MIN_MS
        assert flash_queue.retry_after_ms(10_000) == flash_queue.RETRY_MAX_MS
    finally:
        flash_queue._done.clear()
        flash_queue._done.extend(saved)
