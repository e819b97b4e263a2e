"""The job series of /metrics, kept as plain counts and read at scrape (``JobCollector``):
the same names, labels and histogram rules as prometheus_client's own counters and
histograms."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest

from worker import metrics
from worker.metrics import REGISTRY


def _sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_durations_fall_in_the_buckets_prometheus_would_put_them_in() -> None:
    kind = "metric_probe_buckets"
    for seconds in (0.05, 0.0500001, 1.0, 599.0, 700.0, -1.0):
        metrics.job_started()
        metrics.job_ended(kind, "succeeded", seconds)
    labels = {"kind": kind, "outcome": "succeeded"}
    bucket = "proxima_job_duration_seconds_bucket"
    # le is "at most": 0.05 and the clock's -1 (read as 0) in 0.05; 0.0500001 only from 0.1 on.
    assert _sample(bucket, le="0.05", **labels) == 2
    assert _sample(bucket, le="0.1", **labels) == 3
    assert _sample(bucket, le="1.0", **labels) == 4
    assert _sample(bucket, le="600.0", **labels) == 5
    assert _sample(bucket, le="+Inf", **labels) == 6
    assert _sample("proxima_job_duration_seconds_count", **labels) == 6
    assert _sample("proxima_job_duration_seconds_sum", **labels) == pytest.approx(0.1000001 + 1 + 599 + 700)
    assert _sample("proxima_jobs_succeeded_total", kind=kind) == 6


@pytest.mark.parametrize(("outcome", "series"), [("retried", "retried"), ("failed", "failed")])
def test_each_outcome_counts_in_its_own_series(outcome: str, series: str) -> None:
    kind = f"metric_probe_{outcome}"
    metrics.job_claimed(kind, 3)
    for _ in range(2):
        metrics.job_started()
        metrics.job_ended(kind, outcome, 0.2)
    metrics.job_started()
    metrics.job_ended(kind, "lost", 0.2)  # no counter of its own: the histogram's outcome label
    assert _sample("proxima_jobs_claimed_total", kind=kind) == 3
    assert _sample(f"proxima_jobs_{series}_total", kind=kind) == 2
    assert _sample("proxima_jobs_succeeded_total", kind=kind) == 0
    assert _sample("proxima_job_duration_seconds_count", kind=kind, outcome="lost") == 1
    assert _sample("proxima_job_duration_seconds_count", kind=kind, outcome=outcome) == 2


def test_the_text_format_declares_counters_and_a_histogram() -> None:
    metrics.job_claimed("metric_probe_text")
    text = generate_latest(REGISTRY).decode()
    assert (
        "# TYPE proxima_jobs_claimed_total counter" in text or "# TYPE proxima_jobs_claimed counter" in text
    )
    assert "# TYPE proxima_job_duration_seconds histogram" in text
    assert 'proxima_jobs_claimed_total{kind="metric_probe_text"} 1.0' in text
