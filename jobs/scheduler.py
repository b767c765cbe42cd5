"""Runs the schedule (jobs.schedule.SCHEDULE) with APScheduler in this process, gated by the
Redis lease (jobs.lease) so that across the fleet each tick of each job runs in one process.

Every run is recorded as a JobRun row (job, node, start, finish, ok, processed, detail) and
reported to ``observe_job(job, result)`` when the composition root hands one in (the
Prometheus counter ``job_runs_total{job,result}`` of a process that serves metrics).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import traceback
from typing import Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from huituan.core.logging import log_fields
from huituan.core.runtime import Runtime
from huituan.jobs.lease import JobsLease
from huituan.jobs.schedule import SCHEDULE, JobSpec, find_job
from huituan.models.ops import JobRun
from huituan.services import job_runs

log = logging.getLogger("huituan.jobs")

JobObserver = Callable[[str, str], None]


def _observe(observe: JobObserver | None, job: str, result: str) -> None:
    if observe is not None:
        observe(job, result)


async def run_spec(rt: Runtime, spec: JobSpec, observe: JobObserver | None = None) -> JobRun:
    """Run one job once, now, and record it. Never raises for a failing job."""
    run = await job_runs.record_start(spec.name, rt.node)
    started = time.perf_counter()
    ok, processed, detail = False, 0, ""
    try:
        result = await spec.func(rt)
        ok = True
        if isinstance(result, bool) or not isinstance(result, int):
            processed = 0
            detail = "" if result is None else repr(result)[:500]
        else:
            processed = result
    except asyncio.CancelledError:
        detail = "cancelled (process stopping)"
        await job_runs.record_finish(run, ok=False, detail=detail)
        _observe(observe, spec.name, "error")
        raise
    except Exception as exc:  # this job fails, the scheduler lives on
        detail = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}"
        log.exception("job %s failed", spec.name)
    await job_runs.record_finish(run, ok=ok, processed=processed, detail=detail)
    _observe(observe, spec.name, "ok" if ok else "error")
    log_fields(log, logging.INFO if ok else logging.WARNING, "job run", job=spec.name, node=rt.node,
               ok=ok, processed=processed, ms=round((time.perf_counter() - started) * 1000, 1))
    return run


async def run_job_now(rt: Runtime, name: str, schedule: list[JobSpec] | None = None) -> JobRun:
    """Run the named job once in this process, lease or not (tests, the bot, operators).
    Safe because every job is an idempotent sweep."""
    return await run_spec(rt, find_job(name, schedule))


class JobsRunner:
    """Schedules every row of the schedule; a tick runs only while this node holds the lease."""

    def __init__(self, rt: Runtime, schedule: list[JobSpec] | None = None, *, retry_seconds: float | None = None,
                 observe_job: JobObserver | None = None):
        self.rt = rt
        self.schedule = list(SCHEDULE if schedule is None else schedule)
        self.observe_job = observe_job
        self.lease = JobsLease(rt.redis, rt.node, rt.settings.jobs_lease_seconds, retry_seconds=retry_seconds)
        self.scheduler: AsyncIOScheduler | None = None
        self._running: set[asyncio.Task] = set()
        self._stopping = False

    async def start(self) -> None:
        await self.lease.start()
        scale = self.rt.settings.jobs_interval_scale
        self.scheduler = AsyncIOScheduler(
            timezone="UTC",
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
        )
        for spec in self.schedule:
            self.scheduler.add_job(
                self._tick, trigger=spec.trigger(scale), args=[spec], id=spec.name, name=spec.name,
                max_instances=1, coalesce=True, replace_existing=True,
            )
        self.scheduler.start()
        log.info("scheduler started on %s with %d jobs", self.rt.node, len(self.schedule))

    async def _tick(self, spec: JobSpec) -> None:
        if self._stopping:
            return
        try:
            if not await self.lease.is_held() or self._stopping:
                return
        except asyncio.CancelledError:
            return
        # APScheduler's shutdown cancels running jobs; a sweep cut between its database
        # writes would leave a JobRun without an end. The run is its own task, shielded,
        # and stop() waits for it.
        run = asyncio.create_task(self._run(spec), name=f"job:{spec.name}")
        self._running.add(run)
        run.add_done_callback(self._running.discard)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(run)

    async def _run(self, spec: JobSpec) -> None:
        try:
            await run_spec(self.rt, spec, self.observe_job)
        except asyncio.CancelledError:
            raise
        except Exception:  # recording itself failed (database down): log, keep scheduling
            log.exception("job %s could not be recorded", spec.name)

    async def stop(self, timeout: float = 10.0) -> None:
        self._stopping = True
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self._running:
            # Let in-flight sweeps finish (they are short); cancel the ones that do not.
            done, pending = await asyncio.wait(set(self._running), timeout=timeout)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await self.lease.stop()
        log.info("scheduler stopped on %s", self.rt.node)
