"""The services' gunicorn workers: the lingering gthread's setting, read from the environment, and
what the promptly closing sync worker looks at before it closes."""

from __future__ import annotations

import socket

import pytest

from sportapp_core.adapters.settings import SettingsError
from sportapp_core.adapters.web.gunicorn import (
    DEFAULT_LINGER_MS,
    LINGER_VARIABLE,
    LINGERING_GTHREAD,
    PROMPTLY_CLOSING_SYNC,
    keepalive_linger_s,
    service_settings,
)
from sportapp_core.adapters.web.gunicorn_worker import (
    LingeringThreadWorker,
    PromptlyClosingSyncWorker,
    carries_no_body,
    nothing_more_came,
)
from sportapp_stack.config import find_root
from sportapp_stack.programs import worker_settings


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


@pytest.mark.parametrize(
    ("headers", "bodiless"),
    [
        ([("HOST", "consulta")], True),
        ([("HOST", "consulta"), ("CONTENT-LENGTH", "0")], True),
        ([("CONTENT-LENGTH", "12")], False),
        ([("TRANSFER-ENCODING", "chunked")], False),
    ],
)
def test_a_request_carries_no_body_unless_it_declares_one(
    headers: list[tuple[str, str]], bodiless: bool
) -> None:
    assert carries_no_body(headers) is bodiless


def test_nothing_more_came_until_the_peer_sends_something() -> None:
    ours, peer = socket.socketpair()
    with ours, peer:
        assert nothing_more_came(ours)
        peer.sendall(b"GET /next")
        assert not nothing_more_came(ours)
        assert ours.recv(64) == b"GET /next"  # only looked at, still there to read
        peer.close()
        assert nothing_more_came(ours)  # the peer's end: nothing left to reset
        ours.close()
        assert not nothing_more_came(ours)  # broken: left to gunicorn's graceful close


def test_consulta_runs_the_promptly_closing_sync_worker() -> None:
    module, _, name = PROMPTLY_CLOSING_SYNC.rpartition(".")
    assert (module, name) == (PromptlyClosingSyncWorker.__module__, PromptlyClosingSyncWorker.__name__)
    assert worker_settings(find_root(), "consulta")["worker_class"] == PROMPTLY_CLOSING_SYNC
