"""The worker's Prometheus metrics, on one registry served at ``GET /metrics``.

Counters are per process (Prometheus sums them over workers); the queue gauges are read
from Postgres when scraped, so every worker reports the same queue. Labels are job
kinds, statuses and token kinds only: never a user id, a text or an address.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from worker.db.queries import load_queries

REGISTRY = CollectorRegistry(auto_describe=True)

JOBS_CLAIMED = Counter("proxima_jobs_claimed", "Jobs claimed by this worker", ["kind"], registry=REGISTRY)
JOBS_SUCCEEDED = Counter("proxima_jobs_succeeded", "Jobs finished successfully", ["kind"], registry=REGISTRY)
JOBS_FAILED = Counter(
    "proxima_jobs_failed", "Jobs failed for good (kept with their error)", ["kind"], registry=REGISTRY
)
JOBS_RETRIED = Counter(
    "proxima_jobs_retried", "Attempts that failed and were queued again", ["kind"], registry=REGISTRY
)
JOBS_IN_FLIGHT = Gauge("proxima_jobs_in_flight", "Jobs this worker is running now", registry=REGISTRY)
# Read at scrape time from a plain counter: the gauge's inc() and dec() take a lock, twice
# per job for a figure only a scrape ever reads.
_IN_FLIGHT = [0]
JOBS_IN_FLIGHT.set_function(lambda: float(_IN_FLIGHT[0]))
JOB_DURATION = Histogram(
    "proxima_job_duration_seconds",
    "Time from claim to the end of an attempt",
    ["kind", "outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
    registry=REGISTRY,
)
MODEL_REQUESTS = Counter(
    "proxima_model_requests",
    "Chat-completion requests by outcome (ok, an HTTP status, timeout, transport, invalid)",
    ["status"],
    registry=REGISTRY,
)
MODEL_TOKENS = Counter(
    "proxima_model_tokens",
    "Tokens reported by the model API: prompt (cached included), cached, completion",
    ["kind"],
    registry=REGISTRY,
)
MODEL_LATENCY = Histogram(
    "proxima_model_request_seconds",
    "Time of one chat-completion request",
    buckets=(0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300),
    registry=REGISTRY,
)
PDF_RENDER = Histogram(
    "proxima_pdf_render_seconds",
    "Time to render one PDF export",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
EMAILS_SENT = Counter(
    "proxima_emails", "Share e-mails by outcome (sent, failed)", ["outcome"], registry=REGISTRY
)

OUTCOMES = ("succeeded", "retried", "failed", "released", "lost")


@dataclass(frozen=True)
class _KindSeries:
    """One kind's labelled series, looked up once: ``labels()`` takes a lock and builds a key
    on every call, about a twentieth of a no-op job's CPU when called per job."""

    claimed: Counter
    succeeded: Counter
    failed: Counter
    retried: Counter
    duration: dict[str, Histogram]


_SERIES: dict[str, _KindSeries] = {}


def _series(kind: str) -> _KindSeries:
    found = _SERIES.get(kind)
    if found is None:
        found = _KindSeries(
            claimed=JOBS_CLAIMED.labels(kind),
            succeeded=JOBS_SUCCEEDED.labels(kind),
            failed=JOBS_FAILED.labels(kind),
            retried=JOBS_RETRIED.labels(kind),
            duration={},
        )
        _SERIES[kind] = found
    return found


def job_claimed(kind: str, count: int = 1) -> None:
    """``count`` jobs of ``kind`` were claimed (a claim counts each of its kinds once)."""
    _series(kind).claimed.inc(count)


def job_started() -> None:
    _IN_FLIGHT[0] += 1


def job_ended(kind: str, outcome: str, seconds: float) -> None:
    """One attempt ended: ``succeeded``, ``retried``, ``failed``, ``released`` (handed back
    at shutdown) or ``lost`` (its lease was taken away)."""
    _IN_FLIGHT[0] -= 1
    series = _series(kind)
    duration = series.duration.get(outcome)
    if duration is None:
        duration = series.duration[outcome] = JOB_DURATION.labels(kind, outcome)
    duration.observe(max(seconds, 0.0))
    if outcome == "succeeded":
        series.succeeded.inc()
    elif outcome == "retried":
        series.retried.inc()
    elif outcome == "failed":
        series.failed.inc()


# Each labelled series looked up once (labels() takes a lock and builds a key every call;
# these run for every model request).
_REQUEST_SERIES: dict[str, Counter] = {}


def model_request(status: str, seconds: float | None = None) -> None:
    series = _REQUEST_SERIES.get(status)
    if series is None:
        series = _REQUEST_SERIES[status] = MODEL_REQUESTS.labels(status)
    series.inc()
    if seconds is not None:
        MODEL_LATENCY.observe(seconds)


_PROMPT_TOKENS = MODEL_TOKENS.labels("prompt")
_CACHED_TOKENS = MODEL_TOKENS.labels("cached")
_COMPLETION_TOKENS = MODEL_TOKENS.labels("completion")


def model_tokens(prompt: int, cached: int, completion: int) -> None:
    _PROMPT_TOKENS.inc(max(prompt, 0))
    _CACHED_TOKENS.inc(max(cached, 0))
    _COMPLETION_TOKENS.inc(max(completion, 0))


class QueueCollector(Collector):
    """Queue depth by kind and status, the oldest queued job's age and the time since the last
    hourly enqueue, read at scrape."""

    def __init__(self, conninfo: str, timeout_seconds: float = 5.0) -> None:
        self._conninfo = conninfo
        self._timeout_ms = int(timeout_seconds * 1000)

    def describe(self) -> Iterator[Any]:
        return iter(())  # unchecked: families are built at collect time

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            "proxima_queue_jobs", "Jobs in the queue by kind and status", labels=["kind", "status"]
        )
        oldest = GaugeMetricFamily(
            "proxima_queue_oldest_queued_seconds", "Age of the oldest due queued job", labels=["kind"]
        )
        enqueued = GaugeMetricFamily(
            "proxima_hourly_enqueue_age_seconds",
            "Seconds since the last hourly weekly enqueue ran (absent before the first): over 7200, it is behind",
        )
        up = GaugeMetricFamily("proxima_queue_scrape_ok", "1 when the queue could be read")
        try:
            with psycopg.connect(
                self._conninfo,
                connect_timeout=max(1, self._timeout_ms // 1000),
                options=f"-c statement_timeout={self._timeout_ms}",
                application_name="proxima-metrics",
                autocommit=True,
            ) as conn:
                queries = load_queries("worker.ops", "queries.sql")
                rows = conn.execute(queries["queue_gauges"]).fetchall()
                try:
                    age = conn.execute(queries["hourly_enqueue_age"]).fetchone()
                except psycopg.Error:
                    age = None  # the queue's gauges still stand without this one
        except psycopg.Error:
            up.add_metric([], 0)
            yield up
            return
        for kind, status, jobs, oldest_seconds in rows:
            depth.add_metric([kind, status], float(jobs))
            if oldest_seconds is not None:
                oldest.add_metric([kind], float(oldest_seconds))
        if age is not None and age[0] is not None:
            enqueued.add_metric([], max(0.0, float(age[0])))  # a clock read a moment apart
        up.add_metric([], 1)
        yield depth
        yield oldest
        yield enqueued
        yield up
