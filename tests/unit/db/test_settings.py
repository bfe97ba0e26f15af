"""db's settings: the event stream's timings from the environment, refused when they make no sense."""

from __future__ import annotations

import pytest

from sportapp_core.adapters.settings import SettingsError, settings_from_env
from sportapp_db.settings import DbSettings


def test_the_event_stream_s_timings_come_from_the_environment() -> None:
    settings = settings_from_env(
        DbSettings, {"SPORTAPP_EVENT_STREAM_LASTS_S": "60", "SPORTAPP_EVENT_STREAM_GATHER_S": "0"}
    )

    assert (settings.event_stream_lasts_s, settings.event_stream_gather_s) == (60.0, 0.0)


@pytest.mark.parametrize(
    ("variable", "value"),
    [("SPORTAPP_EVENT_STREAM_GATHER_S", "-0.01"), ("SPORTAPP_EVENT_STREAM_LASTS_S", "0")],
)
def test_a_timing_that_makes_no_sense_is_refused(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        settings_from_env(DbSettings, {variable: value})
