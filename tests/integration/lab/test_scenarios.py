"""Short runs of the experiment's scenarios on a real local stack, asserting on report.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sportapp_lab.experiment import ExperimentOptions, run_experiment
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



PRIMARY = "registro-primary"
# Every other scenario, end to end: the faults it must inject, in order, as (name, target) (None:
# whichever instance the fault reached), and the length of load it needs. What is asserted holds
# on any machine: each fault was injected, inside the load and in order; nothing acknowledged was
# lost or stored twice, every acknowledged registration could be looked up, and the monitor saw
# nothing fail before the first fault.
OTHER_SCENARIOS: dict[str, tuple[list[tuple[str, str | None]], float]] = {
    "hang-primary": ([("hang", PRIMARY)], 10.0),
    "error-primary": ([("error-mode-on", PRIMARY)], 8.0),
    "seed-crash": ([("seed-crash", None)] * 3, 8.0),
    "kill-consulta": ([("kill", "consulta")], 8.0),
    "restart-db": ([("restart", "db")], 8.0),
    "kill-monitor": ([("kill", "monitor"), ("kill", PRIMARY)], 8.0),
    "flapping-primary": ([("kill", PRIMARY)] * 3, 10.0),
}


@pytest.mark.parametrize("scenario", sorted(OTHER_SCENARIOS))
def test_every_scenario_injects_its_faults_in_order_and_loses_nothing(scenario: str) -> None:
    expected, duration_s = OTHER_SCENARIOS[scenario]

    report, _ = run(scenario, duration_s=duration_s)

    faults = report["faults"]
    assert len(faults) == len(expected), faults
    assert [
        (fault["name"], target and fault["target"])
        for fault, (_, target) in zip(faults, expected, strict=True)
    ] == expected
    instants = [fault["t_mono"] for fault in faults]
    assert instants == sorted(instants)
    started = report["started_t_mono"]
    assert all(started <= at <= started + report["duration_s"] for at in instants), "inside the load"
    assert report["injection_errors"] == []
    assert report["registrations_acknowledged"] > 0
    assert report["registrations_lost"] == 0
    assert report["registrations_duplicated"] == 0
    assert report["registrations_unverifiable"] == 0
    assert report["registrations_refused_but_stored"] == 0
    assert report["registrations_id_mismatch"] == 0
    assert report["verification"]["read_model_caught_up"] is True
    assert report["incidents_before_fault"] == 0
    if scenario == "restart-db":
        # The gateway let registrations wait for db while it was away, and bounds them again
        # (the monitor also applies the bound once when it starts).
        assert report["monitor_events"].get("admission_unbounded") == 1
        assert report["monitor_events"].get("admission_bounded") == 2
