"""Prometheus metrics, one CollectorRegistry per app (tests run many apps in one process).

- http_requests_total{method,route,status}: route is the route template, never the raw path
- http_request_duration_seconds{method,route}
- job_runs_total{job,result}: result is ok or error (fed by jobs.scheduler through
  ``rt.extras["metrics"]``)
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from miniapp_api.http import REQUEST_OBSERVER_KEY
from miniapp_api.keys import RUNTIME_KEY

RUNTIME_EXTRA = "metrics"  # jobs.scheduler.METRICS_EXTRA


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.http_requests = Counter(
            "http_requests_total", "HTTP requests by route template and status",
            ["method", "route", "status"], registry=self.registry,
        )
        self.http_duration = Histogram(
            "http_request_duration_seconds", "HTTP request latency by route template",
            ["method", "route"], registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        )
        self._children: dict[tuple[str, str, int], tuple] = {}
        self.job_runs = Counter(
            "job_runs_total", "Scheduled job runs by result", ["job", "result"], registry=self.registry,
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        # labels() validates and locks on every call; the children are few (routes x statuses),
        # so keep them: this runs on every request.
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.http_requests.labels(method, route, str(status)),
                self.http_duration.labels(method, route),
            )
        children[0].inc()
        children[1].observe(seconds)

    def observe_job(self, job: str, result: str) -> None:
        self.job_runs.labels(job, result).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


METRICS_KEY = web.AppKey("metrics", Metrics)


async def metrics_view(request: web.Request) -> web.Response:
    body = request.app[METRICS_KEY].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def install(app: web.Application) -> Metrics:
    metrics = Metrics()
    app[METRICS_KEY] = metrics
    app[REQUEST_OBSERVER_KEY] = metrics.observe_request

    async def _share_with_jobs(app: web.Application) -> None:
        rt = app.get(RUNTIME_KEY)
        if rt is not None:
            rt.extras[RUNTIME_EXTRA] = metrics

    app.on_startup.append(_share_with_jobs)
    app.router.add_get("/metrics", metrics_view)
    return metrics
