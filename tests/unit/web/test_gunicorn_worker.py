"""The lingering gthread worker's setting, read from the environment."""

from __future__ import annotations

import pytest

from sportapp_core.adapters.settings import SettingsError
from sportapp_core.adapters.web.gunicorn import (
    DEFAULT_LINGER_MS,
    LINGER_VARIABLE,
    LINGERING_GTHREAD,
    keepalive_linger_s,
    service_settings,
)
from sportapp_core.adapters.web.gunicorn_worker import LingeringThreadWorker


def test_the_linger_defaults_to_a_little_past_the_monitors_interval() -> None:
    assert keepalive_linger_s({}) == DEFAULT_LINGER_MS / 1000
    assert keepalive_linger_s({LINGER_VARIABLE: " "}) == DEFAULT_LINGER_MS / 1000


@pytest.mark.parametrize(("raw", "seconds"), [("0", 0.0), ("40", 0.04), ("1500", 1.5)])
def test_the_linger_is_read_in_milliseconds_and_zero_turns_it_off(raw: str, seconds: float) -> None:
    assert keepalive_linger_s({LINGER_VARIABLE: raw}) == seconds


@pytest.mark.parametrize("raw", ["-1", "0.5", "soon"])
def test_a_linger_that_is_not_a_whole_number_of_milliseconds_at_least_zero_is_refused(raw: str) -> None:
    with pytest.raises(SettingsError, match=LINGER_VARIABLE):
        keepalive_linger_s({LINGER_VARIABLE: raw})


def test_threaded_services_run_the_lingering_worker_unless_they_name_another() -> None:
    assert service_settings("app:app", default_port=1)["worker_class"] == LINGERING_GTHREAD
    assert service_settings("app:app", default_port=1, worker_class="sync")["worker_class"] == "sync"
    module, _, name = LINGERING_GTHREAD.rpartition(".")
    assert (module, name) == (LingeringThreadWorker.__module__, LingeringThreadWorker.__name__)


def test_a_bad_linger_stops_the_configuration_before_a_worker_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(LINGER_VARIABLE, "soon")
    with pytest.raises(SettingsError, match=LINGER_VARIABLE):
        service_settings("app:app", default_port=1)
    # A service on another worker class does not read it.
    assert service_settings("app:app", default_port=1, worker_class="sync")["worker_class"] == "sync"
