"""Acceptance: two real `huituan serve` processes on one database and Redis run each job once,
and when the lease holder dies the other process takes over within the lease ttl."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from huituan.services import job_runs
from tests.conftest import TEST_SECRET, free_port

LEASE_SECONDS = 2.0
SCALE = 30.0  # close_unpaid_orders every 2 s, deliver_outbox every 0.33 s
HUITUAN = Path(sys.executable).with_name("huituan")


def _serve(port: int, env: dict, log_path: Path) -> subprocess.Popen:
    log = open(log_path, "wb")
    return subprocess.Popen(
        [str(HUITUAN), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )


async def _wait_healthy(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    async with aiohttp.ClientSession() as http:
        while asyncio.get_running_loop().time() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"huituan serve on {port} exited with {proc.returncode}")
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz", timeout=aiohttp.ClientTimeout(total=1)) as r:
                    if r.status == 200:
                        return
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"huituan serve on {port} not healthy after {timeout}s")


def _pid_of(node: str) -> int:
    return int(node.split(":")[-2])


def _assert_no_overlap(runs) -> None:
    """Per job, each run starts after the previous one finished: never twice in one tick."""
    by_job: dict[str, list] = {}
    for r in runs:
        by_job.setdefault(r.job, []).append(r)
    for job, rows in by_job.items():
        rows.sort(key=lambda r: r.started_at)
        for prev, cur in zip(rows, rows[1:]):
            end = prev.finished_at or prev.started_at
            assert cur.started_at >= end, f"{job} overlapped: {prev.node} and {cur.node}"


@pytest.mark.postgres
async def test_two_serve_processes_share_the_schedule(rt, database_url, redis_url, tmp_path):
    env = dict(
        os.environ,
        HUITUAN_ENV="test",
        HUITUAN_DATABASE_URL=database_url,
        HUITUAN_REDIS_URL=redis_url,
        HUITUAN_SECRET_KEY=TEST_SECRET,
        HUITUAN_JOBS_ENABLED="true",
        HUITUAN_JOBS_LEASE_SECONDS=str(LEASE_SECONDS),
        HUITUAN_JOBS_INTERVAL_SCALE=str(SCALE),
        HUITUAN_LOG_JSON="false",
        HUITUAN_DATABASE_POOL_MAX="5",
    )
    ports = [free_port(), free_port()]
    procs = [_serve(p, env, tmp_path / f"serve-{p}.log") for p in ports]
    try:
        # given two serving processes
        for port, proc in zip(ports, procs):
            await _wait_healthy(port, proc)
        # when they run the schedule for a few seconds
        await asyncio.sleep(4.0)
        runs = await job_runs.all_runs()
        # then exactly one of them ran jobs, each job never twice at once
        assert len(runs) >= 5, [(r.job, r.node) for r in runs]
        nodes = {r.node for r in runs}
        assert len(nodes) == 1, nodes
        holder_pid = _pid_of(nodes.pop())
        assert holder_pid in {p.pid for p in procs}
        assert {r.job for r in runs} >= {"deliver_outbox", "close_unpaid_orders"}
        _assert_no_overlap(runs)

        # when the holder dies without releasing the lease
        holder = next(p for p in procs if p.pid == holder_pid)
        other = next(p for p in procs if p.pid != holder_pid)
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        killed_at = datetime.now(UTC)
        await asyncio.sleep(LEASE_SECONDS + 3.0)

        # then the other process took over within the lease ttl (plus one retry period)
        after = [r for r in await job_runs.all_runs() if r.started_at > killed_at]
        assert after, "nobody took over"
        assert {_pid_of(r.node) for r in after} == {other.pid}
        first = min(r.started_at for r in after)
        assert first - killed_at <= timedelta(seconds=LEASE_SECONDS + LEASE_SECONDS / 3 + 1.0)
        _assert_no_overlap(await job_runs.all_runs())
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        for port in ports:
            log = tmp_path / f"serve-{port}.log"
            if log.exists():
                print(f"--- serve {port} ---\n" + log.read_text(errors="replace")[-3000:])
