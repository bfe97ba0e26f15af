"""``sportapp experiment`` on a real stack: its exit code says whether the hypothesis held, and
``--expect`` changes what it is held to."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from sportapp_stack.cli import main
from tests.conftest import REPO, work_dir

pytestmark = [pytest.mark.integration, pytest.mark.stack]


def test_exit_0_when_the_hypothesis_held_and_1_with_the_check_an_expectation_failed() -> None:
    out_dir = work_dir("sportapp-exp-cli-")
    base = ["experiment", "--scenario", "baseline", "--duration", "4", "--rate", "10", "--root", str(REPO)]
    try:
        held = CliRunner().invoke(main, [*base, "--out", str(out_dir)])
        held_report = json.loads((out_dir / "report.json").read_text())
        # No machine answers within a microsecond: the same run, held to that, is refuted. Into
        # the same folder: what the first run left there must not count in the second.
        refuted = CliRunner().invoke(main, [*base, "--out", str(out_dir), "--expect", "p99_ms=0.001"])
        refuted_report = json.loads((out_dir / "report.json").read_text())
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)

    assert held.exit_code == 0, held.output
    assert "HELD" in held.output
    assert held_report["failed_checks"] == []
    assert refuted.exit_code == 1, refuted.output
    assert "REFUTED" in refuted.output
    assert [check for check in refuted_report["failed_checks"] if "p99" in check]
    assert refuted_report["registrations_lost"] == 0
    assert refuted_report["monitor_events"]["monitor_started"] == 1, "the first run's events were read"
    assert refuted_report["startup_incidents"] == 0
