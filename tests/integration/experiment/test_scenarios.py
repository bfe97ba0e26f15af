"""Short runs of the experiment's scenarios on a real local stack, asserting on report.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sportapp_stack.experiment.conduct import ExperimentOptions, run_experiment
from tests.conftest import REPO, work_dir

pytestmark = [pytest.mark.integration, pytest.mark.stack]


def run(scenario: str, *, masking: bool = True, duration_s: float = 6.0) -> tuple[dict[str, Any], Path]:
    out_dir = work_dir(f"sportapp-exp-{scenario}-")
    outcome = run_experiment(
        ExperimentOptions(
            scenario=scenario,
            duration_s=duration_s,
            rate=12,
            masking=masking,
            out_dir=out_dir,
            root=REPO,
            settle_s=15,
        )
    )
    report = json.loads((out_dir / "report.json").read_text())
    assert report["scenario"] == outcome.report["scenario"] == scenario
    return report, out_dir


def test_baseline_is_fully_available_and_writes_every_artefact() -> None:
    report, out_dir = run("baseline")

    assert report["availability"] == 1.0
    assert report["requests_total"] >= 60
    assert report["registrations_lost"] == 0
    assert report["registrations_duplicated"] == 0
    assert report["false_failovers"] == 0
    assert report["failed_checks"] == []
    for artefact in ("report.md", "requests.csv", "timeline.png", "throughput.png", "monitor-events.jsonl"):
        assert (out_dir / artefact).stat().st_size > 0


def test_kill_primary_with_masking_loses_nothing_and_fails_over_within_2_s() -> None:
    report, _ = run("kill-primary", duration_s=8.0)

    assert report["registrations_lost"] == 0
    assert report["registrations_duplicated"] == 0
    assert report["detection_ms"] is not None
    assert report["failover_ms"] is not None
    assert report["failover_ms"] < 2000
    assert report["availability"] == 1.0
    assert report["served_by"].get("registro-backup", 0) > 0


def test_kill_primary_without_masking_still_loses_nothing() -> None:
    report, _ = run("kill-primary", masking=False, duration_s=8.0)

    assert report["masking"] is False
    assert report["registrations_lost"] == 0
    assert report["registrations_duplicated"] == 0
    assert report["failover_ms"] is not None
