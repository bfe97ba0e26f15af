"""A short baseline run with --backend postgres: a database of the run's own on the PostgreSQL
server, consulta fed by the relay through a Redis stream of the run's own, verified afterwards."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import create_engine, text

from sportapp_lab.experiment import ExperimentOptions, run_experiment
from sportapp_stack.backends import postgres_server_url
from sportapp_stack.stack import StackError
from tests.conftest import REPO, work_dir

pytestmark = [pytest.mark.integration, pytest.mark.stack]


def run_databases() -> set[str]:
    engine = create_engine(postgres_server_url())
    try:
        with engine.connect() as connection:
            query = text("SELECT datname FROM pg_database WHERE datname LIKE 'sportapp\\_%'")
            rows = connection.execute(query)
            return {str(name) for (name,) in rows}
    finally:
        engine.dispose()


def baseline_on_postgres(out_dir: Path, **options: Any) -> ExperimentOptions:
    """A short baseline run on a PostgreSQL database of its own, written to ``out_dir``."""
    return ExperimentOptions(scenario="baseline", out_dir=out_dir, root=REPO, backend="postgres", **options)


def test_baseline_on_postgres_with_redis_streams_loses_and_duplicates_nothing(
    postgres_server: str, redis_url: str
) -> None:
    before = run_databases()
    out_dir = work_dir("sportapp-exp-postgres-")
    try:
        outcome = run_experiment(baseline_on_postgres(out_dir, duration_s=4, rate=10, settle_s=2))
        report = json.loads((out_dir / "report.json").read_text())
        markdown = (out_dir / "report.md").read_text()
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)

    assert report["backend"] == "postgres"
    assert report["event_transport"] == "redis"
    assert report["parameters"]["store"] == "postgresql+psycopg"
    assert report["availability"] == 1.0
    assert report["registrations_acknowledged"] > 0
    assert report["registrations_lost"] == 0
    assert report["registrations_duplicated"] == 0
    assert report["verification"]["read_model_caught_up"] is True
    assert outcome.held, outcome.failed_checks
    assert "**postgres**" in markdown
    # The run's database and stream are gone afterwards.
    assert run_databases() == before
    client = redis.Redis.from_url(redis_url)
    try:
        assert not client.keys("sportapp:sportapp_*:events")
    finally:
        client.close()


def test_a_run_whose_stack_cannot_start_leaves_no_database_behind(
    postgres_server: str, redis_url: str
) -> None:
    before = run_databases()
    out_dir = work_dir("sportapp-exp-postgres-")
    try:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            busy = taken.getsockname()[1]
            with pytest.raises(StackError, match=f"port {busy} \\(gateway\\) is in use"):
                run_experiment(
                    baseline_on_postgres(out_dir, duration_s=2, rate=5, ports={"gateway_port": busy})
                )
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)

    assert run_databases() == before
