"""The report's figures and the hypothesis checks, on runs built by hand."""

from __future__ import annotations

import pytest

from sportapp_lab.analysis import build_report, failure_causes, percentile
from sportapp_lab.timings import count_false_failovers
from sportapp_lab.verdict import Expectations, hypothesis_holds
from tests.unit.lab.synthetic import (
    clean_verification,
    event,
    failover_events,
    fault,
    primary_killed_at_10,
    record,
    steady_run,
)

CLEAN = clean_verification(acknowledged=300)


def _report(records, **kwargs):
    kwargs.setdefault("scenario", "test")
    kwargs.setdefault("masking", True)
    return build_report(records, **kwargs)


def test_percentiles_are_nearest_rank_so_they_are_observed_values() -> None:
    values = [float(v) for v in range(1, 101)]

    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([], 99) is None


def test_latency_summary_covers_every_sent_registration_including_failures() -> None:
    records = [record(i / 10, latency_ms=float(i + 1)) for i in range(99)]
    records.append(record(9.9, latency_ms=5000.0, status=None, served_by=None, error="timeout"))
    records.append(record(9.95, kind="read", latency_ms=99999.0, status=200, served_by="consulta"))

    latency = _report(records)["latency_ms"]

    assert latency == {"p50": 50.0, "p95": 95.0, "p99": 99.0, "max": 5000.0, "count": 100}
    assert _report(records)["latency_ok_ms"]["max"] == 99.0


def test_availability_is_over_registrations_and_also_reported_overall() -> None:
    registrations = steady_run(10, 10, lambda t: {"status": 503} if 2.0 <= t < 2.5 else {})
    reads = [record(t / 2, kind="read", status=200, served_by="consulta") for t in range(20)]
    reads.append(record(5.0, kind="read", status=None, served_by=None, error="connection"))

    report = _report(registrations + reads)

    assert report["availability"] == pytest.approx(95 / 100)
    assert report["availability_reads"] == pytest.approx(20 / 21)
    assert report["availability_overall"] == pytest.approx(115 / 121)
    assert report["requests_total"] == 121
    assert report["requests_ok"] == 115
    assert report["requests_failed"] == {"total": 6, "status": {"503": 5}, "connection": 1}


def test_invalid_addresses_answered_422_are_correct_and_stay_out_of_availability() -> None:
    records = steady_run(2, 10)
    records.append(record(0.55, status=422, served_by="registro-primary", invalid_email=True))
    records.append(record(1.55, status=None, served_by=None, error="connection", invalid_email=True))

    report = _report(records)

    assert report["availability"] == 1.0
    assert report["invalid_emails"]["sent"] == 2
    assert report["invalid_emails"]["rejected_422"] == 1
    assert report["invalid_emails"]["not_rejected"]["connection"] == 1


def test_failure_causes_split_http_statuses_from_transport_errors() -> None:
    records = [
        record(0, status=503),
        record(1, status=503),
        record(2, status=409),
        record(3, status=None, error="timeout"),
        record(4, status=None, error="generator-saturated"),
        record(5),
    ]

    assert failure_causes(records) == {
        "total": 5,
        "status": {"409": 1, "503": 2},
        "timeout": 1,
        "generator-saturated": 1,
    }


def test_a_primary_kill_yields_detection_failover_and_recovery_times() -> None:
    records = steady_run(30, 10, primary_killed_at_10)

    report = _report(records, events=failover_events(), faults=[fault(10.0)], verification=CLEAN)

    assert report["detection_ms"] == pytest.approx(400.0)
    # The first registration sent after the fault that the backup answered: due 10.5 s, 30 ms.
    assert report["failover_ms"] == pytest.approx(530.0)
    # The restarted primary is ready again (redundancy restored) 5.5 s after the kill.
    assert report["recovery_ms"] == pytest.approx(5_500.0)
    assert report["service_restored_ms"] == pytest.approx(530.0)
    assert report["faults"][0]["target"] == "registro-primary"
    assert report["served_by"] == {"registro-primary": 200, "(none)": 5, "registro-backup": 95}
    assert report["false_failovers"] == 0
    assert report["failovers"] == 1
    assert hypothesis_holds(report, {"min_availability": 0.98}) == []


def test_a_fault_the_monitor_never_reports_has_no_detection_time_and_fails_its_check() -> None:
    records = steady_run(30, 10, primary_killed_at_10)
    events = [e for e in failover_events() if e["event"] != "down"]

    report = _report(records, events=events, faults=[fault(10.0)], verification=CLEAN)
    failed = hypothesis_holds(report, Expectations(min_availability=0.98, max_detection_ms=2000))

    assert report["detection_ms"] is None
    assert failed == ["detection_ms was not measured (fault to the monitor's down event)"]


def test_a_down_event_before_the_fault_does_not_count_as_its_detection() -> None:
    events = [event("down", 5.0, target="registro-primary"), event("down", 12.5, target="registro-primary")]

    report = _report(steady_run(20, 10), events=events, faults=[fault(10.0)])

    assert report["detection_ms"] == pytest.approx(2500.0)


def test_a_db_fault_recovers_at_the_first_success_after_the_last_failure() -> None:
    records = steady_run(15, 10, lambda t: {"status": 503} if 5.0 <= t < 8.0 else {})

    report = _report(records, faults=[fault(5.0, target="db", name="stop-db")])

    # Last failure due at 7.9 s; the next request (8.0 s) succeeds after 20 ms.
    assert report["recovery_ms"] == pytest.approx(3020.0)
    # db never answers registrations itself: there is no failover to measure.
    assert report["failover_ms"] is None


def test_a_fault_nothing_noticed_has_recovered_at_once() -> None:
    report = _report(steady_run(10, 10), faults=[fault(5.0, target="consulta")])

    assert report["service_restored_ms"] == 0.0
    assert report["recovery_ms"] == 0.0


def test_a_service_that_never_comes_back_has_no_recovery_time() -> None:
    records = steady_run(10, 10, lambda t: {"status": 503} if t >= 5.0 else {})

    assert _report(records, faults=[fault(5.0, target="db")])["recovery_ms"] is None


def test_every_failover_in_a_run_without_faults_is_false() -> None:
    events = [
        event("failover_started", 3.0, source="registro-primary", to="registro-backup"),
        event("failback_started", 9.0, source="registro-backup", to="registro-primary"),
        event("failover_started", 12.0, source="registro-primary", to="registro-backup"),
    ]

    assert count_false_failovers(events, []) == 2


def test_a_failover_is_explained_only_by_a_recent_fault_on_the_instance_it_leaves() -> None:
    started = [event("failover_started", 13.0, source="registro-primary", to="registro-backup")]

    assert count_false_failovers(started, [fault(10.0)]) == 0
    assert count_false_failovers(started, [fault(10.0, target="registro-backup")]) == 1
    assert count_false_failovers(started, [fault(7.5)]) == 1  # more than 5 s before
    assert count_false_failovers(started, [fault(13.5)]) == 1  # after the failover began


def test_false_failovers_fail_the_hypothesis() -> None:
    events = [event("failover_started", 3.0, source="registro-primary", to="registro-backup")]

    report = _report(steady_run(10, 10), events=events, verification=CLEAN)

    assert report["false_failovers"] == 1
    assert hypothesis_holds(report) == [
        "false_failovers 1 > 0 (failovers without a fault)",
        "incidents_before_fault 1 > 0 (down, restart or failover during the load before any fault)",
    ]


def test_a_clean_run_holds_the_hypothesis() -> None:
    report = _report(steady_run(10, 10), verification=CLEAN, read_model_lags_ms=[5.0, 8.0, 50.0])

    assert hypothesis_holds(report) == []
    assert report["registrations_lost"] == 0
    assert report["read_model_lag_ms"] == {"p50": 8.0, "p99": 50.0, "max": 50.0, "count": 3}


def test_low_availability_lost_and_duplicated_registrations_each_fail_a_check() -> None:
    records = steady_run(10, 10, lambda t: {"status": 503} if t < 1.0 else {})
    verification = {**CLEAN, "acknowledged": 90, "lost": 2, "duplicated": 1}

    failed = hypothesis_holds(_report(records, verification=verification))

    assert len(failed) == 3
    assert failed[0].startswith("availability 0.9 < 0.999")
    assert failed[1].startswith("registrations_lost 2 > 0")
    assert failed[2].startswith("registrations_duplicated 1 > 0")


def test_loss_that_was_never_verified_does_not_pass_as_zero() -> None:
    failed = hypothesis_holds(_report(steady_run(5, 10)))

    assert "registrations_lost was not measured (acknowledged but not stored)" in failed
    assert "registrations_duplicated was not measured (one registration stored more than once)" in failed


def test_a_saturated_generator_makes_the_run_invalid_evidence() -> None:
    records = [*steady_run(5, 10), record(5.0, status=None, served_by=None, error="generator-saturated")]

    failed = hypothesis_holds(_report(records, verification=CLEAN), {"min_availability": 0.9})

    assert len(failed) == 1
    assert failed[0].startswith("generator_saturated 1 > 0")


def test_latency_and_timing_thresholds_can_be_required() -> None:
    records = steady_run(30, 10, primary_killed_at_10)
    report = _report(records, events=failover_events(), faults=[fault(10.0)], verification=CLEAN)

    failed = hypothesis_holds(
        report,
        {"min_availability": 0.98, "max_failover_ms": 500, "max_recovery_ms": 5000, "max_p99_ms": 1000},
    )

    assert failed == [
        "failover_ms 530 > 500 (fault to the first registration served elsewhere)",
        "recovery_ms 5500 > 5000 (fault to the instance ready again, or restored service)",
    ]


def test_unknown_expectations_are_refused() -> None:
    with pytest.raises(ValueError, match="min_availabilty"):
        hypothesis_holds(_report(steady_run(1, 10)), {"min_availabilty": 0.9})


def test_retries_served_by_parameters_and_versions_are_reported() -> None:
    records = [record(0, retries=2), record(0.1, retries=1, served_by="registro-backup"), record(0.2)]

    report = _report(
        records,
        scenario="kill-primary",
        masking=False,
        parameters={"rate": 50},
        versions={"python": "3.11"},
    )

    assert report["client_retries"] == 3
    assert report["served_by"] == {"registro-primary": 2, "registro-backup": 1}
    assert report["scenario"] == "kill-primary"
    assert report["masking"] is False
    assert report["parameters"] == {"rate": 50}
    assert report["versions"] == {"python": "3.11"}
    assert report["registrations_acknowledged"] == 3  # from the records when not verified


def test_failures_are_counted_in_the_phase_they_fell_in() -> None:
    records = steady_run(30, 10, primary_killed_at_10)

    report = _report(records, events=failover_events(), faults=[fault(10.0)], verification=CLEAN)

    phases = report["failures_by_phase"]
    assert {name: phase["failed"]["total"] for name, phase in phases.items()} == {
        "before_fault": 0,
        "fault_to_recovery": 5,
        "after_recovery": 0,
    }
    assert phases["fault_to_recovery"]["failed"]["status"] == {"502": 5}
    assert sum(phase["requests"] for phase in phases.values()) == report["registrations"]["total"]


def test_a_run_without_a_fault_has_one_phase() -> None:
    report = _report(steady_run(5, 10, lambda t: {}), verification=CLEAN)

    assert list(report["failures_by_phase"]) == ["no_fault"]


def test_a_fault_never_recovered_from_has_no_after_recovery_phase() -> None:
    events = [e for e in failover_events() if e["event"] != "ready"]

    report = _report(steady_run(30, 10, primary_killed_at_10), events=events, faults=[fault(10.0)])

    assert report["recovery_ms"] is None
    assert set(report["failures_by_phase"]) == {"before_fault", "fault_to_recovery"}


def test_incidents_before_the_load_refute_the_run_as_a_start_that_was_not_clean() -> None:
    startup = [
        event("down", -5.0, target="registro-primary", reason="2 misses"),
        event("restart_issued", -4.9, target="registro-primary"),
        event("up", -3.0, target="registro-primary"),
    ]

    report = _report(steady_run(5, 10, lambda t: {}), events=startup, verification=CLEAN)

    assert report["startup_incidents"] == 2
    assert hypothesis_holds(report) == [
        "startup_incidents 2 > 0 (something failed before the load began: the stack did not start cleanly)"
    ]


def test_incidents_during_the_load_before_the_fault_refute_the_run() -> None:
    events = [
        event("down", 4.0, target="db", reason="2 misses"),
        event("up", 4.5, target="db"),
        *failover_events(),
    ]

    report = _report(steady_run(30, 10, primary_killed_at_10), events=events, faults=[fault(10.0)])

    assert report["startup_incidents"] == 0
    assert report["incidents_before_fault"] == 1, "the fault's own down comes after it, not before"
    assert "incidents_before_fault 1 > 0 (down, restart or failover during the load before any fault)" in (
        hypothesis_holds(report)
    )


def test_in_a_run_without_a_fault_every_incident_during_the_load_counts() -> None:
    events = [event("down", 2.0, target="registro-primary", reason="2 misses")]

    report = _report(steady_run(5, 10, lambda t: {}), events=events, verification=CLEAN)

    assert report["incidents_before_fault"] == 1


def test_away_runs_from_the_fault_to_the_monitor_s_next_up_of_the_part() -> None:
    events = [
        event("up", 5.0, target="db"),  # an up before the fault is not the way back
        event("down", 10.6, target="db", reason="2 misses"),
        event("up", 11.8, target="db"),
        event("up", 30.0, target="db"),
    ]
    report = _report(steady_run(30, 10, lambda t: {}), events=events, faults=[fault(10.0, target="db")])

    assert report["away_ms"] == pytest.approx(1800.0)
    assert report["faults"][0]["away_ms"] == pytest.approx(1800.0)


def test_a_part_never_seen_down_was_not_away() -> None:
    events = [event("up", 11.0, target="db")]
    report = _report(steady_run(30, 10, lambda t: {}), events=events, faults=[fault(10.0, target="db")])

    assert report["away_ms"] is None


@pytest.mark.parametrize(
    ("count", "check"),
    [
        ("refused_but_stored",
         "registrations_refused_but_stored 7 > 0 (stored although the client was refused (4xx))"),
        ("acknowledged_id_mismatch",
         "registrations_id_mismatch 7 > 0 (acknowledged with another user id than the one stored)"),
        ("acknowledged_unverifiable",
         "registrations_unverifiable 7 > 0 (acknowledged without a recorded address to look up)"),
        ("stored_unacknowledged",
         "registrations_stored_unacknowledged 7 > 0 (stored although the client saw a failure)"),
    ],
)
def test_every_verification_figure_that_reveals_a_wrong_answer_is_checked(count: str, check: str) -> None:
    report = _report(steady_run(5, 10, lambda t: {}), verification={**CLEAN, count: 7})

    assert hypothesis_holds(report) == [check]
