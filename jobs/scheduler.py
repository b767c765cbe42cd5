"""Runs the schedule (jobs.schedule.SCHEDULE) with APScheduler in this process, gated by the
Redis lease (jobs.lease) so that across the fleet each tick of each job runs in one process.

Every run is recorded as a JobRun row (job, node, start, finish, ok, processed, detail) and
counted in the Prometheus counter ``job_runs_total{job,result}`` when the process serves
metrics (``rt.extras["metrics"]``, set by miniapp_api.metrics).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
import traceback

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from core.logging import log_fields
from core.runtime import Runtime
from core.settings import Settings
from jobs.lease import JobsLease
from jobs.schedule import SCHEDULE, JobSpec, find_job
from models.ops import JobRun
from services import job_runs

log = logging.getLogger("huituan.jobs")

METRICS_EXTRA = "metrics"  # rt.extras key of an object with observe_job(job, result)


def _observe(rt: Runtime, job: str, result: str) -> None:
    metrics = rt.extras.get(METRICS_EXTRA)
    if metrics is not None:
        metrics.observe_job(job, result)


async def run_spec(rt: Runtime, spec: JobSpec) -> JobRun:
    """Run one job once, now, and record it. Never raises for a failing job."""
    run = await job_runs.record_start(spec.name, rt.node)
    started = time.perf_counter()
    ok, processed, detail = False, 0, ""
    try:
        fn = spec.resolve()
    except Exception as exc:  # the function is missing: this job fails, the scheduler lives on
        detail = f"cannot load {spec.func}: {type(exc).__name__}: {exc}"
        log.error("job %s: %s", spec.name, detail)
    else:
        try:
            result = await fn(rt)
            ok = True
            if isinstance(result, bool) or not isinstance(result, int):
                processed = 0
                detail = "" if result is None else repr(result)[:500]
            else:
                processed = result
        except asyncio.CancelledError:
            detail = "cancelled (process stopping)"
            await job_runs.record_finish(run, ok=False, detail=detail)
            _observe(rt, spec.name, "error")
            raise
        except Exception as exc:
            detail = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}"
            log.exception("job %s failed", spec.name)
    await job_runs.record_finish(run, ok=ok, processed=processed, detail=detail)
    _observe(rt, spec.name, "ok" if ok else "error")
    log_fields(log, logging.INFO if ok else logging.WARNING, "job run", job=spec.name, node=rt.node,
               ok=ok, processed=processed, ms=round((time.perf_counter() - started) * 1000, 1))
    return run


async def run_job_now(rt: Runtime, name: str) -> JobRun:
    """Run the named job once in this process, lease or not (tests, the bot, operators).
    Safe because every job is an idempotent sweep."""
    return await run_spec(rt, find_job(name))


class JobsRunner:
    """Schedules every row of the schedule; a tick runs only while this node holds the lease."""

    def __init__(self, rt: Runtime, schedule: list[JobSpec] | None = None, *, retry_seconds: float | None = None):
        self.rt = rt
        self.schedule = list(SCHEDULE if schedule is None else schedule)
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
            await run_spec(self.rt, spec)
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


async def run_jobs_forever(settings: Settings) -> None:
    """``huituan jobs``: the scheduler without the HTTP server, until SIGTERM or SIGINT."""
    from miniapp_api.app import start_runtime, stop_runtime

    rt = await start_runtime(settings)
    runner = JobsRunner(rt)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await runner.start()
        await stop.wait()
        log.info("stopping scheduler")
    finally:
        await runner.stop()
        await stop_runtime(rt)
