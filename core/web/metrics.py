"""Prometheus metrics, one CollectorRegistry per app (tests run many apps in one process).

- http_requests_total{method,route,status}: route is the route template, never the raw path
- http_request_duration_seconds{method,route}
- job_runs_total{job,result}: result is ok or error (the composition root hands
  ``Metrics.observe_job`` to the jobs runner)
- outbox_unhandled_messages{kind}: pending outbox rows whose kind has no handler (set by
  each /readyz through ``observe_unhandled``; the outbox job logs the same counts)
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from huituan.core.web.auth import Auth
from huituan.core.web.http import REQUEST_OBSERVER_KEY
from huituan.core.web.openapi import api


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
        self.outbox_unhandled = Gauge(
            "outbox_unhandled_messages", "Pending outbox rows whose kind has no handler", ["kind"],
            registry=self.registry,
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

    def observe_unhandled(self, counts: dict[str, int]) -> None:
        """The gauge is the latest count: a kind that is handled again drops out."""
        self.outbox_unhandled.clear()
        for kind, n in counts.items():
            self.outbox_unhandled.labels(kind).set(n)

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
    api(app, "GET", "/metrics", metrics_view, summary="Prometheus 指标", tag="ops", auth=Auth.public, public=False)
    return metrics
