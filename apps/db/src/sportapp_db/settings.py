"""The db service's settings, from ``SPORTAPP_*`` environment variables."""

from __future__ import annotations

from dataclasses import dataclass

from sportapp_core.adapters.settings import SettingsError


@dataclass(frozen=True, slots=True)
class DbSettings:
    """Where the write store lives and how this instance names itself."""

    instance: str = "db"
    store_url: str = "sqlite:///var/sportapp.db"
    log_level: str = "INFO"
    max_body_bytes: int = 16 * 1024
    # A follower of the event stream is let go after this long and opens it again where it is:
    # no request lives for ever (a worker recycles, a stuck reader is noticed).
    event_stream_lasts_s: float = 300.0
    # After a batch of events, a follower's next one is read this long later at the earliest, so
    # that the registrations committed meanwhile travel together (see follow_feed): the feed costs
    # db and the reader a batch, not an event, each, for at most this much more read-model lag.
    event_stream_gather_s: float = 0.04

    def __post_init__(self) -> None:
        if self.event_stream_lasts_s <= 0:
            raise SettingsError(
                f"SPORTAPP_EVENT_STREAM_LASTS_S={self.event_stream_lasts_s} must be more than 0"
            )
        if self.event_stream_gather_s < 0:
            raise SettingsError(
                f"SPORTAPP_EVENT_STREAM_GATHER_S={self.event_stream_gather_s} must be 0 (none) or more"
            )
