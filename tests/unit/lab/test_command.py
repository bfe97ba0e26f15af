"""The ``experiment`` and ``report`` commands: what they refuse, how they fail, what they exit with.

The runs themselves are faked here (run_experiment is replaced); tests/integration/lab runs
the real thing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sportapp_lab import cli as command
from sportapp_lab.experiment import ExperimentOptions
from sportapp_lab.jmeter.run import JMeterFailed
from sportapp_stack.cli import main
from tests.unit.lab.test_jtl import HEADER, HEADER_WITH_VARIABLES, ROWS, ROWS_WITH_VARIABLES


def test_jmeter_load_refuses_a_scenario_whose_fault_it_cannot_send() -> None:
    result = CliRunner().invoke(main, ["experiment", "--scenario", "seed-crash", "--load", "jmeter"])

    assert result.exit_code == 1
    assert "cannot run seed-crash" in result.output
    assert "--load python" in result.output


def test_jmeter_load_refuses_all_because_all_includes_seed_crash() -> None:
    result = CliRunner().invoke(main, ["experiment", "--scenario", "all", "--load", "jmeter"])

    assert result.exit_code == 1
    assert "seed-crash" in result.output


def test_a_jmeter_failure_ends_in_a_message_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_run(options: ExperimentOptions, *_: object) -> None:
        raise JMeterFailed("jmeter exited 1 without results in results.jtl; log tail:\nboom")

    monkeypatch.setattr(command, "run_experiment", failing_run)

    result = CliRunner().invoke(main, ["experiment", "--scenario", "baseline", "--rate", "5"])

    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), result.exception
    assert "baseline: jmeter exited 1" in result.output
    assert "Traceback" not in result.output


def test_an_unknown_expectation_is_refused_with_the_names_there_are() -> None:
    result = CliRunner().invoke(main, ["experiment", "--expect", "speed=fast"])

    assert result.exit_code == 2
    assert "availability" in result.output


def test_report_from_a_jtl_that_held_exits_0_and_says_nothing_was_verified(tmp_path: Path) -> None:
    jtl = tmp_path / "results.jtl"
    # Only the successful samples: every registration 201, every read 200.
    jtl.write_text("\n".join([HEADER_WITH_VARIABLES, ROWS_WITH_VARIABLES[0], ROWS_WITH_VARIABLES[1]]) + "\n")

    result = CliRunner().invoke(main, ["report", "--jtl", str(jtl), "--out", str(tmp_path / "out")])

    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["failed_checks"] == []
    assert report["verification"].startswith("not performed")
    assert report["registrations"] == {"total": 1, "ok": 1, "failed": 0}
    assert (tmp_path / "out" / "report.md").stat().st_size > 0


def test_report_from_a_jtl_with_failures_exits_1_and_names_the_check(tmp_path: Path) -> None:
    jtl = tmp_path / "results.jtl"
    jtl.write_text("\n".join([HEADER, *ROWS]) + "\n")  # refused, timed out and 503 registrations

    result = CliRunner().invoke(main, ["report", "--jtl", str(jtl), "--out", str(tmp_path / "out")])

    assert result.exit_code == 1
    assert "availability" in result.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["registrations"]["failed"] == 3
    assert any("availability" in check for check in report["failed_checks"])

