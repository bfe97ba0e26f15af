"""The relay's settings, from ``SPORTAPP_*`` environment variables."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RelayProcessSettings:
    """Which write store to read, which Redis stream to publish to, and how much at a time."""

    instance: str = "relay"
    store_url: str = "sqlite:///var/sportapp.db"
    redis_url: str = "redis://127.0.0.1:6379/0"
    event_stream: str = "sportapp:events"
    relay_batch_size: int = 500
    # How long a round waits on the outbox (polled every 20 ms) before it asks Redis again.
    relay_wait_s: float = 1.0
    log_level: str = "INFO"
    # Touched after every round that worked: the container's liveness check reads its age.
    heartbeat_file: str = ""
