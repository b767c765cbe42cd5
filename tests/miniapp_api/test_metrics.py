"""Operations: Prometheus metrics per app, job counters, request ids in log lines."""

from __future__ import annotations

import json
import logging

from huituan.core.logging import JsonFormatter
from huituan.core.web.metrics import METRICS_KEY
from huituan.jobs.schedule import JobSpec
from huituan.jobs.scheduler import run_spec
from tests.jobs import probe


def sample(text: str, name: str, **labels) -> float | None:
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        head, _, value = line.rpartition(" ")
        got = dict(part.split("=", 1) for part in head[len(name) + 1:-1].split(","))
        if all(got.get(k) == f'"{v}"' for k, v in labels.items()):
            return float(value)
    return None


async def test_metrics_count_requests_by_route_template(client):
    # given a few requests, one to an unknown path
    for _ in range(3):
        assert (await client.get("/healthz")).status == 200
    assert (await client.get("/api/v1/definitely-not-here/123")).status == 404
    # when metrics are scraped
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    text = await resp.text()
    # then requests are counted by route template, not raw path
    assert sample(text, "http_requests_total", method="GET", route="/healthz", status="200") == 3
    assert sample(text, "http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert "definitely-not-here" not in text
    assert sample(text, "http_request_duration_seconds_count", method="GET", route="/healthz") == 3


async def test_job_runs_are_counted(client, rt):
    # the root hands the app's metrics to the runner; run_spec takes the same observer
    observe = client.app[METRICS_KEY].observe_job
    await run_spec(rt, JobSpec("probe", probe.probe, seconds=1, description="探针"), observe)
    await run_spec(rt, JobSpec("boom", probe.boom, seconds=1, description="出错"), observe)
    text = await (await client.get("/metrics")).text()
    assert sample(text, "job_runs_total", job="probe", result="ok") == 1
    assert sample(text, "job_runs_total", job="boom", result="error") == 1


async def test_each_app_has_its_own_registry(client, make_settings):
    from huituan.app import create_app
    from huituan.core.web.metrics import METRICS_KEY

    other = create_app(make_settings())
    assert other[METRICS_KEY].registry is not client.app[METRICS_KEY].registry


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


async def test_log_lines_during_a_request_carry_its_request_id(client):
    # given a JSON log handler on the HTTP logger at DEBUG (every request logs a line)
    capture = _Capture()
    logger = logging.getLogger("huituan.http")
    old_level = logger.level
    logger.addHandler(capture)
    logger.setLevel(logging.DEBUG)
    try:
        # when a request comes with an X-Request-Id
        resp = await client.get("/healthz", headers={"X-Request-Id": "req-abc-123"})
    finally:
        logger.removeHandler(capture)
        logger.setLevel(old_level)
    # then the response echoes it and the log line carries it
    assert resp.headers["X-Request-Id"] == "req-abc-123"
    entries = [json.loads(line) for line in capture.lines]
    mine = [e for e in entries if e.get("path") == "/healthz"]
    assert mine and all(e["request_id"] == "req-abc-123" for e in mine)
    assert mine[0]["route"] == "/healthz" and mine[0]["status"] == 200
