"""The Grafana dashboard asks only for metrics the worker exports, by their exported names."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import generate_latest

from worker.metrics import (
    EMAILS_SENT,
    REGISTRY,
    job_claimed,
    job_ended,
    job_started,
    model_request,
    model_tokens,
)

DASHBOARD = Path(__file__).resolve().parents[1] / "deploy" / "grafana-dashboard.json"


def _exported_samples() -> set[str]:
    # Touch every labelled family once, so each has samples to list.
    job_claimed("probe")
    for outcome in ("succeeded", "retried", "failed"):
        job_started()
        job_ended("probe", outcome, 0.1)
    model_request("ok", 1.0)
    model_tokens(10, 5, 3)
    EMAILS_SENT.labels("sent").inc(0)
    text = generate_latest(REGISTRY).decode()
    names = {
        line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")
    }
    # Families read from the database at scrape time (worker.metrics.QueueCollector).
    return names | {
        "proxima_queue_jobs",
        "proxima_queue_oldest_queued_seconds",
        "proxima_queue_scrape_ok",
        "proxima_hourly_enqueue_age_seconds",
    }


def test_every_query_names_an_exported_metric() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exported = _exported_samples()
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert len(queries) >= 12
    used = {name for query in queries for name in re.findall(r"\bproxima_[a-z_]+", query)}
    assert used, "the dashboard reads the worker's metrics"
    assert used - exported == set()


def test_the_dashboard_covers_every_family_the_issue_names() -> None:
    text = DASHBOARD.read_text()
    for family in (
        "proxima_jobs_claimed_total",
        "proxima_jobs_succeeded_total",
        "proxima_jobs_failed_total",
        "proxima_jobs_retried_total",
        "proxima_job_duration_seconds_bucket",
        "proxima_queue_jobs",
        "proxima_queue_oldest_queued_seconds",
        "proxima_model_requests_total",
        "proxima_model_tokens_total",
        "proxima_pdf_render_seconds_bucket",
        "proxima_emails_total",
    ):
        assert family in text, family
    ids = [panel["id"] for panel in json.loads(text)["panels"]]
    assert len(ids) == len(set(ids))
