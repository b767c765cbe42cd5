"""The scheduler in one process: lease gating, JobRun records, failures that do not spread."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from huituan.jobs.lease import JobsLease
from huituan.jobs.schedule import SCHEDULE, JobSpec, find_job
from huituan.jobs.scheduler import JobsRunner, run_job_now, run_spec
from huituan.services import job_runs
from tests.jobs import probe


@pytest.fixture
def settings(make_settings):
    return make_settings(jobs_lease_seconds=1.2)


@pytest.fixture(autouse=True)
def _reset_probe():
    probe.reset()


def node(rt, name):
    return dataclasses.replace(rt, node=name)


async def wait_until(predicate, timeout: float = 5.0, step: float = 0.05):
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(step)
    return False


def test_schedule_table_is_well_formed():
    names = [s.name for s in SCHEDULE]
    assert len(names) == len(set(names))
    for spec in SCHEDULE:
        assert callable(spec.func) and spec.func.__module__.startswith("huituan.jobs.") and spec.description
        assert spec.trigger() is not None
    assert find_job("close_unpaid_orders").seconds == 60
    assert find_job("auto_confirm_orders").seconds == 3600
    assert find_job("deliver_outbox").seconds == 10
    with pytest.raises(ValueError):
        JobSpec(name="x", func=probe.probe, description="x")
    with pytest.raises(TypeError):
        JobSpec(name="x", func="a:b", seconds=1, description="x")


async def test_two_runners_sharing_redis_run_each_tick_once(rt):
    # given two nodes with the same schedule and one Redis
    schedule = [JobSpec("probe", probe.probe, seconds=0.2, description="探针")]
    a = JobsRunner(node(rt, "node-a"), schedule, retry_seconds=0.1)
    b = JobsRunner(node(rt, "node-b"), schedule, retry_seconds=0.1)
    try:
        await a.start()
        await b.start()
        # when they run for a while
        await asyncio.sleep(1.3)
        runs = await job_runs.all_runs()
        # then only the holder ran, never two at once
        assert len(runs) >= 3
        assert {r.node for r in runs} == {"node-a"}
        assert all(r.ok and r.processed == 1 and r.finished_at for r in runs)
        assert probe.state["max_active"] == 1

        # when the holder stops (and releases), the other takes over promptly
        await a.stop()
        stopped_at = len(await job_runs.all_runs())
        assert await wait_until(lambda: _has_node_runs("node-b"), timeout=2.0)
        later = (await job_runs.all_runs())[stopped_at:]
        assert later and {r.node for r in later} == {"node-b"}
    finally:
        await a.stop()
        await b.stop()
    assert await a.lease.holder() is None


async def _has_node_runs(name: str) -> bool:
    return any(r.node == name for r in await job_runs.all_runs())


async def test_lease_expires_when_holder_stops_renewing(rt):
    # given a holder that dies without releasing (its renewals stop)
    dead = JobsLease(rt.redis, "dead", ttl_seconds=0.6)
    assert await dead.try_acquire()
    alive = JobsLease(rt.redis, "alive", ttl_seconds=0.6)
    assert not await alive.try_acquire()
    # then renew and release by a non-holder change nothing
    assert not await alive.renew()
    assert not await alive.release()
    assert await alive.holder() == "dead"
    # when the ttl passes, the other node acquires
    assert await wait_until(alive.try_acquire, timeout=2.0, step=0.1)
    assert await alive.is_held() and not await dead.is_held()
    # and the old holder can no longer renew it
    assert not await dead.renew()
    assert await alive.release()


async def test_max_instances_one_and_coalesce(rt):
    # given a job slower than its interval
    schedule = [JobSpec("slow", probe.slow, seconds=0.1, description="慢任务")]
    runner = JobsRunner(node(rt, "solo"), schedule)
    try:
        await runner.start()
        await asyncio.sleep(1.5)
    finally:
        await runner.stop()
    # then it never overlapped itself
    assert probe.state["max_active"] == 1
    runs = await job_runs.all_runs()
    assert 1 <= len(runs) <= 4
    assert all(r.processed == 2 for r in runs if r.ok)


async def test_failing_job_records_failed_run_and_scheduler_lives_on(rt):
    schedule = [
        JobSpec("boom", probe.boom, seconds=0.2, description="出错"),
        JobSpec("probe", probe.probe, seconds=0.2, description="探针"),
    ]
    runner = JobsRunner(node(rt, "solo"), schedule)
    try:
        await runner.start()
        await asyncio.sleep(1.0)
    finally:
        await runner.stop()
    runs = await job_runs.all_runs()
    by_job = {}
    for r in runs:
        by_job.setdefault(r.job, []).append(r)
    assert set(by_job) == {"boom", "probe"}
    assert all(not r.ok and "boom: the sweep failed" in r.detail for r in by_job["boom"])
    assert all(r.ok for r in by_job["probe"])


async def test_run_spec_records_timing(rt):
    run = await run_spec(rt, JobSpec("probe", probe.probe, seconds=1, description="探针"))
    assert run.ok and run.processed == 1 and run.node == rt.node
    assert run.finished_at >= run.started_at


@pytest.mark.parametrize("name", [s.name for s in SCHEDULE])
async def test_every_scheduled_job_runs_now_and_is_recorded(rt, name):
    run = await run_job_now(rt, name)
    assert run.job == name and run.finished_at is not None
    # an idempotent sweep over an empty database succeeds, and rerunning it is safe
    assert run.ok, run.detail
    again = await run_job_now(rt, name)
    assert again.ok, again.detail


async def test_run_job_now_unknown_name(rt):
    with pytest.raises(KeyError):
        await run_job_now(rt, "nope")
