"""SharedMetrics: the folder of prometheus_client's multiprocess files, as gunicorn's master sets it up."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sportapp_core.adapters.web.gunicorn import MULTIPROCESS_VARIABLE, SharedMetrics
from sportapp_stack.config import find_root
from sportapp_stack.programs import worker_settings


def test_a_given_folder_is_made_if_missing_and_emptied_of_old_samples(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "metrics"
    monkeypatch.setenv(MULTIPROCESS_VARIABLE, str(folder))
    metrics = SharedMetrics()

    metrics.start()
    assert folder.is_dir()

    # A killed instance's files: its live gauges would count among the new workers' otherwise.
    (folder / "gauge_livemax_4242.db").write_bytes(b"old")
    (folder / "counter_4242.db").write_bytes(b"old")
    (folder / "notes.txt").write_text("not prometheus_client's")
    metrics.start()
    metrics.end()

    assert sorted(path.name for path in folder.iterdir()) == ["notes.txt"]


def test_without_a_given_folder_a_temporary_one_lives_from_start_to_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(MULTIPROCESS_VARIABLE, raising=False)
    metrics = SharedMetrics()

    metrics.start()
    made = Path(os.environ[MULTIPROCESS_VARIABLE])
    assert made.is_dir()
    (made / "counter_1.db").write_bytes(b"samples")

    metrics.end()
    assert not made.exists()
    assert MULTIPROCESS_VARIABLE not in os.environ


def test_consulta_runs_a_worker_per_core_of_the_machines_it_is_measured_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SPORTAPP_WORKERS", raising=False)
    assert worker_settings(find_root(), "consulta")["workers"] == 2
    monkeypatch.setenv("SPORTAPP_WORKERS", "1")
    assert worker_settings(find_root(), "consulta")["workers"] == 1
