"""The figures and the Markdown report are written where asked, and say the verdict first."""

from __future__ import annotations

from pathlib import Path

from sportapp_lab.analysis import build_report
from sportapp_lab.report.markdown import write_report_md
from sportapp_lab.report.plots import write_figures
from sportapp_lab.verdict import hypothesis_holds
from tests.unit.lab.synthetic import (
    clean_verification,
    failover_events,
    fault,
    primary_killed_at_10,
    record,
    steady_run,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run():
    records = steady_run(30, 10, primary_killed_at_10)
    records += [record(t / 2, kind="read", status=200, served_by="consulta") for t in range(60)]
    records.append(record(12.0, status=None, served_by=None, error="timeout", latency_ms=10_000.0))
    return records, failover_events(), [fault(10.0)]


def test_figures_are_png_files_in_the_output_folder(tmp_path: Path) -> None:
    records, events, faults = _run()

    figures = write_figures(records, events, faults, tmp_path / "figures")

    assert set(figures) == {"timeline", "throughput"}
    for path in figures.values():
        assert path.parent == tmp_path / "figures"
        assert path.read_bytes().startswith(PNG_MAGIC)
        assert path.stat().st_size > 10_000


def test_figures_of_an_empty_run_are_still_written(tmp_path: Path) -> None:
    figures = write_figures([], [], [], tmp_path)

    assert all(path.exists() for path in figures.values())


def test_the_report_states_a_refuted_hypothesis_and_lost_registrations_at_the_top(tmp_path: Path) -> None:
    records, events, faults = _run()
    verification = {"acknowledged": 295, "lost": 3, "duplicated": 0, "stored_unacknowledged": 1}
    report = build_report(records, scenario="kill-primary", masking=True, events=events, faults=faults,
                          verification=verification, parameters={"rate": 10})
    figures = write_figures(records, events, faults, tmp_path / "figures")

    path = write_report_md(report, hypothesis_holds(report), figures, tmp_path / "report.md")

    text = path.read_text()
    head = text[: text.index("## Figures")]
    assert "THE HYPOTHESIS WAS REFUTED" in head
    assert "3 ACKNOWLEDGED REGISTRATION(S) LOST" in head
    assert "registrations_lost 3 > 0" in head
    assert "(figures/timeline.png)" in text
    assert "(figures/throughput.png)" in text
    assert "| detection (fault to monitor's down) | 400.0 ms |" in text
    # The timeout at 12 s delays "service restored" past the failover; recovery is the restarted
    # primary ready again, 5.5 s after the kill.
    assert "| kill | registro-primary | 400.0 | 530.0 | 5,500.0 | 2,130.0 |" in text
    assert "| from the fault to recovery |" in text
    assert "Load:" not in text, "a report built without a load rate says nothing of it"


def test_the_report_of_a_clean_run_says_it_held(tmp_path: Path) -> None:
    records = steady_run(5, 10)
    verification = clean_verification(acknowledged=50)
    report = build_report(records, scenario="baseline", masking=False, verification=verification)

    text = write_report_md(report, hypothesis_holds(report), {}, tmp_path / "report.md").read_text()

    assert text.startswith("# Experiment `baseline` (masking off)")
    assert "THE HYPOTHESIS HELD" in text
    assert "No registration was lost or duplicated (50 acknowledged)." in text
    assert "No fault was injected in this run." in text
    assert "| no fault injected | 50 | 0 | — |" in text


def test_the_report_states_the_capacity_and_the_share_offered(tmp_path: Path) -> None:
    report = build_report(steady_run(5, 10), scenario="baseline", masking=True)
    report["capacity"] = {
        "per_s": 64.0, "method": "measured", "age_s": 0.0,
        "machine": {"cpus": 2, "cpu": "Some CPU"},
    }
    report["rate_per_s"] = 40.0
    report["utilisation"] = 0.5

    text = write_report_md(report, [], {}, tmp_path / "report.md").read_text()

    assert "Load: 40.0 requests/s, against a capacity of **64.0 registrations/s**" in text
    assert "measured in this run by a step ramp through the gateway; 2 cores, Some CPU" in text
    assert "| registrations offered, share of the capacity | 50.0000% |" in text
