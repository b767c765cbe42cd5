"""Rendering off the event loop: a process pool (default) or a thread pool, sized by
``poster_render_workers``, with at most ``poster_render_queue_max`` renders queued or running
per process; past it a request gets 429 at once instead of stalling the loop.

Worker processes are spawned (never forked from a running event loop) and load the font once
(``huituan.posters.text.configure`` in the initializer, a warm-up render right after start)."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

from huituan.core.errors import RateLimited
from huituan.core.settings import Settings
from huituan.posters import render, text


def _init_worker(font_path: str, font_index: int, nice: int = 0) -> None:
    if nice:
        # Renders are batch work; requests waiting on the event loop are not: let the loop win the CPU.
        os.nice(nice)
    text.configure(font_path, font_index)
    text.font(24)


def _render(job: dict[str, Any]) -> bytes:
    return render.render(job)


class RenderPool:
    def __init__(self, settings: Settings):
        self.mode = settings.poster_render_mode
        self.workers = settings.poster_render_workers
        self.queue_max = settings.poster_render_queue_max
        self.font = (settings.poster_font_path, settings.poster_font_index)
        self.nice = settings.poster_render_nice
        self.pending = 0
        self._executor: Executor | None = None

    def _start(self) -> Executor:
        if self._executor is None:
            if self.mode == "process":
                self._executor = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                                     initializer=_init_worker, initargs=(*self.font, self.nice))
            else:
                _init_worker(*self.font)
                self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="poster-render")
        return self._executor

    async def warm_up(self, job: dict[str, Any]) -> None:
        """Start the workers and render once in each, so the first real poster pays no start-up."""
        executor = self._start()
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(executor, _render, job) for _ in range(self.workers)))

    async def run(self, job: dict[str, Any]) -> bytes:
        if self.pending >= self.queue_max:
            raise RateLimited("海报生成的人太多了，请稍后再试", code="poster_busy")
        self.pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._start(), _render, job)
        finally:
            self.pending -= 1

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
