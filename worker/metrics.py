"""The worker's Prometheus metrics, on one registry served at ``GET /metrics``.

Counters are per process (Prometheus sums them over workers); the queue gauges are read
from Postgres when scraped, so every worker reports the same queue. Labels are job
kinds, statuses and token kinds only: never a user id, a text or an address.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from typing import Any

import psycopg
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from worker.db.queries import load_queries

REGISTRY = CollectorRegistry(auto_describe=True)

JOBS_IN_FLIGHT = Gauge("proxima_jobs_in_flight", "Jobs this worker is running now", registry=REGISTRY)
# Read at scrape time from a plain counter: the gauge's inc() and dec() take a lock, twice
# per job for a figure only a scrape ever reads.
_IN_FLIGHT = [0]
JOBS_IN_FLIGHT.set_function(lambda: float(_IN_FLIGHT[0]))
JOB_DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
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


class _Durations:
    """One (kind, outcome)'s job durations: a count per bucket (the last one past 600 s) and
    their sum."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(JOB_DURATION_BUCKETS) + 1)
        self.total = 0.0


class _KindCounts:
    """One kind's job counts, plain integers bumped on the event loop's thread.

    prometheus_client's counters and histograms take a lock and check their state on every
    ``inc()`` and ``observe()``: a job's metrics took 1.7 µs of CPU with them, 0.3 µs with
    these (``bench/worker_overhead.py``, "of which its metrics"). A scrape reads them through
    :class:`JobCollector`, from the health server's thread: each figure is a whole integer,
    and a job ending during a scrape shows in this scrape or the next."""

    __slots__ = ("claimed", "durations", "failed", "retried", "succeeded")

    def __init__(self) -> None:
        self.claimed = 0
        self.succeeded = 0
        self.failed = 0
        self.retried = 0
        self.durations: dict[str, _Durations] = {}


_KINDS: dict[str, _KindCounts] = {}


def _counts(kind: str) -> _KindCounts:
    found = _KINDS.get(kind)
    if found is None:
        found = _KINDS[kind] = _KindCounts()
    return found


def job_claimed(kind: str, count: int = 1) -> None:
    """``count`` jobs of ``kind`` were claimed (a claim counts each of its kinds once)."""
    _counts(kind).claimed += count


def job_started() -> None:
    _IN_FLIGHT[0] += 1


def job_ended(kind: str, outcome: str, seconds: float) -> None:
    """One attempt ended: ``succeeded``, ``retried``, ``failed``, ``released`` (handed back
    at shutdown) or ``lost`` (its lease was taken away)."""
    _IN_FLIGHT[0] -= 1
    counts = _counts(kind)
    durations = counts.durations.get(outcome)
    if durations is None:
        durations = counts.durations[outcome] = _Durations()
    seconds = max(seconds, 0.0)
    durations.counts[bisect.bisect_left(JOB_DURATION_BUCKETS, seconds)] += 1  # le: at most the bound
    durations.total += seconds
    if outcome == "succeeded":
        counts.succeeded += 1
    elif outcome == "retried":
        counts.retried += 1
    elif outcome == "failed":
        counts.failed += 1


class JobCollector(Collector):
    """The job counters and the duration histogram, from :func:`job_claimed` and
    :func:`job_ended`'s plain counts, in the form prometheus_client's own would have
    (``proxima_jobs_claimed_total{kind}``, ``proxima_job_duration_seconds_bucket{kind,
    outcome, le}``, ...)."""

    _COUNTERS = (
        ("claimed", "proxima_jobs_claimed", "Jobs claimed by this worker"),
        ("succeeded", "proxima_jobs_succeeded", "Jobs finished successfully"),
        ("failed", "proxima_jobs_failed", "Jobs failed for good (kept with their error)"),
        ("retried", "proxima_jobs_retried", "Attempts that failed and were queued again"),
    )

    def describe(self) -> Iterator[Any]:
        return self.collect()

    def collect(self) -> Iterator[Any]:
        # Copied first, in one step (no Python code runs while a dict is copied): a kind
        # first seen on the loop's thread during a scrape never breaks the iteration.
        kinds = sorted(list(_KINDS.items()), key=lambda item: item[0])
        for attribute, name, documentation in self._COUNTERS:
            family = CounterMetricFamily(name, documentation, labels=["kind"])
            for kind, counts in kinds:
                family.add_metric([kind], float(getattr(counts, attribute)))
            yield family
        histogram = HistogramMetricFamily(
            "proxima_job_duration_seconds",
            "Time from claim to the end of an attempt",
            labels=["kind", "outcome"],
        )
        bounds = [*(f"{float(b)}" for b in JOB_DURATION_BUCKETS), "+Inf"]
        for kind, counts in kinds:
            for outcome, durations in sorted(list(counts.durations.items()), key=lambda item: item[0]):
                total, buckets = 0, []
                for bound, count in zip(bounds, list(durations.counts), strict=True):
                    total += count
                    buckets.append((bound, float(total)))
                histogram.add_metric([kind, outcome], buckets, durations.total)
        yield histogram


REGISTRY.register(JobCollector())


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
