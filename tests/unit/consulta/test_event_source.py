"""consulta's choice of event source, by SPORTAPP_EVENT_TRANSPORT (no connection is made)."""

from __future__ import annotations

import pytest

from sportapp_consulta.bootstrap import event_source
from sportapp_consulta.settings import ConsultaSettings
from sportapp_core.adapters.http.feed_client import DbServiceFeed
from sportapp_core.adapters.redis_streams import RedisStreamSource
from sportapp_core.adapters.settings import SettingsError, settings_from_env


def test_the_db_service_s_feed_is_the_default() -> None:
    assert isinstance(event_source(ConsultaSettings()), DbServiceFeed)


def test_redis_transport_reads_the_stream_as_one_consumer_per_process() -> None:
    settings = settings_from_env(
        ConsultaSettings,
        {"SPORTAPP_EVENT_TRANSPORT": "redis", "SPORTAPP_REDIS_URL": "redis://127.0.0.1:1/0"},
    )

    source = event_source(settings)

    assert isinstance(source, RedisStreamSource)
    assert source.consumer.startswith("consulta-")


def test_an_unknown_transport_is_refused() -> None:
    with pytest.raises(SettingsError, match="SPORTAPP_EVENT_TRANSPORT"):
        settings_from_env(ConsultaSettings, {"SPORTAPP_EVENT_TRANSPORT": "kafka"})
