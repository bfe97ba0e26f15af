"""The db service's settings, from ``SPORTAPP_*`` environment variables."""

from __future__ import annotations

from dataclasses import dataclass


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
