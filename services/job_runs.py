"""The record of scheduled job runs (models.ops.JobRun): written by the jobs edge, read by
the bot and operators."""

from __future__ import annotations

from huituan.core.clock import utcnow
from huituan.models.ops import JobRun


async def record_start(job: str, node: str) -> JobRun:
    return await JobRun.create(job=job, node=node[:128], started_at=utcnow(), ok=False, processed=0, detail="")


async def record_finish(run: JobRun, *, ok: bool, processed: int = 0, detail: str = "") -> JobRun:
    run.finished_at = utcnow()
    run.ok = ok
    run.processed = processed
    run.detail = detail[:4000]
    await JobRun.filter(id=run.id).update(finished_at=run.finished_at, ok=ok, processed=processed,
                                          detail=run.detail)
    return run


async def recent_runs(limit: int = 10, job: str | None = None) -> list[JobRun]:
    qs = JobRun.all()
    if job:
        qs = qs.filter(job=job)
    return await qs.order_by("-started_at", "-id").limit(limit)


async def all_runs() -> list[JobRun]:
    return await JobRun.all().order_by("started_at", "id")
