"""Server metrics in the Prometheus text format at GET /metrics (prometheus-client).

Requests by route and status with their latencies (`MetricsMiddleware`), and the query
pool's state read at scrape time: readers, idle readers, waiting requests, readers replaced
by reason (timeout, a client that hung up, memory, killed, crashed, died while idle) and
busy refusals. Each application has its own registry, so tests can run several.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

router = APIRouter(tags=["Operations"])

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class PoolCollector:
    """The pool's state, read when Prometheus scrapes (`StorePool` / `RemotePool`)."""

    def __init__(self, app):
        self.app = app

    def collect(self):
        pool = getattr(self.app.state, "pool", None)
        if pool is None:
            return
        readers = getattr(pool, "_readers", None)
        idle = getattr(pool, "_idle", None)
        waiters = getattr(pool, "_waiters", None)
        gauges = (
            ("icgraph_pool_readers", "Reader processes that run queries", len(readers) if readers is not None else None),
            ("icgraph_pool_idle_readers", "Readers free for the next query", len(idle) if idle is not None else None),
            ("icgraph_pool_waiting_requests", "Requests waiting for a reader", len(waiters) if waiters is not None else None),
        )
        for name, documentation, value in gauges:
            if value is not None:
                yield GaugeMetricFamily(name, documentation, value=value)
        counters = getattr(pool, "counters", {})
        replaced = CounterMetricFamily(
            "icgraph_pool_readers_replaced", "Readers killed or dead and replaced, by reason", labels=["reason"]
        )
        from icgraph.server.workers import DEATHS

        for reason in DEATHS:
            replaced.add_metric([reason], counters.get(reason, 0))
        yield replaced
        yield CounterMetricFamily("icgraph_pool_abandoned_queries", "Queries stopped (or never started) because their client hung up",
                                  value=counters.get("abandoned-queries", 0))
        yield CounterMetricFamily("icgraph_pool_busy_refusals", "Requests refused with 503 because every reader was busy",
                                  value=counters.get("busy", 0))
        yield CounterMetricFamily("icgraph_aggregate_answers", "Server queries answered from the release's precomputed aggregates",
                                  value=counters.get("aggregate-answers", 0))
        results = getattr(pool, "results", None)
        if results is not None:
            for name, documentation, value in (
                ("icgraph_result_cache_hits", "Answers served from the result cache", results.hits),
                ("icgraph_result_cache_misses", "Cacheable queries not in the result cache (then run)", results.misses),
                ("icgraph_result_cache_evictions", "Answers dropped from the result cache to make room", results.evictions),
            ):
                yield CounterMetricFamily(name, documentation, value=value)
            yield GaugeMetricFamily("icgraph_result_cache_bytes", "Bytes of answers in the result cache", value=results.size)
            yield GaugeMetricFamily("icgraph_result_cache_entries", "Answers in the result cache", value=len(results))
        release = getattr(pool, "release", None)
        info = GaugeMetricFamily("icgraph_release_info", "The release served (value 1)", labels=["release"])
        info.add_metric([release.id if release is not None else "none"], 1)
        yield info


class Metrics:
    def __init__(self, app):
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "icgraph_http_requests", "HTTP requests by route and status", ["route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "icgraph_http_request_seconds", "Time to the response's first byte, by route", ["route"],
            buckets=_BUCKETS, registry=self.registry,
        )
        self.registry.register(PoolCollector(app))
        self._children: dict[tuple[str, int], tuple] = {}

    def answered(self, route, path: str, status: int, seconds: float) -> None:
        """Count one request by its route template (not its URL: no unbounded labels) and status."""
        name = getattr(route, "path", None) or ("/static" if path.startswith("/static/") else "other")
        children = self._children.get((name, status))
        if children is None:  # a label lookup costs more than the count itself; a route has a few statuses
            children = self._children.setdefault((name, status), (self.latency.labels(name), self.requests.labels(name, str(status))))
        children[0].observe(seconds)
        children[1].inc()


class MetricsMiddleware:
    """Count every HTTP request by its route template (not its URL: no unbounded labels) and status."""

    def __init__(self, app, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()

        async def sending(message):
            if message["type"] == "http.response.start":
                self.metrics.answered(scope.get("route"), scope["path"], message["status"], time.perf_counter() - started)
            await send(message)

        await self.app(scope, receive, sending)


@router.get("/metrics", summary="Server metrics (Prometheus text format)", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {}}}})
async def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
